"""Documents API: a patient's documents (list, upload), one document with its versions, its file, mark as entered in
error, delete. Medical data: a patient's medical record, and marking one of its entries as entered in error.

Staff see their organisations' documents by role; a patient's token sees their own and their wards' documents and
may upload photos and PDFs for them. Anything outside the caller's scope is 404, never a hint that it exists.
Files: 413 `file_too_large`, 422 `file_refused` (or a more precise code, e.g. `active_content`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from kabinet.core.exceptions import NotFound
from kabinet.patients.selectors import own_patient_ids, patient_get
from kabinet.records import medical, selectors, services
from kabinet.records.models import ClinicalEntry, Document, DocumentKind, DocumentVersion
from kabinet.records.serving import file_response

router = Router(tags=["documents"])


class DocumentOut(Schema):
    id: int
    patient: int = Field(..., description="Patient id")
    kind: str = Field(..., description="visit_note, procedure_protocol, lab_result, study, discharge_summary, …")
    title: str
    status: str = Field(..., description="active or erroneous (deleted documents are not shown)")
    status_reason: str
    origin: str = Field(..., description="template, upload or patient")
    document_date: date
    author: str
    restricted: bool = Field(
        ..., description="A patient's upload: only administrators and the doctors it is shared with"
    )
    version: int | None = Field(None, description="Number of the latest version")
    content_type: str
    size: int
    created_at: datetime
    updated_at: datetime


class ChangeOut(Schema):
    field: str
    before: Any
    after: Any


class VersionOut(Schema):
    number: int
    content_type: str
    size: int
    sha256: str
    fields: dict[str, Any]
    note: str
    author: str
    created_at: datetime
    changes: list[ChangeOut] = Field(..., description="What changed from the previous version")


class DocumentDetailOut(DocumentOut):
    versions: list[VersionOut]


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


def _document(document: Document) -> dict[str, Any]:
    current = document.current_version
    return {
        "id": document.pk,
        "patient": document.patient_id,
        "kind": document.kind,
        "title": document.title,
        "status": document.status,
        "status_reason": document.status_reason,
        "origin": document.origin,
        "document_date": document.document_date,
        "author": str(document.author) if document.author_id else "",
        "restricted": document.restricted,
        "version": current.number if current else None,
        "content_type": current.content_type if current else "",
        "size": current.size if current else 0,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }


def _version(row: selectors.VersionRow) -> dict[str, Any]:
    version: DocumentVersion = row.version
    return {
        "number": version.number,
        "content_type": version.content_type,
        "size": version.size,
        "sha256": version.sha256,
        "fields": version.fields,
        "note": version.note,
        "author": str(version.author) if version.author_id else "",
        "created_at": version.created_at,
        "changes": [{"field": c.label, "before": str(c.before), "after": str(c.after)} for c in row.changes],
    }


@router.get(
    "/patients/{patient_id}/documents",
    response=list[DocumentOut],
    summary="A patient's documents, newest first (audited read)",
)
def list_documents(request: HttpRequest, patient_id: int) -> Any:
    patient = patient_get(user=request.user, patient_id=patient_id)
    return [_document(d) for d in selectors.patient_documents(user=request.user, patient=patient, audit=True)]


@router.post(
    "/patients/{patient_id}/documents",
    response={201: DocumentOut},
    summary="Upload a document (multipart: kind, title, file)",
    description=(
        "Staff: PDF, JPEG, PNG, WEBP, HEIC, DOCX, XLSX, any kind they may write. A patient (or a proxy for a ward): "
        "PDF and photos of kind photo, lab_result, study, discharge_summary or other; the document goes to the "
        "patient's treating doctors. Files are checked by their content; 413 when too large, 422 when refused."
    ),
)
def upload_document(
    request: HttpRequest,
    patient_id: int,
    kind: Form[DocumentKind],
    file: File[UploadedFile],
    title: Form[str] = "",
    document_date: Form[date | None] = None,
) -> Any:
    patient = patient_get(user=request.user, patient_id=patient_id)
    if services.can_staff_act(request.user, patient):
        document = services.document_upload(
            actor=request.user, patient=patient, kind=kind, title=title, upload=file, document_date=document_date
        )
    elif patient.pk in own_patient_ids(request.user):
        document = services.document_upload_by_patient(
            actor=request.user, patient=patient, kind=kind, title=title, upload=file
        )
    else:  # pragma: no cover - patient_get already refused everyone else
        raise NotFound()
    return Status(201, _document(selectors.document_get(user=request.user, document_id=document.pk)))


@router.get("/documents/{document_id}", response=DocumentDetailOut, summary="A document with its versions (audited)")
def get_document(request: HttpRequest, document_id: int) -> Any:
    detail = selectors.document_detail(user=request.user, document_id=document_id)
    data = _document(detail.document)
    data["versions"] = [_version(row) for row in detail.versions]
    return data


@router.get(
    "/documents/{document_id}/file",
    summary="The file of the latest version, or of ?version=N, as an attachment (audited)",
    response={200: None},
)
def get_document_file(request: HttpRequest, document_id: int, version: int | None = None) -> HttpResponseBase:
    found = selectors.document_version(user=request.user, document_id=document_id, number=version)
    return file_response(found)


@router.post(
    "/documents/{document_id}/mark-erroneous",
    response=DocumentOut,
    summary="Mark as entered in error, with a reason (administrators, doctors, the author)",
)
def mark_erroneous(request: HttpRequest, document_id: int, payload: ReasonIn) -> Any:
    document = selectors.document_get(user=request.user, document_id=document_id)
    return _document(services.document_mark_erroneous(actor=request.user, document=document, reason=payload.reason))


@router.delete(
    "/documents/{document_id}",
    response={204: None},
    summary="Delete (soft), with a reason (administrators, or the doctor who wrote it)",
)
def delete_document(request: HttpRequest, document_id: int, payload: ReasonIn) -> Any:
    document = selectors.document_get(user=request.user, document_id=document_id)
    services.document_delete(actor=request.user, document=document, reason=payload.reason)
    return Status(204, None)


# --- medical data ------------------------------------------------------------------------------------------------


class ClinicalEntryOut(Schema):
    id: int
    status: str = Field(..., description="active or erroneous (entered in error: kept, struck through, not counted)")
    status_reason: str = Field(..., description="Why it was marked as entered in error")


class MedicationOut(ClinicalEntryOut):
    name: str
    dose: str
    started_on: date | None
    ends_on: date | None
    stopped_on: date | None
    stop_reason: str
    current: bool = Field(..., description="Taken now: not stopped, not ended and not entered in error")


class DiagnosisOut(ClinicalEntryOut):
    text: str
    diagnosed_on: date
    doctor: str


class ProcedureOut(ClinicalEntryOut):
    name: str
    performed_on: date
    doctor: str
    note: str


class ClinicalNoteOut(ClinicalEntryOut):
    written_on: date
    author: str
    complaint: str
    findings: str
    plan: str


class PhotoPairOut(Schema):
    id: int
    label: str
    before: int = Field(..., description="Document id of the photo before (its file: /documents/{id}/file)")
    after: int = Field(..., description="Document id of the photo after")
    created_at: datetime


class MedicalOut(Schema):
    patient: int
    allergies: str
    medications: list[MedicationOut] = Field(
        ..., description="Current ones first, then past ones, then those entered in error"
    )
    diagnoses: list[DiagnosisOut] = Field(..., description="Active ones first, then those entered in error")
    procedures: list[ProcedureOut]
    notes: list[ClinicalNoteOut]
    photo_pairs: list[PhotoPairOut]


class MedicalEntryStatusOut(Schema):
    id: int
    patient: int
    kind: str = Field(..., description="medication, diagnosis, procedure or note")
    status: str
    status_reason: str
    status_changed_at: datetime | None
    status_changed_by: str


def _name(user: Any) -> str:
    return str(user) if user is not None else ""


def _status(entry: ClinicalEntry) -> dict[str, Any]:
    return {"id": entry.pk, "status": entry.status, "status_reason": entry.status_reason}


@router.get(
    "/patients/{patient_id}/medical",
    response=MedicalOut,
    summary="A patient's medical data: allergies, medications, diagnoses, procedures, doctors' notes, photo pairs",
    description=(
        "Staff of the patient's clinic in a clinical role (administrator, doctor, nurse); the patient and the proxies "
        "of a ward. Other staff of the clinic get 403, anyone else 404. Audited as a read."
    ),
)
def get_medical(request: HttpRequest, patient_id: int) -> Any:
    patient = patient_get(user=request.user, patient_id=patient_id)
    record = selectors.medical_record(user=request.user, patient=patient)
    return {
        "patient": patient.pk,
        "allergies": patient.allergies,
        "medications": [
            {
                **_status(m),
                "name": m.name,
                "dose": m.dose,
                "started_on": m.started_on,
                "ends_on": m.ends_on,
                "stopped_on": m.stopped_on,
                "stop_reason": m.stop_reason,
                "current": current,
            }
            for current, rows in (
                (True, record.current_medications),
                (False, record.past_medications),
                (False, record.erroneous_medications),
            )
            for m in rows
        ],
        "diagnoses": [
            {
                **_status(d),
                "text": d.text,
                "diagnosed_on": d.diagnosed_on,
                "doctor": _name(d.doctor and d.doctor.user),
            }
            for d in record.diagnoses
        ],
        "procedures": [
            {
                **_status(p),
                "name": p.name,
                "performed_on": p.performed_on,
                "doctor": _name(p.doctor and p.doctor.user),
                "note": p.note,
            }
            for p in record.procedures
        ],
        "notes": [
            {
                **_status(n),
                "written_on": n.written_on,
                "author": _name(n.author),
                "complaint": n.complaint,
                "findings": n.findings,
                "plan": n.plan,
            }
            for n in record.notes
        ],
        "photo_pairs": [
            {"id": p.pk, "label": p.label, "before": p.before_id, "after": p.after_id, "created_at": p.created_at}
            for p in record.pairs
        ],
    }


@router.post(
    "/patients/{patient_id}/medical/{kind}/{entry_id}/mark-erroneous",
    response=MedicalEntryStatusOut,
    summary="Mark a medical entry as entered in error, with a reason (administrators, doctors, the author)",
    description=(
        "The entry stays in the record with status `erroneous` and the reason; a medication entered in error is no "
        "longer current, and the entry cannot be edited any more. 409 `entry_erroneous` when it already is; 422 "
        "without a reason; 403 for other staff of the clinic; 404 for anyone else or an entry of another patient."
    ),
)
def mark_medical_erroneous(
    request: HttpRequest,
    patient_id: int,
    kind: Literal["medication", "diagnosis", "procedure", "note"],
    entry_id: int,
    payload: ReasonIn,
) -> Any:
    patient = patient_get(user=request.user, patient_id=patient_id)
    model = medical.ENTRY_KINDS[kind][0]
    entry = selectors.medical_entry_get(user=request.user, model=model, entry_id=entry_id, patient=patient)
    entry = medical.medical_entry_mark_erroneous(actor=request.user, entry=entry, reason=payload.reason)
    return {
        **_status(entry),
        "patient": entry.patient_id,
        "kind": kind,
        "status_changed_at": entry.status_changed_at,
        "status_changed_by": _name(entry.status_changed_by),
    }
