"""Patient search over 1,000,000 patients of one clinic on PostgreSQL (pg_trgm indexes), as the patient list runs
it: `patient_search` for a registrar, then the first page of 25 and the total count.

Three kinds of query, each asked for patients that exist (the result is checked to contain the patient):
  name   — "<family> <given>" in the spelling the patient was stored in (Cyrillic or Latin);
  phone  — the last 6 digits of a patient's mobile number, typed with spaces ("12 34 56");
  typo   — the family name with two neighbouring letters swapped (no exact match: the pg_trgm typo pass).

The rows are written with COPY (the way a data migration would load them); `search_text` and card numbers are
computed by the same functions `Patient.save()` uses. Then the search indexes' pending lists are merged, as an import
does when it finishes; between merges a search reads at most 256 kB of pending entries per index (migration 0010).

Target: p95 ≤ 50 ms for each kind.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

PATIENTS = 1_000_000
QUERIES = 150  # per kind, after WARMUP
WARMUP = 20
ROOTS_CYRILLIC = [
    "Иван", "Петр", "Сидор", "Георги", "Димитр", "Кузнец", "Смирн", "Попов", "Соколов", "Лебед", "Козл", "Новик",
    "Мороз", "Волк", "Алекс", "Павл", "Семен", "Голуб", "Виноград", "Богдан", "Воробь", "Фёдор", "Михайл", "Беляв",
    "Тарас", "Белов", "Комар", "Орл", "Киселев", "Макар", "Андре", "Ковал", "Ильин", "Гусев", "Титов", "Кузьмин",
    "Кудрявц", "Баран", "Куликов", "Алексеев", "Степан", "Яковл", "Сорокин", "Сергеев", "Романов", "Захаров",
    "Борисов", "Королев", "Герасим", "Пономар", "Григор", "Лазар", "Медвед", "Ершов", "Никитин", "Соболев", "Рябов",
    "Поляков", "Цвета", "Данил", "Жук", "Фролов", "Журавл", "Николов", "Крылов", "Максим", "Сидоренк", "Осипов",
    "Белоус", "Федотов", "Дорофеев", "Егоров", "Матвеев", "Бобров", "Дмитриев", "Калинин", "Анисимов", "Петух",
    "Антонов", "Тимоф", "Никифор", "Веселов", "Филиппов", "Марков", "Большак", "Суханов", "Миронов", "Ширяев",
    "Христов", "Тодор", "Стоян", "Колев", "Йордан", "Ангелов", "Атанас", "Илиев", "Маринов", "Василев",
]  # fmt: skip
SUFFIXES_CYRILLIC = ["", "ов", "ев", "ова", "ева", "ский", "ска", "ин", "ина", "енко"]
ROOTS_LATIN = [
    "Smith", "Brown", "Novak", "Muller", "Garcia", "Taylor", "Wilson", "Martin", "Anders", "Thomps", "White",
    "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott", "Green", "Baker",
    "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Robert", "Carter", "Phillips", "Evans", "Turner", "Torres",
    "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peters", "Cooper",
    "Reed", "Bailey", "Bell", "Gomez", "Kelly",
]  # fmt: skip
SUFFIXES_LATIN = ["", "son", "er", "s", "man", "ford", "ton", "ley"]
GIVEN_CYRILLIC = [
    "Иван", "Пётр", "Мария", "Анна", "Елена", "Ольга", "Сергей", "Андрей", "Наталья", "Дмитрий", "Георги", "Йордан",
    "Десислава", "Цветелина", "Николай", "Татьяна", "Светлана", "Алексей", "Екатерина", "Борис", "Стефан", "Радка",
]  # fmt: skip
GIVEN_LATIN = ["John", "Olivia", "Jan", "Emma", "Lucas", "Sophie", "Mark", "Laura", "Peter", "Anna", "James", "Kate"]
COLUMNS = [
    "organisation_id", "card_number", "family_name", "given_name", "middle_name", "birth_date", "sex", "phone", "email",
    "address", "language", "preferred_channel", "marketing_consent", "source", "status", "status_reason", "allergies",
    "is_vip", "special_notes", "search_text", "created_at", "updated_at",
]  # fmt: skip


def _families() -> tuple[list[str], list[str]]:
    cyrillic = [root + suffix for root in ROOTS_CYRILLIC for suffix in SUFFIXES_CYRILLIC]
    latin = [root + suffix for root in ROOTS_LATIN for suffix in SUFFIXES_LATIN]
    return cyrillic, latin


def person(i: int, rng: random.Random, families: tuple[list[str], list[str]]) -> tuple[str, str, str, date, str]:
    """Family name, given name, middle name, birth date and E.164 mobile of patient number i."""
    cyrillic = i % 4 != 0  # three in four in Cyrillic, as in a Bulgarian or Russian clinic
    family = rng.choice(families[0] if cyrillic else families[1])
    given = rng.choice(GIVEN_CYRILLIC if cyrillic else GIVEN_LATIN)
    middle = (rng.choice(GIVEN_CYRILLIC) + "ова") if cyrillic and rng.random() < 0.5 else ""
    birth = date(1935, 1, 1) + timedelta(days=rng.randrange(32_000))
    phone = f"+35988{(i * 7919) % 10_000_000:07d}"  # distinct for every i < 10,000,000
    return family, given, middle, birth, phone


def load(org_id: int, count: int) -> None:
    """COPY the patients and their phone rows into the clinic."""
    from django.db import connection
    from django.utils import timezone

    from kabinet.patients.importing import flush_search_indexes
    from kabinet.patients.models import format_card_number
    from kabinet.patients.searchkeys import name_key

    rng = random.Random(11)
    families = _families()
    now = timezone.now()
    with connection.cursor() as cursor:
        raw: Any = cursor.cursor
        with raw.copy(f"COPY patients_patient ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for i in range(count):
                family, given, middle, birth, phone = person(i, rng, families)
                email = f"p{i}@example.org" if i % 10 < 7 else ""
                copy.write_row(
                    (
                        org_id, format_card_number(1_000 + i), family, given, middle, birth,
                        "female" if given.endswith("a") else "male", phone, email, "", "", "", False, "",
                        "active", "", "", False, "", name_key(family, given, middle)[:1000], now, now,
                    )
                )  # fmt: skip
        cursor.execute(
            "INSERT INTO patients_patientphone (organisation_id, patient_id, number, kind, is_primary, created_at) "
            "SELECT organisation_id, id, phone, 'mobile', true, created_at FROM patients_patient "
            "WHERE organisation_id = %s AND phone <> ''",
            [org_id],
        )
        cursor.execute(
            "INSERT INTO patients_patientemail (organisation_id, patient_id, address, is_primary, created_at) "
            "SELECT organisation_id, id, email, true, created_at FROM patients_patient "
            "WHERE organisation_id = %s AND email <> ''",
            [org_id],
        )
        for table in ("patients_patient", "patients_patientphone", "patients_patientemail", "patients_nameword"):
            cursor.execute(f"ANALYZE {table}")
    # As an import does when it finishes: the search indexes' pending lists merged (patients migration 0010).
    flush_search_indexes()


def swap_typo(word: str, rng: random.Random) -> str:
    """The word with two different neighbouring letters swapped (one edit for the search's distance)."""
    positions = [k for k in range(1, len(word) - 2) if word[k] != word[k + 1]]
    k = rng.choice(positions)
    return word[:k] + word[k + 1] + word[k] + word[k + 2 :]


def run_one(kind: str) -> dict[str, object]:
    url = harness.fresh_database(kind, "search")
    harness.setup_django(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kabinet.patients.models import Patient
    from kabinet.patients.selectors import patient_search, search_page

    clinic = harness.build_clinic(patients=0)
    started = time.perf_counter()
    load(clinic.org.pk, PATIENTS)
    load_seconds = time.perf_counter() - started
    rows = Patient.objects.filter(organisation=clinic.org).count()

    rng = random.Random(5)
    ids = list(Patient.objects.filter(organisation=clinic.org).values_list("pk", flat=True))[::997]
    samples = {
        p.pk: p
        for p in Patient.objects.filter(pk__in=rng.sample(ids, QUERIES + WARMUP)).only(
            "pk", "family_name", "given_name", "phone"
        )
    }
    people = list(samples.values())
    rng.shuffle(people)
    # Words under four letters get no typo allowance: the typo queries use family names of six letters or more.
    typo_people = [p for p in people if len(p.family_name) >= 6]

    def query_for(what: str, patient: Any) -> str:
        if what == "name":
            return f"{patient.family_name} {patient.given_name}"
        if what == "phone":
            tail = patient.phone[-6:]
            return f"{tail[:2]} {tail[2:4]} {tail[4:]}"
        return f"{swap_typo(patient.family_name, rng)} {patient.given_name}"

    figures: dict[str, object] = {"patients": rows, "load_seconds": round(load_seconds, 1)}
    for what in ("name", "phone", "typo"):
        timings: list[float] = []
        found = 0
        totals: list[int] = []
        queries = 0
        for n, patient in enumerate(typo_people if what == "typo" else people):
            text = query_for(what, patient)
            with CaptureQueriesContext(connection) as captured:
                t0 = time.perf_counter()
                found_qs = patient_search(user=clinic.registrar, organisation=clinic.org, query=text)
                page = search_page(found_qs, 1)
                listed = [p.pk for p in page.object_list]
                total = page.paginator.count
                elapsed = time.perf_counter() - t0
            if n < WARMUP:
                continue
            timings.append(elapsed)
            totals.append(total)
            queries = max(queries, len(captured))
            # The patient asked for is among the matches.
            if patient.pk in listed or found_qs.filter(pk=patient.pk).exists():
                found += 1
        stats = harness.summary_ms(timings)
        figures[f"{what}.p50_ms"] = stats["p50_ms"]
        figures[f"{what}.p95_ms"] = stats["p95_ms"]
        figures[f"{what}.max_ms"] = stats["max_ms"]
        figures[f"{what}.found"] = f"{found}/{len(timings)}"
        figures[f"{what}.median_matches"] = sorted(totals)[len(totals) // 2]
        figures[f"{what}.queries"] = queries
        figures[f"target:{what}.p95_ms"] = "<= 50"
    return figures


if __name__ == "__main__":
    harness.per_database("search", run_one, databases=("postgres",))
