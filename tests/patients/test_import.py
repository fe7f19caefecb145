"""Importing a patient list: reading CSV/XLSX in the usual encodings, mapping, duplicates in the clinic and in the
file, idempotent reruns, dry runs, per-row problems, who may import, the command, the task, the pages and the API."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotAllowed, NotFound
from kabinet.patients import importing, selectors
from kabinet.patients.importing import FileRefused, patient_import_run, patient_import_start
from kabinet.patients.models import CardNumberSequence, ImportJob, Patient, PatientEmail, PatientNote, PatientPhone
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

HEADER = ["Фамилия", "Имя", "Отчество", "Дата рождения", "Пол", "Телефон", "Email", "Заметка"]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _csv(rows: list[list[str]], *, header: list[str] = HEADER, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def _upload(data: bytes, name: str = "patients.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def _import(
    actor: Any, org: Any, data: bytes, *, name: str = "patients.csv", dry_run: bool = False, **kwargs: Any
) -> ImportJob:
    job = patient_import_start(actor=actor, organisation=org, file=_upload(data, name), dry_run=dry_run, **kwargs)
    return patient_import_run(job.pk)


ROWS = [
    ["Сидорова", "Мария", "Ивановна", "01.02.1990", "ж", "+359 887 111 222", "maria@example.org", "аллергия"],
    ["Brown", "Oliver", "", "1985-07-30", "m", "+44 7700 900123", "", ""],
    ["Георгиев", "Иван", "", "15/03/1970", "м", "", "ivan@example.bg", ""],
]


def test_utf8_csv_creates_patients_with_contacts_card_numbers_and_notes(people) -> None:
    before = CardNumberSequence.objects.get(organisation=people.org).last_value
    job = _import(people.registrar, people.org, _csv(ROWS))
    assert job.state == ImportJob.State.DONE
    assert job.counts() == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 0, "errors": 0}
    assert (job.encoding, job.delimiter, job.format) == ("utf-8", ",", "csv")
    maria = Patient.objects.get(organisation=people.org, family_name="Сидорова")
    assert (maria.middle_name, maria.birth_date, maria.sex) == ("Ивановна", date(1990, 2, 1), Patient.Sex.FEMALE)
    assert (maria.phone, maria.email, maria.language) == (
        "+359887111222",
        "maria@example.org",
        people.org.default_language,
    )
    assert list(maria.phones.values_list("number", "is_primary")) == [("+359887111222", True)]
    assert list(maria.emails.values_list("address", "is_primary")) == [("maria@example.org", True)]
    assert PatientNote.objects.get(patient=maria).text == "аллергия"
    assert "sidorova" in maria.search_text  # the Latin spelling is searchable too
    numbers = sorted(
        Patient.objects.filter(family_name__in=["Сидорова", "Brown", "Георгиев"]).values_list("card_number", flat=True)
    )
    assert numbers == [str(before + i).zfill(6) for i in (1, 2, 3)]  # one block from the sequence
    assert Patient.objects.get(family_name="Георгиев").birth_date == date(1970, 3, 15)
    events = AuditEvent.objects.filter(action="patient.import_done")
    assert [(e.after or {})["created"] for e in events] == [3]


def test_an_import_leaves_the_search_indexes_without_pending_entries(people) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no GIN indexes")
    PatientFactory.create(organisation=people.org, family_name="Pending")
    assert importing.flush_search_indexes() > 0  # a new patient's index entries wait in the pending lists
    assert importing.flush_search_indexes() == 0
    PatientFactory.create(organisation=people.org, family_name="Waiting")
    _import(people.registrar, people.org, _csv(ROWS))
    assert importing.flush_search_indexes() == 0  # the import merged them, its own rows' and the earlier ones


def test_cp1251_csv_with_semicolons(people) -> None:
    job = _import(people.registrar, people.org, _csv(ROWS, delimiter=";", encoding="cp1251"))
    assert (job.encoding, job.delimiter) == ("cp1251", ";")
    assert job.created == 3
    assert Patient.objects.filter(family_name="Сидорова", given_name="Мария").exists()


def test_utf8_with_bom_and_tabs(people) -> None:
    data = b"\xef\xbb\xbf" + _csv(ROWS, delimiter="\t")
    job = _import(people.registrar, people.org, data)
    assert (job.encoding, job.delimiter, job.created) == ("utf-8-sig", "\t", 3)
    assert job.mapping["Фамилия"] == "family_name"  # the BOM is not part of the first header


def test_xlsx_with_dates_and_numbers(people) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Family name", "Given name", "Birth date", "Sex", "Phone", "E-mail"])
    sheet.append(["Doe", "Jane", date(1991, 5, 6), "female", "+359887333444", "JANE@EXAMPLE.ORG"])
    sheet.append(["Roe", "Richard", "06.05.1981", "male", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    job = _import(people.registrar, people.org, buffer.getvalue(), name="list.xlsx")
    assert (job.format, job.created) == ("xlsx", 2)
    jane = Patient.objects.get(family_name="Doe")
    assert (jane.birth_date, jane.sex, jane.email, jane.phone) == (
        date(1991, 5, 6),
        Patient.Sex.FEMALE,
        "jane@example.org",
        "+359887333444",
    )


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 20,  # binary
        "Фамилия,Имя\nИванов,Иван\n".encode("utf-16"),
        b"",
        b"PK\x03\x04not really a zip",
    ],
    ids=["binary", "utf16", "empty", "broken-xlsx"],
)
def test_unreadable_files_are_refused_with_a_message_and_nothing_is_stored(people, data) -> None:
    with pytest.raises(FileRefused) as refused:
        patient_import_start(actor=people.registrar, organisation=people.org, file=_upload(data))
    assert refused.value.status == 422 and refused.value.errors["file"]
    assert not ImportJob.objects.exists()


def test_mapping_is_suggested_from_russian_bulgarian_and_english_headers() -> None:
    header = ["Фамилия", "Име", "Презиме", "Дата на раждане", "Sex", "Phone", "Эл. почта", "Адрес", "Език"]
    header += ["Source", "Бележка", "Favourite colour"]
    assert importing.suggest_mapping(header) == {
        "Фамилия": "family_name",
        "Име": "given_name",
        "Презиме": "middle_name",
        "Дата на раждане": "birth_date",
        "Sex": "sex",
        "Phone": "phone",
        "Эл. почта": "email",
        "Адрес": "address",
        "Език": "language",
        "Source": "source",
        "Бележка": "note",
        "Favourite colour": "",
    }
    english = importing.suggest_mapping(["Last name", "First name", "Middle name", "E-mail", "Birth date"])
    assert list(english.values()) == ["family_name", "given_name", "middle_name", "email", "birth_date"]


def test_a_given_mapping_is_used_and_a_bad_one_refused(people) -> None:
    data = _csv([["Kim", "Lee", "x"]], header=["A", "B", "C"])
    with pytest.raises(Invalid) as invalid:
        _import(people.registrar, people.org, data)  # nothing recognised: no names
    assert len(invalid.value.errors["mapping"]) == 2
    with pytest.raises(Invalid):
        _import(people.registrar, people.org, data, mapping={"A": "family_name", "B": "family_name"})
    job = _import(people.registrar, people.org, data, mapping={"A": "family_name", "B": "given_name", "C": ""})
    assert job.created == 1 and Patient.objects.filter(family_name="Kim", given_name="Lee").exists()


def test_dry_run_plans_the_same_and_writes_nothing(people) -> None:
    patients, phones, events = Patient.objects.count(), PatientPhone.objects.count(), AuditEvent.objects.count()
    dry = _import(people.registrar, people.org, _csv(ROWS), dry_run=True)
    assert dry.counts() == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 0, "errors": 0}
    assert (Patient.objects.count(), PatientPhone.objects.count()) == (patients, phones)
    assert AuditEvent.objects.count() == events
    real = _import(people.registrar, people.org, _csv(ROWS))
    assert real.counts() == dry.counts()


def test_duplicates_of_existing_patients_by_phone_email_and_name_with_birth_date(people) -> None:
    rows = [
        ["Другая", "Фамилия", "", "", "", "0888 123 456", "", ""],  # anna's phone in the national format
        ["Ivanova", "Ann", "", "", "", "", "ANNA.IVANOVA@example.org", ""],  # anna's email
        ["SMITH", "john", "Paul", "30.01.1975", "", "", "john@example.org", ""],  # john by name + birth date
        ["Петров", "Петър", "", "", "", "+7 916 123 45 67", "", ""],  # petar by phone, nothing new
        ["Smith", "John", "", "", "", "", "", ""],  # same name, no birth date: a new patient
    ]
    people.org.default_language = "bg"
    people.org.save()
    job = _import(people.registrar, people.org, _csv(rows))
    assert [r for r in job.error_rows if r["outcome"] == "error"] == []
    # anna (by phone) first; the email row matches her too but is a different key of the same file row? no: a
    # different row of the file that matched the same patient is not a file duplicate, so it is unchanged.
    assert job.counts() == {"created": 1, "updated": 1, "unchanged": 3, "skipped": 0, "errors": 0}
    john = Patient.objects.get(pk=people.john.pk)
    assert (john.middle_name, john.email) == ("Paul", "john@example.org")  # empty fields filled
    assert john.phone == "+447911123456" and john.family_name == "Smith"  # filled ones untouched
    assert list(john.emails.values_list("address", "is_primary")) == [("john@example.org", True)]
    assert Patient.objects.filter(organisation=people.org, family_name="Smith").count() == 2
    assert Patient.objects.get(pk=people.anna.pk).family_name == "Иванова"


def test_patients_of_another_clinic_are_not_duplicates(people) -> None:
    job = _import(people.registrar, people.org, _csv([["Иванова", "Анна", "", "", "", "+359888123999", "", ""]]))
    assert job.created == 1  # the stranger of the other clinic has this phone


def test_duplicates_within_the_file_are_skipped_with_the_first_line(people) -> None:
    rows = [
        ["Новак", "Ян", "", "01.01.1980", "", "+359887000001", "jan@example.org", ""],
        ["Novak", "Jan", "", "", "", "+359 887 000 001", "", ""],  # same phone
        ["Другой", "Человек", "", "", "", "", "JAN@example.org", ""],  # same email
        ["НОВАК", "ян", "", "1980-01-01", "", "", "", ""],  # same name + birth date
        ["Новак", "Ян", "", "02.01.1980", "", "", "", ""],  # other birth date: someone else
    ]
    job = _import(people.registrar, people.org, _csv(rows))
    assert job.counts() == {"created": 2, "updated": 0, "unchanged": 0, "skipped": 3, "errors": 0}
    skipped = {r["line"]: r["problems"] for r in job.error_rows if r["outcome"] == "skipped"}
    assert skipped == {n: ["Duplicate of line 2 of the file."] for n in (3, 4, 5)}


def test_rerunning_the_same_file_changes_nothing(people) -> None:
    rows = [*ROWS, ["Smith", "John", "Paul", "30.01.1975", "", "", "", ""]]
    first = _import(people.registrar, people.org, _csv(rows))
    assert (first.created, first.updated) == (3, 1)
    snapshot = list(Patient.objects.order_by("pk").values())
    phones, emails, notes = PatientPhone.objects.count(), PatientEmail.objects.count(), PatientNote.objects.count()
    second = _import(people.registrar, people.org, _csv(rows))
    assert second.counts() == {"created": 0, "updated": 0, "unchanged": 4, "skipped": 0, "errors": 0}
    assert list(Patient.objects.order_by("pk").values()) == snapshot
    assert (PatientPhone.objects.count(), PatientEmail.objects.count(), PatientNote.objects.count()) == (
        phones,
        emails,
        notes,
    )


def test_invalid_values_are_flagged_and_left_out_while_the_row_is_imported(people) -> None:
    rows = [
        ["Лом", "Тел", "", "31.02.1990", "x", "12345", "not-an-email", ""],
        ["", "Безфамильный", "", "", "", "", "", ""],
        ["Good", "Row", "", "", "", "+359887555666", "good@example.org", ""],
    ]
    job = _import(people.registrar, people.org, _csv(rows))
    assert job.counts() == {"created": 2, "updated": 0, "unchanged": 0, "skipped": 0, "errors": 1}
    broken = Patient.objects.get(family_name="Лом")
    assert (broken.phone, broken.email, broken.birth_date, broken.sex) == ("", "", None, Patient.Sex.UNKNOWN)
    assert not broken.phones.exists() and not broken.emails.exists()
    report = {r["line"]: r for r in job.error_rows}
    assert report[2]["outcome"] == "create"
    assert report[2]["problems"] == [
        "Birth date “31.02.1990” is not a date and was not imported.",
        "Sex “x” is not recognised (use м/ж, m/f).",
        "Phone “12345” is not valid and was not imported.",
        "Email “not-an-email” is not valid and was not imported.",
    ]
    assert report[3]["outcome"] == "error" and report[3]["problems"] == ["The family name is missing."]
    assert 4 not in report


def test_a_row_the_database_refuses_does_not_stop_the_rest(people, monkeypatch) -> None:
    original = Patient.fill_derived

    def fill_derived(self: Patient) -> None:  # a row that breaks only when written (like a constraint)
        original(self)
        if self.family_name == "Broken":
            self.search_text = None  # type: ignore[assignment]  # NOT NULL

    monkeypatch.setattr(Patient, "fill_derived", fill_derived)
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    rows = [[f"Ok{i}", "A", "", "", "", "", "", ""] for i in range(3)]
    rows.insert(1, ["Broken", "B", "", "", "", "", "", ""])
    job = _import(people.registrar, people.org, _csv(rows))
    assert job.counts() == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 0, "errors": 1}
    assert sorted(Patient.objects.filter(given_name="A").values_list("family_name", flat=True)) == [
        "Ok0",
        "Ok1",
        "Ok2",
    ]
    assert [(r["line"], r["outcome"]) for r in job.error_rows] == [(3, "error")]
    assert job.progress_done == job.progress_total == 4


def test_the_error_report_lists_problem_rows_with_their_cells(people) -> None:
    rows = [["", "Нет", "", "", "", "", "", ""], ["Да", "Есть", "", "", "", "bad", "", ""]]
    job = _import(people.registrar, people.org, _csv(rows, delimiter=";", encoding="cp1251"))
    report = list(csv.reader(io.StringIO(importing.error_report_csv(job)), delimiter=";"))
    assert report[0] == ["line", "outcome", "problems", *HEADER]
    assert report[1] == ["2", "error", "The family name is missing.", "", "Нет", "", "", "", "", "", ""]
    assert report[2][:3] == ["3", "create", "Phone “bad” is not valid and was not imported."]


def test_only_administrators_and_registrars_import_and_see_jobs(people) -> None:
    for user in (people.doctor, people.nurse, people.operator, people.outsider, people.anna_user):
        with pytest.raises(NotAllowed):
            patient_import_start(actor=user, organisation=people.org, file=_upload(_csv(ROWS)))
    job = _import(people.admin, people.org, _csv(ROWS))
    assert selectors.import_job_get(user=people.registrar, job_id=job.pk, organisation=people.org) == job
    for user in (people.doctor, people.outsider):
        with pytest.raises(NotFound):
            selectors.import_job_get(user=user, job_id=job.pk)
    with pytest.raises(NotFound):
        selectors.import_job_get(user=people.outsider, job_id=job.pk, organisation=people.other_org)


def test_the_file_is_stored_under_a_random_name(people) -> None:
    job = _import(people.registrar, people.org, _csv(ROWS), name="../../Пациенты 2025.csv")
    assert job.original_name == "Пациенты 2025.csv"
    stored = str(job.file.name)
    assert stored.startswith("patient-imports/") and "Пациенты" not in stored
    assert Path(job.file.path).read_bytes() == _csv(ROWS)


def test_the_task_runs_the_job_after_commit(people, settings, django_capture_on_commit_callbacks) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = patient_import_start(actor=people.registrar, organisation=people.org, file=_upload(_csv(ROWS)))
        assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.QUEUED  # nothing before the commit
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.state, job.created, job.progress_done, job.progress_total) == (ImportJob.State.DONE, 3, 3, 3)
    assert patient_import_run(job.pk).created == 3  # a second delivery of the task does nothing
    assert Patient.objects.filter(family_name="Сидорова").count() == 1


def test_the_task_is_queued_in_the_database_backend(people, django_capture_on_commit_callbacks) -> None:
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        job = patient_import_start(actor=people.registrar, organisation=people.org, file=_upload(_csv(ROWS)))
    queued = DBTaskResult.objects.get(task_path="kabinet.patients.tasks.import_patients")
    assert queued.args_kwargs["args"] == [job.pk]


def test_the_command_imports_and_prints_the_counts(people, tmp_path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(_csv(ROWS, delimiter=";", encoding="cp1251"))
    out = io.StringIO()
    call_command("import_patients", str(path), "--org", "alpha", "--dry-run", stdout=out)
    assert "Dry run: created 3, updated 0, unchanged 0, skipped 0, errors 0" in out.getvalue()
    assert not Patient.objects.filter(family_name="Сидорова").exists()
    out = io.StringIO()
    call_command("import_patients", str(path), "--org", "alpha", stdout=out)
    assert "created 3, updated 0" in out.getvalue()
    assert AuditEvent.objects.filter(action="patient.import_done", actor=None).count() == 1


def test_the_command_with_a_mapping_and_refusals(people, tmp_path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(_csv([["Kim", "Lee"]], header=["A", "B"]))
    out = io.StringIO()
    call_command(
        "import_patients", str(path), "--org", "alpha", "--map", "A=family_name", "--map", "B=given_name", stdout=out
    )
    assert "created 1" in out.getvalue()
    binary = tmp_path / "photo.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(CommandError, match="not a text table"):
        call_command("import_patients", str(binary), "--org", "alpha")
    with pytest.raises(CommandError, match="No organisation"):
        call_command("import_patients", str(path), "--org", "nope")


# --- pages ---------------------------------------------------------------------------------------------------------


def test_upload_map_check_run_and_result_pages(
    people, login_client, settings, django_capture_on_commit_callbacks
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    client = login_client(people.registrar)
    assert client.get("/patients/").content.count(b'href="/patients/import/"') == 1
    assert client.get("/patients/import/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/patients/import/", {"file": _upload(_csv(ROWS), "list.csv")})
    check = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/patients/import/{check.pk}/"
    assert check.dry_run and check.state == ImportJob.State.DONE
    page = client.get(f"/patients/import/{check.pk}/").content.decode()
    assert "Сидорова" in page  # the preview
    assert 'name="col-0"' in page and '<option value="family_name" selected' in page
    assert "Would create" in page and ">3<" in page
    # By the file's column order (PostgreSQL's jsonb does not keep the mapping's key order).
    mapping = {f"col-{i}": check.mapping[name] for i, name in enumerate(HEADER) if name in check.mapping}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/patients/import/{check.pk}/", {**mapping, "action": "run"})
    job = ImportJob.objects.exclude(pk=check.pk).get()
    assert response["Location"] == f"/patients/import/{job.pk}/" and not job.dry_run
    assert Patient.objects.filter(family_name="Сидорова").exists()
    progress = client.get(f"/patients/import/{job.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "<progress" in progress and 'value="3" max="3"' in progress
    result = client.get(f"/patients/import/{job.pk}/").content.decode()
    assert f"/patients/import/{job.pk}/errors.csv" in result
    report = client.get(f"/patients/import/{job.pk}/errors.csv")
    assert report["Content-Type"].startswith("text/csv") and "attachment" in report["Content-Disposition"]


def test_a_running_job_polls_every_second(people, login_client) -> None:
    job = patient_import_start(actor=people.registrar, organisation=people.org, file=_upload(_csv(ROWS)))
    page = login_client(people.registrar).get(f"/patients/import/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in page and "<progress" in page


def test_a_refused_upload_shows_the_reason(people, login_client) -> None:
    response = login_client(people.registrar).post("/patients/import/", {"file": _upload(bytes(range(256)) * 9)})
    assert response.status_code == 422
    assert "not a text table in UTF-8 or Windows-1251" in response.content.decode()


def test_pages_refuse_doctors_other_clinics_and_anonymous(people, login_client) -> None:
    job = _import(people.registrar, people.org, _csv(ROWS))
    assert login_client(people.doctor).get("/patients/import/").status_code == 403
    assert login_client(people.doctor).get(f"/patients/import/{job.pk}/").status_code == 404
    assert login_client(people.outsider).get(f"/patients/import/{job.pk}/").status_code == 404
    assert login_client(people.outsider).get(f"/patients/import/{job.pk}/errors.csv").status_code == 404
    anonymous = Client().get(f"/patients/import/{job.pk}/")
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]


# --- API -----------------------------------------------------------------------------------------------------------


def test_api_start_poll_and_errors(people, login_client, settings, django_capture_on_commit_callbacks) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    client = login_client(people.registrar)
    rows = [*ROWS, ["", "Nameless", "", "", "", "", "", ""]]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/patients/imports", {"file": _upload(_csv(rows)), "dry_run": "true"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["dry_run"] is True and body["mapping"]["Фамилия"] == "family_name"
    job = client.get(f"/api/v1/patients/imports/{body['id']}").json()
    assert job["state"] == "done" and job["counts"] == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "errors": 1,
    }
    assert job["progress"] == {"done": 4, "total": 4}
    errors = client.get(f"/api/v1/patients/imports/{body['id']}/errors")
    assert errors["Content-Type"].startswith("text/csv")
    assert "The family name is missing." in errors.content.decode()
    assert not Patient.objects.filter(family_name="Сидорова").exists()
    mapping = '{"Фамилия": "given_name", "Имя": "family_name"}'
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/patients/imports", {"file": _upload(_csv(ROWS)), "mapping": mapping})
    assert response.status_code == 202
    assert Patient.objects.filter(given_name="Сидорова", family_name="Мария").exists()


def test_api_refusals(people, login_client) -> None:
    registrar = login_client(people.registrar)
    refused = registrar.post("/api/v1/patients/imports", {"file": _upload(bytes(range(256)) * 9)})
    assert refused.status_code == 422 and refused.json()["code"] == "file_refused"
    bad_json = registrar.post("/api/v1/patients/imports", {"file": _upload(_csv(ROWS)), "mapping": "{nope"})
    assert bad_json.status_code == 422
    doctor = login_client(people.doctor).post("/api/v1/patients/imports", {"file": _upload(_csv(ROWS))})
    assert doctor.status_code == 403
    job = _import(people.registrar, people.org, _csv(ROWS))
    assert login_client(people.outsider).get(f"/api/v1/patients/imports/{job.pk}").status_code == 404
    assert login_client(people.doctor).get(f"/api/v1/patients/imports/{job.pk}/errors").status_code == 404
    assert Client().get(f"/api/v1/patients/imports/{job.pk}").status_code == 401
