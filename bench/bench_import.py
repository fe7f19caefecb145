"""Patient import: a 100,000-row CSV (Cyrillic and Latin names, phones, emails, birth dates, ~1% broken rows)
imported through the service into an empty clinic, then the same file again (every row unchanged).

Target: the first import takes at most 60 seconds.
"""

from __future__ import annotations

import csv
import io
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

ROWS = 100_000
CYRILLIC = (["Иванов", "Петров", "Сидоров", "Георгиев", "Димитров", "Кузнецов"], ["Иван", "Пётр", "Мария", "Анна"])
LATIN = (["Smith", "Brown", "Novak", "Müller", "Garcia", "Taylor"], ["John", "Olivia", "Jan", "Emma", "Lucas"])


def make_csv(rows: int, seed: int = 7) -> tuple[bytes, int]:
    """The file and the number of broken rows in it (no family name, or an impossible phone / email / date)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Фамилия", "Имя", "Отчество", "Дата рождения", "Пол", "Телефон", "Email", "Заметка"])
    broken = 0
    for i in range(rows):
        families, givens = CYRILLIC if i % 2 else LATIN
        family, given = f"{rng.choice(families)}{i}", rng.choice(givens)
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(30_000))
        phone = f"+359 88{i // 1_000_000} {i % 1_000_000:06d}"
        email = f"p{i}@example.org" if rng.random() < 0.7 else ""
        row = [family, given, "", birth.strftime("%d.%m.%Y"), rng.choice(["м", "ж", "m", "f", ""]), phone, email, ""]
        if rng.random() < 0.01:
            broken += 1
            kind = rng.randrange(4)
            if kind == 0:
                row[0] = ""  # no family name: an error row
            elif kind == 1:
                row[5] = "12-34"
            elif kind == 2:
                row[6] = "not an email"
            else:
                row[3] = "31.02.1990"
        writer.writerow(row)
    return out.getvalue().encode("utf-8"), broken


def run_one(kind: str) -> dict[str, object]:
    url = harness.fresh_database(kind, "import")
    harness.setup_django(url)
    from django.core.files.uploadedfile import SimpleUploadedFile

    from kabinet.core.models import Organisation
    from kabinet.patients.importing import patient_import_run, patient_import_start
    from kabinet.patients.models import Patient

    org = Organisation.objects.create(name="Import Clinic", slug=f"import-{time.time_ns()}", default_language="bg")
    data, broken = make_csv(ROWS)

    def run(dry_run: bool = False) -> tuple[float, float, dict[str, int]]:
        started, cpu = time.perf_counter(), time.process_time()
        job = patient_import_start(
            actor=None,
            organisation=org,
            file=SimpleUploadedFile("patients.csv", data),
            dry_run=dry_run,
            enqueue=False,
        )
        job = patient_import_run(job.pk)
        return time.perf_counter() - started, time.process_time() - cpu, job.counts()

    dry_seconds, _, _ = run(dry_run=True)
    seconds, cpu_seconds, counts = run()
    rerun_seconds, _, rerun = run()
    assert rerun["unchanged"] == counts["created"] + counts["updated"], rerun
    return {
        "rows": ROWS,
        "broken_rows_in_file": broken,
        "seconds": round(seconds, 2),
        "rows_per_second": round(ROWS / seconds),
        # CPU time of this process: on a busy machine the wall-clock figure includes waiting for a CPU.
        "cpu_seconds": round(cpu_seconds, 2),
        "dry_run_seconds": round(dry_seconds, 2),
        "rerun_seconds": round(rerun_seconds, 2),
        "created": counts["created"],
        "errors": counts["errors"],
        "rerun_unchanged": rerun["unchanged"],
        "patients_in_db": Patient.objects.filter(organisation=org).count(),
        "target:seconds": "<= 60",
    }


if __name__ == "__main__":
    harness.per_database("import", run_one)
