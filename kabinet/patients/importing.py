"""Import of an existing patient list (CSV or XLSX): reading the file, mapping columns, planning every row against
the organisation's patients, writing the plan in batches, and the services that start and run an ImportJob.

Planning never queries per row: the organisation's phones, emails and name+birth-date keys are loaded once into
dicts, and the file's own rows are checked against the keys already seen. Each row ends as one outcome:
create, update (only empty fields of the existing patient are filled), unchanged, skipped (a duplicate of an earlier
row of the file) or error. Importing the same file twice therefore changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.accounts.models import normalize_phone
from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Organisation, Role
from kabinet.patients.models import (
    CardNumberSequence,
    ImportJob,
    Patient,
    PatientEmail,
    PatientNote,
    PatientPhone,
    format_card_number,
)
from kabinet.patients.searchkeys import fold
from kabinet.patients.services import _normalised_email, _normalised_phone

IMPORT_ROLES = (Role.ADMIN, Role.REGISTRAR)
BATCH_SIZE = 1000
# PostgreSQL's GIN indexes of the search (migrations 0004, 0008 and 0009), flushed after an import (see 0010).
SEARCH_INDEXES = (
    "patient_search_text_trgm",
    "patient_phone_trgm",
    "patient_email_trgm",
    "patientphone_number_trgm",
    "patientemail_address_trgm",
    "patient_name_word_trgm",
    "patient_search_words",
)
PREVIEW_ROWS = 5
IMPORT_REPORT_LIMIT = 50_000  # rows kept in ImportJob.error_rows; the counts stay exact beyond it
MAX_FILE_BYTES = 50 * 1024 * 1024

FIELDS = (
    "family_name",
    "given_name",
    "middle_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "address",
    "language",
    "source",
    "note",
)
FILLABLE = ("middle_name", "birth_date", "sex", "phone", "email", "address", "language", "source")
MAX_LENGTHS = {"family_name": 150, "given_name": 150, "middle_name": 150, "address": 500}

# Folded header (searchkeys.fold: lower case, punctuation as spaces) -> field, in Russian, Bulgarian and English.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(["фамилия", "family name", "last name", "surname", "family"], "family_name"),
    **dict.fromkeys(["имя", "име", "given name", "first name", "forename"], "given_name"),
    **dict.fromkeys(["отчество", "презиме", "middle name", "patronymic"], "middle_name"),
    **dict.fromkeys(
        ["дата рождения", "дата на раждане", "birth date", "date of birth", "birthdate", "dob", "рождена"],
        "birth_date",
    ),
    **dict.fromkeys(["пол", "sex", "gender"], "sex"),
    **dict.fromkeys(["телефон", "тел", "phone", "mobile", "phone number", "мобилен", "мобильный"], "phone"),
    **dict.fromkeys(["email", "e mail", "эл почта", "электронная почта", "имейл", "електронна поща", "mail"], "email"),
    **dict.fromkeys(["адрес", "address"], "address"),
    **dict.fromkeys(["язык", "език", "language"], "language"),
    **dict.fromkeys(["источник", "източник", "source"], "source"),
    **dict.fromkeys(["заметка", "бележка", "note", "notes", "комментарий", "примечание", "коментар"], "note"),
}
SEX_VALUES = {
    **dict.fromkeys(["м", "m", "male", "муж", "мужской", "мъж", "мужчина"], Patient.Sex.MALE),
    **dict.fromkeys(["ж", "f", "female", "жен", "женский", "жена", "женщина"], Patient.Sex.FEMALE),
}
DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d.%m.%y", "%Y-%m-%d %H:%M:%S")
REGION_BY_LANGUAGE = {"bg": "BG", "ru": "RU"}


class FileRefused(Invalid):
    """The file is not a patient list we can read (binary, UTF-16, empty, corrupt spreadsheet)."""

    code = "file_refused"


# --- reading -------------------------------------------------------------------------------------------------------


@dataclass
class Table:
    format: str
    header: list[str]
    rows: list[list[str]]
    encoding: str = ""
    delimiter: str = ""


def _refuse(message: str) -> FileRefused:
    return FileRefused(message, errors={"file": [message]})


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise _refuse(_("This file is not a text table in UTF-8 or Windows-1251. Save it as CSV (UTF-8) or XLSX."))
    candidates = ["utf-8-sig"] if data.startswith(b"\xef\xbb\xbf") else ["utf-8", "cp1251"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # cp1251 decodes almost any bytes: a binary file shows itself by control characters.
        controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\r\n")
        if controls:
            break
        return text, encoding
    raise _refuse(_("This file is not a text table in UTF-8 or Windows-1251. Save it as CSV (UTF-8) or XLSX."))


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        return max(",;\t", key=first.count)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(data: bytes) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a corrupt or foreign zip
        raise _refuse(_("This spreadsheet could not be read. Save it again as XLSX or CSV.")) from exc
    try:
        sheet = book.active
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)] if sheet is not None else []
    finally:
        book.close()
    rows = [row for row in rows if any(row)]
    if not rows:
        raise _refuse(_("The file has no rows."))
    return Table(ImportJob.Format.XLSX, rows[0], rows[1:])


def read_table(data: bytes, name: str = "") -> Table:
    """The file's header and rows as text. Raises FileRefused with a message for people when it cannot be read."""
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(_("The file is larger than 50 MB. Split it into several files."))
    if data.startswith(b"PK\x03\x04") or name.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    text, encoding = _decode(data)
    if not text.strip():
        raise _refuse(_("The file has no rows."))
    delimiter = _sniff_delimiter(text)
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    rows = [row for row in rows if any(row)]
    return Table(ImportJob.Format.CSV, rows[0], rows[1:], encoding=encoding, delimiter=delimiter)


# --- mapping -------------------------------------------------------------------------------------------------------


def suggest_mapping(header: Iterable[str]) -> dict[str, str]:
    """{column header: field} for the columns whose names we recognise; others map to "" (ignored)."""
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for name in header:
        target = HEADER_ALIASES.get(fold(name), "")
        if target in used:
            target = ""
        used.add(target)
        mapping[name] = target
    return mapping


def clean_mapping(header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Check a mapping given by a person: known columns and fields, each field once, both names present."""
    errors: list[str] = []
    cleaned: dict[str, str] = {}
    seen: set[str] = set()
    for column, target in mapping.items():
        if not target:
            continue
        if column not in header:
            errors.append(_("The file has no column “%(column)s”.") % {"column": column})
        elif target not in FIELDS:
            errors.append(_("“%(field)s” is not a patient field.") % {"field": target})
        elif target in seen:
            errors.append(_("“%(field)s” is chosen for more than one column.") % {"field": target})
        else:
            cleaned[column] = target
            seen.add(target)
    for required in ("family_name", "given_name"):
        if required not in seen:
            errors.append(_("Choose the column with the %(field)s.") % {"field": field_labels()[required]})
    if errors:
        raise Invalid(errors={"mapping": errors})
    return cleaned


def field_labels() -> dict[str, str]:
    """Field names in the current language, for messages and the mapping page."""
    labels = {
        name: str(getattr(Patient._meta.get_field(name), "verbose_name", name)) for name in FIELDS if name != "note"
    }
    labels["note"] = _("note")
    return labels


# --- planning ------------------------------------------------------------------------------------------------------

CREATE, UPDATE, UNCHANGED, SKIPPED, ERROR = "create", "update", "unchanged", "skipped", "error"


@dataclass
class RowPlan:
    line: int  # line in the file (the header is line 1)
    raw: list[str]
    outcome: str = CREATE
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    patient_id: int | None = None
    fills: dict[str, Any] = field(default_factory=dict)  # for UPDATE: empty fields of the patient to fill


@dataclass
class _Index:
    """The organisation's patients by each duplicate key, loaded once per job."""

    by_phone: dict[str, int] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)
    by_name: dict[tuple[str, str, date], int] = field(default_factory=dict)


def _name_key(family: str, given: str, birth: date | None) -> tuple[str, str, date] | None:
    if birth is None:
        return None
    return (fold(family), fold(given), birth)


def _load_index(organisation_id: int) -> _Index:
    index = _Index()
    patients = Patient.objects.filter(organisation_id=organisation_id).order_by("pk")
    for pk, phone, email, family, given, birth in patients.values_list(
        "pk", "phone", "email", "family_name", "given_name", "birth_date"
    ).iterator(chunk_size=5000):
        if phone:
            index.by_phone.setdefault(phone, pk)
        if email:
            index.by_email.setdefault(email, pk)
        key = _name_key(family, given, birth)
        if key:
            index.by_name.setdefault(key, pk)
    phones = PatientPhone.objects.filter(organisation_id=organisation_id).order_by("pk")
    for number, pk in phones.values_list("number", "patient_id").iterator(chunk_size=5000):
        index.by_phone.setdefault(number, pk)
    emails = PatientEmail.objects.filter(organisation_id=organisation_id).order_by("pk")
    for address, pk in emails.values_list("address", "patient_id").iterator(chunk_size=5000):
        index.by_email.setdefault(address, pk)
    return index


def _parse_date(text: str) -> date | None:
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _language(text: str) -> str:
    folded = fold(text)
    for code, name in settings.LANGUAGES:
        if folded in (code, fold(str(name))):
            return code
    names = {"русский": "ru", "руски": "ru", "russian": "ru", "български": "bg", "bulgarian": "bg", "english": "en"}
    code = names.get(folded, "")
    return code if code in dict(settings.LANGUAGES) else ""


def _source(text: str) -> str:
    folded = fold(text)
    for value, label in Patient.Source.choices:
        if folded in (fold(value), fold(str(label))):
            return value
    return ""


def _phone(text: str, region: str | None, problems: list[str]) -> str:
    errors: dict[str, list[str]] = {}
    phone = _normalised_phone(text, "phone", errors)
    if errors and region and not text.strip().startswith("+"):
        try:  # a local number ("0888 123 456") in the clinic's country
            return normalize_phone(text, region) or ""
        except Exception:  # noqa: S110 - reported below with the first attempt's message
            pass
    if errors:
        problems.append(_("Phone “%(value)s” is not valid and was not imported.") % {"value": text})
    return phone


def _normalise_row(raw: list[str], columns: dict[int, str], region: str | None) -> tuple[dict[str, Any], list[str]]:
    """The row's values by field, normalised, and the problems found. A problem with a name makes the row an error
    (see _plan_row); other problems only leave that value out."""
    texts = {target: (raw[i].strip() if i < len(raw) else "") for i, target in columns.items()}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in ("family_name", "given_name", "middle_name", "address", "note"):
        values[name] = " ".join(texts.get(name, "").split()) if name != "note" else texts.get(name, "")
    if texts.get("birth_date"):
        birth = _parse_date(texts["birth_date"])
        if birth is not None and (birth > timezone.localdate() or birth.year < 1880):
            birth = None
        if birth is None:
            message = _("Birth date “%(value)s” is not a date and was not imported.")
            problems.append(message % {"value": texts["birth_date"]})
        values["birth_date"] = birth
    if texts.get("sex"):
        sex = SEX_VALUES.get(fold(texts["sex"]), "")
        if not sex:
            problems.append(_("Sex “%(value)s” is not recognised (use м/ж, m/f).") % {"value": texts["sex"]})
        values["sex"] = sex
    if texts.get("phone"):
        values["phone"] = _phone(texts["phone"], region, problems)
    if texts.get("email"):
        errors: dict[str, list[str]] = {}
        email = _normalised_email(texts["email"], "email", errors)
        if errors or len(email) > 254:
            problems.append(_("Email “%(value)s” is not valid and was not imported.") % {"value": texts["email"]})
            email = ""
        values["email"] = email
    if texts.get("language"):
        values["language"] = _language(texts["language"])
        if not values["language"]:
            problems.append(_("Language “%(value)s” is not recognised.") % {"value": texts["language"]})
    if texts.get("source"):
        values["source"] = _source(texts["source"])
        if not values["source"]:
            problems.append(_("Source “%(value)s” is not recognised.") % {"value": texts["source"]})
    return values, problems


def _empty(name: str, value: Any) -> bool:
    return value in (None, "") or (name == "sex" and value == Patient.Sex.UNKNOWN)


def _fills(existing: dict[str, Any], values: dict[str, Any], index: _Index, patient_id: int) -> dict[str, Any]:
    """Values of the row for fields that are empty on the existing patient (contacts that belong to another
    patient of the clinic are left out)."""
    fills: dict[str, Any] = {}
    for name in FILLABLE:
        value = values.get(name)
        if _empty(name, value) or not _empty(name, existing.get(name)):
            continue
        if name == "phone" and index.by_phone.get(str(value), patient_id) != patient_id:
            continue
        if name == "email" and index.by_email.get(str(value), patient_id) != patient_id:
            continue
        fills[name] = value
    return fills


@dataclass
class Plan:
    rows: list[RowPlan]

    def counts(self) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "errors": 0}
        names = {CREATE: "created", UPDATE: "updated", UNCHANGED: "unchanged", SKIPPED: "skipped", ERROR: "errors"}
        for row in self.rows:
            counts[names[row.outcome]] += 1
        return counts


def plan_rows(organisation: Organisation, table: Table, mapping: dict[str, str]) -> Plan:
    """Decide every row's outcome with the organisation's patients loaded once (a fixed number of queries)."""
    columns = {table.header.index(column): target for column, target in mapping.items() if target}
    region = REGION_BY_LANGUAGE.get(organisation.default_language)
    index = _load_index(organisation.pk)
    seen: dict[tuple[str, Any], int] = {}  # key -> line of the first row of the file that had it
    rows: list[RowPlan] = []
    for offset, raw in enumerate(table.rows):
        row = RowPlan(line=offset + 2, raw=raw)
        rows.append(row)
        values, problems = _normalise_row(raw, columns, region)
        row.values, row.problems = values, problems
        missing = [name for name in ("family_name", "given_name") if not values.get(name)]
        too_long = [name for name, limit in MAX_LENGTHS.items() if len(values.get(name) or "") > limit]
        if missing or too_long:
            labels = field_labels()
            row.outcome = ERROR
            row.problems = [
                *(_("The %(field)s is missing.") % {"field": labels[name]} for name in missing),
                *(_("The %(field)s is too long.") % {"field": labels[name]} for name in too_long),
                *problems,
            ]
            continue
        keys: list[tuple[str, Any]] = []
        if values.get("phone"):
            keys.append(("phone", values["phone"]))
        if values.get("email"):
            keys.append(("email", values["email"]))
        name_key = _name_key(values["family_name"], values["given_name"], values.get("birth_date"))
        if name_key:
            keys.append(("name", name_key))
        earlier = next((seen[key] for key in keys if key in seen), None)
        if earlier is not None:
            row.outcome = SKIPPED
            row.problems.append(_("Duplicate of line %(line)s of the file.") % {"line": earlier})
            continue
        for key in keys:
            seen[key] = row.line
        lookups: dict[str, dict[Any, int]] = {"phone": index.by_phone, "email": index.by_email, "name": index.by_name}
        row.patient_id = next((lookups[kind][value] for kind, value in keys if value in lookups[kind]), None)
        row.outcome = CREATE if row.patient_id is None else UNCHANGED
    _plan_updates(rows, index)
    return Plan(rows)


def _plan_updates(rows: list[RowPlan], index: _Index) -> None:
    """Turn matched rows that bring values for empty fields into updates (existing patients loaded in chunks)."""
    matched = [row for row in rows if row.patient_id is not None]
    for start in range(0, len(matched), BATCH_SIZE):
        chunk = matched[start : start + BATCH_SIZE]
        existing = {
            values["pk"]: values
            for values in Patient.objects.filter(pk__in=[row.patient_id for row in chunk]).values("pk", *FILLABLE)
        }
        for row in chunk:
            assert row.patient_id is not None
            row.fills = _fills(existing.get(row.patient_id, {}), row.values, index, row.patient_id)
            if row.fills:
                row.outcome = UPDATE


# --- writing -------------------------------------------------------------------------------------------------------


def _create(organisation: Organisation, rows: list[RowPlan], actor: Any) -> None:
    patients = []
    for row in rows:
        values = row.values
        patient = Patient(
            organisation=organisation,
            card_number=values["card_number"],
            family_name=values["family_name"],
            given_name=values["given_name"],
            middle_name=values.get("middle_name", ""),
            birth_date=values.get("birth_date"),
            sex=values.get("sex") or Patient.Sex.UNKNOWN,
            phone=values.get("phone", ""),
            email=values.get("email", ""),
            address=values.get("address", ""),
            language=values.get("language") or organisation.default_language,
            source=values.get("source", ""),
        )
        patient.fill_derived()  # the search key; the card number is already set, so nothing is reserved here
        patients.append(patient)
    Patient.objects.bulk_create(patients)
    for row, patient in zip(rows, patients, strict=True):
        row.patient_id = patient.pk
    org_id = organisation.pk
    PatientPhone.objects.bulk_create(
        PatientPhone(organisation_id=org_id, patient=p, number=p.phone, is_primary=True) for p in patients if p.phone
    )
    PatientEmail.objects.bulk_create(
        PatientEmail(organisation_id=org_id, patient=p, address=p.email, is_primary=True) for p in patients if p.email
    )
    author = actor if getattr(actor, "is_authenticated", False) else None
    PatientNote.objects.bulk_create(
        PatientNote(organisation_id=org_id, patient=p, author=author, text=row.values["note"])
        for row, p in zip(rows, patients, strict=True)
        if row.values.get("note")
    )


def _update(organisation: Organisation, rows: list[RowPlan]) -> None:
    """Fill empty fields, re-checked against the rows locked now (someone may have filled them since planning)."""
    ids = [row.patient_id for row in rows if row.patient_id is not None]
    locked = {p.pk: p for p in Patient.objects.select_for_update().filter(pk__in=ids)}
    has_primary_phone = set(
        PatientPhone.objects.filter(patient_id__in=ids, is_primary=True).values_list("patient_id", flat=True)
    )
    has_primary_email = set(
        PatientEmail.objects.filter(patient_id__in=ids, is_primary=True).values_list("patient_id", flat=True)
    )
    changed: list[Patient] = []
    fields: set[str] = set()
    phones: list[PatientPhone] = []
    emails: list[PatientEmail] = []
    now = timezone.now()
    for row in rows:
        patient = locked.get(row.patient_id or 0)
        fills = {k: v for k, v in row.fills.items() if patient and _empty(k, getattr(patient, k))}
        if patient is None or not fills:
            row.outcome = UNCHANGED
            continue
        for name, value in fills.items():
            setattr(patient, name, value)
        patient.fill_derived()
        patient.updated_at = now
        row.fills = fills
        fields.update(fills)
        changed.append(patient)
        if "phone" in fills:
            primary = patient.pk not in has_primary_phone
            phones.append(
                PatientPhone(organisation_id=organisation.pk, patient=patient, number=patient.phone, is_primary=primary)
            )
        if "email" in fills:
            primary = patient.pk not in has_primary_email
            emails.append(
                PatientEmail(
                    organisation_id=organisation.pk, patient=patient, address=patient.email, is_primary=primary
                )
            )
    if changed:
        Patient.objects.bulk_update(changed, [*sorted(fields), "search_text", "updated_at"])
        PatientPhone.objects.bulk_create(phones)
        PatientEmail.objects.bulk_create(emails)


def _write(organisation: Organisation, rows: list[RowPlan], actor: Any) -> None:
    with transaction.atomic():
        _create(organisation, [row for row in rows if row.outcome == CREATE], actor)
        _update(organisation, [row for row in rows if row.outcome == UPDATE])


def write_plan(
    organisation: Organisation,
    plan: Plan,
    *,
    actor: Any = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the plan BATCH_SIZE rows per transaction. When a batch fails, its rows are written one by one so that
    only the broken row becomes an error. Card numbers come from one block reserved for all new patients."""
    creates = sum(1 for row in plan.rows if row.outcome == CREATE)
    numbers = iter(CardNumberSequence.reserve(organisation.pk, creates) if creates else range(0))
    for row in plan.rows:
        if row.outcome == CREATE:  # fixed before writing, so a batch retried row by row keeps its numbers
            row.values["card_number"] = format_card_number(next(numbers))
    for start in range(0, len(plan.rows), BATCH_SIZE):
        batch = plan.rows[start : start + BATCH_SIZE]
        pending = [row for row in batch if row.outcome in (CREATE, UPDATE)]
        try:
            _write(organisation, pending, actor)
        except Exception:
            for row in pending:
                outcome = row.outcome
                try:
                    _write(organisation, [row], actor)
                except Exception:
                    row.outcome = ERROR
                    verb = _("created") if outcome == CREATE else _("updated")
                    row.problems.append(_("The patient could not be %(verb)s: check the values.") % {"verb": verb})
        if progress is not None:
            progress(start + len(batch))
    flush_search_indexes()


def flush_search_indexes() -> int:
    """PostgreSQL: merge the pending lists of the search's GIN indexes into the indexes, so that the searches after
    a large import do not each read up to 256 kB of unsorted entries per index (migration 0010). Returns the number
    of pages merged; 0 on SQLite."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(gin_clean_pending_list(to_regclass(name))), 0) FROM unnest(%s::text[]) AS name"
            " WHERE to_regclass(name) IS NOT NULL",
            [list(SEARCH_INDEXES)],
        )
        (pages,) = cursor.fetchone()
    return int(pages)


# --- services ------------------------------------------------------------------------------------------------------


def _organisation_id(organisation: Organisation | int) -> int:
    return organisation if isinstance(organisation, int) else organisation.pk


def patient_import_start(
    *,
    actor: Any,
    organisation: Organisation,
    file: Any,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    enqueue: bool = True,
) -> ImportJob:
    """Store an uploaded patient list and queue its import (ADMIN, REGISTRAR). The file is refused at once when it
    cannot be read; the mapping defaults to the one suggested from the column names and is checked here.
    `actor=None` is the system (the import_patients command), which runs the job itself (`enqueue=False`)."""
    if actor is not None:
        permissions.require_role(actor, organisation, *IMPORT_ROLES)
    data = file.read()
    name = PurePath(getattr(file, "name", "") or "patients.csv").name[:255]
    table = read_table(data, name)
    mapping = clean_mapping(table.header, mapping if mapping is not None else suggest_mapping(table.header))
    with transaction.atomic():
        job = ImportJob(
            organisation=organisation,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            original_name=name,
            format=table.format,
            encoding=table.encoding,
            delimiter=table.delimiter,
            mapping=mapping,
            dry_run=dry_run,
            progress_total=len(table.rows),
        )
        job.file.save(stored_name(table), ContentFile(data), save=False)
        job.save()
        if enqueue:
            _enqueue_on_commit(job.pk)
    return job


def stored_name(table: Table) -> str:
    """A random file name: the uploaded name is kept only as ImportJob.original_name."""
    return f"{uuid.uuid4().hex}.{table.format}"


def patient_import_repeat(
    *, actor: Any, job: ImportJob, mapping: dict[str, str] | None = None, dry_run: bool = False
) -> ImportJob:
    """A new job for the file of an earlier one (the mapping step: check again, or run for real)."""
    permissions.require_role(actor, job.organisation_id, *IMPORT_ROLES)
    with job.file.open("rb") as stored:
        data = stored.read()
    table = read_table(data, job.original_name)
    mapping = clean_mapping(table.header, mapping if mapping is not None else job.mapping)
    with transaction.atomic():
        new = ImportJob.objects.create(
            organisation_id=job.organisation_id,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            file=job.file.name,
            original_name=job.original_name,
            format=job.format,
            encoding=job.encoding,
            delimiter=job.delimiter,
            mapping=mapping,
            dry_run=dry_run,
            progress_total=len(table.rows),
        )
        _enqueue_on_commit(new.pk)
    return new


def _enqueue_on_commit(job_id: int) -> None:
    from kabinet.patients.tasks import import_patients

    transaction.on_commit(lambda: import_patients.enqueue(job_id))


def _report(plan: Plan) -> list[dict[str, Any]]:
    rows = [
        {"line": row.line, "outcome": row.outcome, "problems": [str(p) for p in row.problems], "row": row.raw}
        for row in plan.rows
        if row.problems
    ]
    return rows[:IMPORT_REPORT_LIMIT]


def patient_import_run(job_id: int) -> ImportJob:
    """Run a queued job: plan every row, write the plan unless it is a dry run, keep the progress current after
    every batch and record one audit event with the counts. Running a job that already ran does nothing."""
    claimed = ImportJob.objects.filter(pk=job_id, state=ImportJob.State.QUEUED).update(
        state=ImportJob.State.RUNNING, started_at=timezone.now()
    )
    job = ImportJob.objects.select_related("organisation", "created_by").get(pk=job_id)
    if not claimed:
        return job
    organisation = job.organisation
    try:
        with job.file.open("rb") as stored:
            table = read_table(stored.read(), job.original_name)
        plan = plan_rows(organisation, table, job.mapping)

        def progress(done: int) -> None:
            ImportJob.objects.filter(pk=job_id).update(progress_done=done)

        if not job.dry_run:
            write_plan(organisation, plan, actor=job.created_by, progress=progress)
    except Exception as exc:
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.State.FAILED, failure=str(exc)[:500], finished_at=timezone.now()
        )
        raise
    counts = plan.counts()
    with transaction.atomic():
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.State.DONE,
            progress_done=len(plan.rows),
            progress_total=len(plan.rows),
            error_rows=_report(plan),
            finished_at=timezone.now(),
            **counts,
        )
        job.refresh_from_db()
        if not job.dry_run:
            record(
                actor=job.created_by,
                action="patient.import_done",
                obj=job,
                after={"file": job.original_name, **counts},
            )
    return job


def error_report_csv(job: ImportJob) -> str:
    """The rows with problems as CSV (semicolon-separated, for spreadsheet programs): line, outcome, problems and
    the row's original cells."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    header: list[str] = []
    if job.file:
        try:
            with job.file.open("rb") as stored:
                header = read_table(stored.read(), job.original_name).header
        except (OSError, Invalid):
            header = []
    writer.writerow([_("line"), _("outcome"), _("problems"), *header])
    for row in job.error_rows:
        writer.writerow([row["line"], row["outcome"], " ".join(row["problems"]), *row.get("row", [])])
    return out.getvalue()


def preview(job: ImportJob, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
    """The header and the first rows of the job's file, for the mapping step."""
    try:
        with job.file.open("rb") as stored:
            table = read_table(stored.read(), job.original_name)
    except (OSError, Invalid):
        return [], []
    return table.header, table.rows[:rows]
