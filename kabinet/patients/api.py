"""Patients API: search with filters, quick creation, the card (read and PATCH) and the timeline.

Staff see their current organisation's patients; a patient's token sees only their own record and their wards'
(read-only, without the staff-only fields); anyone else gets 404, never a hint that the patient exists.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from kabinet.core import permissions, tenancy
from kabinet.core.exceptions import Invalid, NotAllowed, NotFound
from kabinet.core.models import Organisation
from kabinet.core.paging import page
from kabinet.patients import importing, selectors, services
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import ImportJob, Patient, PatientNote, PatientPhone, TimelineEntry
from kabinet.patients.selectors import PatientCard

router = Router(tags=["patients"])


class PatientOut(Schema):
    id: int
    card_number: str
    family_name: str
    given_name: str
    middle_name: str
    birth_date: date | None
    sex: str
    phone: str
    email: str
    language: str
    status: str
    is_vip: bool
    tags: list[str]

    @staticmethod
    def resolve_tags(obj: Patient | dict[str, Any]) -> list[str]:
        if isinstance(obj, dict):  # the card, already resolved by _detail()
            return list(obj["tags"])
        return [t.name for t in obj.tags.all()]


class PhoneOut(Schema):
    number: str
    kind: str
    is_primary: bool


class RelativeOut(Schema):
    id: int = Field(..., description="The relative's patient id")
    name: str
    relation: str = Field(..., description="What the relative is to this patient: parent, child, spouse, other")
    may_act_for_patient: bool
    patient_may_act_for_them: bool


class NoteOut(Schema):
    id: int
    patient: int
    scope: str
    text: str
    author: str
    created_at: datetime


class PatientDetailOut(PatientOut):
    address: str
    preferred_channel: str
    marketing_consent: bool
    source: str
    status_reason: str
    allergies: str
    special_notes: str
    age: int | None
    phones: list[PhoneOut]
    emails: list[str]
    relatives: list[RelativeOut]
    notes: list[NoteOut]
    created_at: datetime
    updated_at: datetime


class PatientIn(Schema):
    family_name: str = Field(..., max_length=150)
    given_name: str = Field(..., max_length=150)
    middle_name: str = Field("", max_length=150)
    birth_date: date | None = None
    sex: Patient.Sex = Patient.Sex.UNKNOWN
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    language: str = Field("", max_length=8)
    address: str = Field("", max_length=500)
    source: Patient.Source | None = None


class PatientPatch(Schema):
    """Only the fields sent change. `tags` replaces the tag list; `status` with `status_reason` changes the status
    (a refusal needs a reason)."""

    family_name: str | None = Field(None, max_length=150)
    given_name: str | None = Field(None, max_length=150)
    middle_name: str | None = Field(None, max_length=150)
    birth_date: date | None = None
    sex: Patient.Sex | None = None
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    language: str | None = Field(None, max_length=8)
    address: str | None = Field(None, max_length=500)
    preferred_channel: Patient.Channel | None = None
    marketing_consent: bool | None = None
    source: Patient.Source | None = None
    allergies: str | None = None
    is_vip: bool | None = None
    special_notes: str | None = Field(None, max_length=500)
    tags: list[str] | None = None
    status: Patient.Status | None = None
    status_reason: str | None = Field(None, max_length=500)


class PatientFilters(Schema):
    search: str = Field("", description="Name, phone (any format, or a part of it), email or card number")
    status: Patient.Status | None = None
    tag: int | None = None
    sex: Patient.Sex | None = None
    language: str = ""
    source: Patient.Source | None = None
    age_min: int | None = Field(None, ge=0, le=150)
    age_max: int | None = Field(None, ge=0, le=150)
    doctor: int | None = Field(None, description="Member id of a doctor the patient has visits with")
    location: int | None = None
    service: int | None = Field(None, description="A service the patient had")
    last_visit_from: date | None = None
    last_visit_to: date | None = None
    next_visit_from: date | None = None
    next_visit_to: date | None = None
    debt: bool | None = Field(None, description="true: owes money; false: owes nothing (when billing is installed)")
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0)

    def criteria(self) -> PatientCriteria:
        values = self.dict(exclude={"search", "limit", "offset", "debt"}, exclude_none=True)
        extra = {"debt": self.debt} if self.debt is not None else {}
        return PatientCriteria(query=self.search, extra=extra, **{k: v for k, v in values.items() if v != ""})


class TimelineEntryOut(Schema):
    id: int
    kind: str
    occurred_at: datetime
    title: str
    body: str
    actor: str
    ref_type: str
    ref_id: str
    data: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: TimelineEntry) -> str:
        return str(obj.actor) if obj.actor_id else ""


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotFound()
    return organisation


def _is_staff(request: HttpRequest, organisation: Organisation) -> bool:
    return permissions.is_staff_of(request.user, organisation)


def _detail(card: PatientCard, *, staff: bool) -> dict[str, Any]:
    patient = card.patient
    data: dict[str, Any] = {
        name: getattr(patient, name)
        for name in [
            "id",
            "card_number",
            "family_name",
            "given_name",
            "middle_name",
            "birth_date",
            "sex",
            "phone",
            "email",
            "language",
            "status",
            "is_vip",
            "address",
            "preferred_channel",
            "marketing_consent",
            "source",
            "status_reason",
            "allergies",
            "special_notes",
            "created_at",
            "updated_at",
        ]
    }
    data["tags"] = [t.name for t in card.tags]
    data["age"] = card.age
    primary_rows = {p.number for p in card.phone_rows}
    phones = [{"number": p.number, "kind": p.kind, "is_primary": p.is_primary} for p in card.phone_rows]
    if patient.phone and patient.phone not in primary_rows:  # created outside the services: only the column
        phones.insert(0, {"number": patient.phone, "kind": PatientPhone.Kind.MOBILE, "is_primary": True})
    data["phones"] = phones
    data["emails"] = card.emails
    data["relatives"] = [
        {
            "id": row.other.pk,
            "name": str(row.other),
            "relation": row.kind,
            "may_act_for_patient": row.other_is_proxy,
            "patient_may_act_for_them": row.patient_is_proxy,
        }
        for row in card.relatives
    ]
    data["notes"] = [_note(n) for n in card.notes] if staff else []
    if not staff:  # what the clinic writes for itself stays with the clinic
        data.update(special_notes="", status_reason="", is_vip=False)
    return data


def _note(note: PatientNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "patient": note.patient_id,
        "scope": note.scope,
        "text": note.text,
        "author": str(note.author) if note.author_id else "",
        "created_at": note.created_at,
    }


@router.get(
    "/patients",
    response=list[PatientOut],
    summary="Search patients by name, phone, email or card number, with filters",
    description="Typos in names are tolerated. The total number of matches is in the X-Total-Count header.",
)
def search_patients(request: HttpRequest, response: HttpResponse, filters: Query[PatientFilters]) -> Any:
    organisation = _organisation(request)
    found = selectors.patient_search(user=request.user, organisation=organisation, criteria=filters.criteria())
    return list(page(response, found, offset=filters.offset, limit=filters.limit))


@router.post("/patients", response={201: PatientOut}, summary="Create a patient (staff)")
def create_patient(request: HttpRequest, payload: PatientIn) -> Any:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    data = payload.dict()
    data["source"] = data["source"] or ""
    return Status(201, services.patient_create(actor=request.user, organisation=organisation, **data))


@router.get("/patients/{int:patient_id}", response=PatientDetailOut, summary="A patient's card (audited read)")
def get_patient(request: HttpRequest, patient_id: int) -> Any:
    organisation = _organisation(request)
    card = selectors.patient_card(user=request.user, patient_id=patient_id, organisation=organisation)
    return _detail(card, staff=_is_staff(request, organisation))


@router.patch("/patients/{int:patient_id}", response=PatientDetailOut, summary="Change a patient's details (staff)")
def patch_patient(request: HttpRequest, patient_id: int, payload: PatientPatch) -> Any:
    organisation = _organisation(request)
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, organisation=organisation)
    if not _is_staff(request, organisation):
        raise NotAllowed()
    changes = payload.dict(exclude_unset=True)
    tags = changes.pop("tags", None)
    status = changes.pop("status", None)
    reason = changes.pop("status_reason", None)
    for name in ("family_name", "given_name", "sex", "is_vip", "marketing_consent"):
        if name in changes and changes[name] is None:
            changes.pop(name)
    changes = {k: ("" if v is None and k != "birth_date" else v) for k, v in changes.items()}
    if changes:
        patient = services.patient_update(actor=request.user, patient=patient, changes=changes)
    if tags is not None:
        services.patient_tags_set(actor=request.user, patient=patient, names=tags)
    if status is not None or reason is not None:
        services.patient_status_set(
            actor=request.user,
            patient=patient,
            status=status or patient.status,
            reason=reason if reason is not None else patient.status_reason,
        )
    card = selectors.patient_card(user=request.user, patient_id=patient_id, organisation=organisation)
    return _detail(card, staff=True)


@router.get(
    "/patients/{int:patient_id}/timeline",
    response=list[TimelineEntryOut],
    summary="A patient's timeline, newest first (staff; audited read)",
    description="The total number of entries is in the X-Total-Count header.",
)
def get_timeline(
    request: HttpRequest,
    response: HttpResponse,
    patient_id: int,
    kind: TimelineEntry.Kind | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> Any:
    organisation = _organisation(request)
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, organisation=organisation)
    if not _is_staff(request, organisation):
        raise NotAllowed()  # their own record, but the timeline holds the clinic's internal notes
    entries = selectors.timeline_entries(user=request.user, patient=patient, kind=kind or "")
    return list(page(response, entries, offset=offset, limit=limit))


# --- import of patient lists -------------------------------------------------------------------------------------


class ImportProgressOut(Schema):
    done: int
    total: int


class ImportCountsOut(Schema):
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: int


class ImportJobOut(Schema):
    id: int
    file_name: str
    format: str
    encoding: str
    mapping: dict[str, str] = Field(..., description="Column of the file -> patient field")
    dry_run: bool
    state: ImportJob.State
    counts: ImportCountsOut
    progress: ImportProgressOut
    errors_url: str = Field(..., description="The rows with problems as CSV")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _job(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "file_name": job.original_name,
        "format": job.format,
        "encoding": job.encoding,
        "mapping": job.mapping,
        "dry_run": job.dry_run,
        "state": job.state,
        "counts": job.counts(),
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "errors_url": f"/api/v1/patients/imports/{job.pk}/errors",
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _mapping(text: str) -> dict[str, str] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise Invalid(errors={"mapping": [_('Send the mapping as a JSON object: {"column": "field"}.')]})
    return value


@router.post(
    "/patients/imports",
    response={202: ImportJobOut},
    summary="Start importing a patient list (administrators and registrars)",
    description="Multipart: `file` (CSV in UTF-8 or Windows-1251, or XLSX), optional `mapping` (a JSON object "
    "column -> field; by default suggested from the column names) and `dry_run`. The job runs in the background: "
    "poll GET /patients/imports/{id}. A file that cannot be read gets 422 with the code `file_refused`.",
)
def start_import(
    request: HttpRequest,
    file: UploadedFile = File(...),  # noqa: B008 - django-ninja's way to declare a multipart part
    mapping: str = Form(""),
    dry_run: bool = Form(False),
) -> Any:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    job = importing.patient_import_start(
        actor=request.user, organisation=organisation, file=file, mapping=_mapping(mapping), dry_run=dry_run
    )
    return Status(202, _job(job))


@router.get("/patients/imports/{job_id}", response=ImportJobOut, summary="An import job: state, progress, counts")
def get_import(request: HttpRequest, job_id: int) -> Any:
    job = selectors.import_job_get(user=request.user, job_id=job_id, organisation=_organisation(request))
    return _job(job)


@router.get(
    "/patients/imports/{job_id}/errors",
    response={200: None},
    summary="The rows of an import with problems, as CSV (line; outcome; problems; the row's cells)",
)
def get_import_errors(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id, organisation=_organisation(request))
    response = HttpResponse(importing.error_report_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


# --- saved segments ----------------------------------------------------------------------------------------------


class SegmentOut(Schema):
    id: int
    name: str
    criteria: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SegmentIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    filters: PatientFilters | None = Field(None, description="The same filters as GET /patients (no paging)")


@router.get("/patients/segments", response=list[SegmentOut], summary="Saved patient segments of the organisation")
def list_segments(request: HttpRequest) -> Any:
    return list(selectors.segments_of(user=request.user, organisation=_organisation(request)))


@router.post(
    "/patients/segments",
    response={201: SegmentOut},
    summary="Save a search as a segment (staff); an existing name is replaced",
)
def save_segment(request: HttpRequest, payload: SegmentIn) -> Any:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    segment = services.segment_save(
        actor=request.user,
        organisation=organisation,
        name=payload.name,
        criteria=payload.filters.criteria() if payload.filters else PatientCriteria(),
    )
    return Status(201, segment)


@router.get(
    "/patients/segments/{segment_id}/patients",
    response=list[PatientOut],
    summary="The segment's patients now (its criteria applied again)",
    description="The total number of matches is in the X-Total-Count header.",
)
def segment_patients(
    request: HttpRequest,
    response: HttpResponse,
    segment_id: int,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0),
) -> Any:
    segment = selectors.segment_get(user=request.user, segment_id=segment_id, organisation=_organisation(request))
    found = selectors.segment_patients(user=request.user, segment=segment)
    return list(page(response, found, offset=offset, limit=limit))


@router.delete("/patients/segments/{segment_id}", response={204: None}, summary="Delete a saved segment")
def delete_segment(request: HttpRequest, segment_id: int) -> Any:
    segment = selectors.segment_get(user=request.user, segment_id=segment_id, organisation=_organisation(request))
    services.segment_delete(actor=request.user, segment=segment)
    return Status(204, None)
