"""Document use cases: make from a template, upload (staff and patients), revise, mark as entered in error, delete,
share. Who may do what is in records.access.

Every change is audited against the document (object "records.document", so the audit rows are the document's
history) and appended to the patient's timeline. Files are checked by records.files.check_upload and stored under
random names; a stored file is never changed or removed: a revision is a new version, a deletion is a status.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import uuid
from datetime import date
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.core.models import Member, Role
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.patients.selectors import own_patient_ids
from kabinet.patients.services import timeline_add
from kabinet.records import access, registry
from kabinet.records.files import CheckedFile, check_upload
from kabinet.records.models import (
    PATIENT_UPLOAD_KINDS,
    Document,
    DocumentKind,
    DocumentShare,
    DocumentTemplate,
    DocumentVersion,
)
from kabinet.records.rendering import FieldSpec, field_specs, render_document_pdf, template_context
from kabinet.records.signatures import clean_signature

REASON_MAX = 500
TEXT_MAX = 5000


# --- helpers ---------------------------------------------------------------------------------------------------


def _in_org_language(patient: Patient) -> translation.override:
    """Timeline titles are stored as text in the organisation's language (as in patients.services)."""
    return translation.override(patient.organisation.default_language)


def _patient_language(patient: Patient) -> str:
    return patient.language or patient.organisation.default_language


def _store(organisation_id: int, content: bytes, extension: str) -> str:
    """Save the bytes under a random name (the uploaded name is never used for storage) and return that name."""
    today = timezone.now()
    name = f"records/{organisation_id}/{today:%Y/%m}/{uuid.uuid4().hex}.{extension}"
    return default_storage.save(name, ContentFile(content))


def _discard(name: str) -> None:
    with contextlib.suppress(OSError):  # best effort: an orphan file is harmless, a lost document is not
        default_storage.delete(name)


def _clean_title(title: str, fallback: str) -> str:
    return (" ".join((title or "").split()) or fallback)[:200]


def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid(errors={"reason": [_("Enter the reason.")]})
    return reason[:REASON_MAX]


def _clean_fields(specs: list[FieldSpec], values: dict[str, Any]) -> dict[str, Any]:
    """Field values as JSON: required ones present, dates as ISO text, numbers as numbers, checkboxes as booleans."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in specs:
        value = values.get(spec.name)
        if spec.type == "checkbox":
            cleaned[spec.name] = bool(value) and value not in ("0", "false", "off")
            if spec.required and not cleaned[spec.name]:
                errors[spec.name] = [_("Tick this box to continue.")]
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                errors[spec.name] = [_("This field is required.")]
            cleaned[spec.name] = ""
            continue
        if spec.type == "date":
            if isinstance(value, date):
                cleaned[spec.name] = value.isoformat()
            else:
                try:
                    cleaned[spec.name] = date.fromisoformat(str(value).strip()).isoformat()
                except ValueError:
                    errors[spec.name] = [_("Enter a date as YYYY-MM-DD.")]
        elif spec.type == "number":
            try:
                number = float(str(value).replace(",", ".").strip())
            except ValueError:
                errors[spec.name] = [_("Enter a number.")]
            else:
                cleaned[spec.name] = int(number) if number.is_integer() else number
        else:
            text = str(value).strip()
            if len(text) > TEXT_MAX:
                errors[spec.name] = [_("At most %(n)s characters.") % {"n": TEXT_MAX}]
            cleaned[spec.name] = text[:TEXT_MAX]
    if errors:
        raise Invalid(errors=errors)
    return cleaned


def _member_title(user: Any, organisation_id: int) -> str:
    member = Member.objects.filter(user=user, organisation_id=organisation_id).only("title").first()
    return member.title if member else ""


def _render(
    *,
    template: DocumentTemplate,
    patient: Patient,
    author: Any,
    values: dict[str, Any],
    title: str,
    version: int,
    signature: dict[str, Any] | None = None,
) -> bytes:
    specs = field_specs(template.fields)
    language = _patient_language(patient)
    context = template_context(
        patient=patient,
        organisation=patient.organisation,
        author=author,
        author_title=_member_title(author, patient.organisation_id),
        specs=specs,
        values=values,
        language=language,
        title=title,
    )
    # A body that does not place the fields itself gets them as a table under the text.
    rows = [] if "fields." in template.body else [(s.label, context["fields"][s.name]) for s in specs]
    return render_document_pdf(
        body=template.body, context=context, language=language, version=version, field_rows=rows, signature=signature
    )


def _add_version(
    *,
    document: Document,
    number: int,
    actor: Any,
    stored_name: str,
    content_type: str,
    size: int,
    sha256: str,
    original_name: str = "",
    fields: dict[str, Any] | None = None,
    note: str = "",
    signature: tuple[str, str] | None = None,
) -> DocumentVersion:
    """`signature`: the stored name of a drawn signature's picture and who signed."""
    version = DocumentVersion(
        document=document,
        number=number,
        fields=fields or {},
        original_name=original_name,
        content_type=content_type,
        size=size,
        sha256=sha256,
        note=note[:500],
        author=actor if getattr(actor, "is_authenticated", False) else None,
    )
    version.file.name = stored_name
    if signature is not None:
        version.signature.name, version.signed_by = signature[0], signature[1][:200]
        version.signed_at = timezone.now()
    version.save()
    document.current_version = version
    document.save(update_fields=["current_version", "updated_at"])
    return version


def _version_snapshot(version: DocumentVersion) -> dict[str, Any]:
    return {"version": version.number, "sha256": version.sha256, "size": version.size, "type": version.content_type}


def _timeline(patient: Patient, document: Document, actor: Any, title: str, body: str = "", **data: Any) -> None:
    timeline_add(
        patient=patient,
        kind=TimelineEntry.Kind.DOCUMENT,
        title=title,
        body=body,
        actor=actor,
        ref_type="records.document",
        ref_id=document.pk,
        data={"kind": document.kind, **data},
    )


def _create(
    *,
    actor: Any,
    patient: Patient,
    kind: str,
    title: str,
    origin: str,
    stored_name: str,
    checked: CheckedFile | None,
    pdf: bytes | None = None,
    template: DocumentTemplate | None = None,
    fields: dict[str, Any] | None = None,
    document_date: date | None = None,
    appointment_ref: int | None = None,
    restricted: bool = False,
) -> Document:
    """The common part of every way a document comes in: the row, version 1, audit, timeline. Removes the stored
    file again when the transaction fails."""
    try:
        with transaction.atomic():
            document = Document.objects.create(
                organisation_id=patient.organisation_id,
                patient=patient,
                kind=kind,
                title=title,
                origin=origin,
                template=template,
                document_date=document_date or timezone.localdate(),
                appointment_ref=appointment_ref,
                author=actor if getattr(actor, "is_authenticated", False) else None,
                restricted=restricted,
            )
            if checked is not None:
                version = _add_version(
                    document=document,
                    number=1,
                    actor=actor,
                    stored_name=stored_name,
                    content_type=checked.content_type,
                    size=checked.size,
                    sha256=checked.sha256,
                    original_name=checked.original_name,
                )
            else:
                assert pdf is not None
                version = _add_version(
                    document=document,
                    number=1,
                    actor=actor,
                    stored_name=stored_name,
                    content_type="application/pdf",
                    size=len(pdf),
                    sha256=hashlib.sha256(pdf).hexdigest(),
                    fields=fields,
                )
            record(
                actor=actor,
                action="document.created",
                obj=document,
                patient=patient,
                after={
                    "kind": kind,
                    "title": title,
                    "origin": origin,
                    "template": template.pk if template else None,
                    "restricted": restricted,
                    **_version_snapshot(version),
                },
            )
            with _in_org_language(patient):
                if origin == Document.Origin.PATIENT:
                    headline = _("The patient uploaded: %(title)s") % {"title": title}
                else:
                    headline = _("Document added: %(title)s") % {"title": title}
                _timeline(patient, document, actor, headline, str(DocumentKind(kind).label), origin=origin)
    except BaseException:
        _discard(stored_name)
        raise
    return document


def _commit_version(
    *,
    actor: Any,
    document: Document,
    number: int,
    previous: DocumentVersion | None,
    content: bytes,
    extension: str,
    checked: CheckedFile | None,
    fields: dict[str, Any],
    note: str,
    title: str,
    headline: StrOrPromise,
    action: str = "document.version_added",
    signature: tuple[bytes, str] | None = None,
) -> DocumentVersion:
    """Store the file (and a drawn signature's picture) and add version `number` under the document's row lock:
    the number is checked again there, so a concurrent edit gets 409. `headline` is the timeline's title with a
    %(title)s placeholder. Stored files are removed again when anything fails."""
    stored = _store(document.organisation_id, content, extension)
    stored_signature = _store(document.organisation_id, signature[0], "png") if signature else ""
    try:
        with transaction.atomic():
            locked = Document.objects.select_for_update().get(pk=document.pk)
            if locked.status != Document.Status.ACTIVE:
                raise Conflict(_("Only active documents can be edited."), code="document_not_active")
            if (locked.versions.aggregate(last=Max("number"))["last"] or 0) + 1 != number:
                raise Conflict(_("Someone saved a version at the same time. Reload and try again."))
            if title != locked.title:
                locked.title = title
                locked.save(update_fields=["title", "updated_at"])
            version = _add_version(
                document=locked,
                number=number,
                actor=actor,
                stored_name=stored,
                content_type=checked.content_type if checked else "application/pdf",
                size=len(content),
                sha256=checked.sha256 if checked else hashlib.sha256(content).hexdigest(),
                original_name=checked.original_name if checked else "",
                fields=fields,
                note=note,
                signature=(stored_signature, signature[1]) if signature else None,
            )
            after = {**_version_snapshot(version), "note": version.note, "title": locked.title}
            if signature:
                after["signed_by"] = version.signed_by
            record(
                actor=actor,
                action=action,
                obj=locked,
                patient=document.patient,
                before=_version_snapshot(previous) if previous else None,
                after=after,
            )
            with _in_org_language(document.patient):
                _timeline(
                    document.patient, locked, actor, str(headline) % {"title": locked.title}, note, version=number
                )
    except IntegrityError as exc:
        _discard(stored)
        if stored_signature:
            _discard(stored_signature)
        raise Conflict(_("Someone saved a version at the same time. Reload and try again.")) from exc
    except BaseException:
        _discard(stored)
        if stored_signature:
            _discard(stored_signature)
        raise
    return version


# --- staff: make, upload, revise -----------------------------------------------------------------------------------


def document_create_from_template(
    *,
    actor: Any,
    patient: Patient,
    template: DocumentTemplate,
    fields: dict[str, Any],
    title: str = "",
    document_date: date | None = None,
    appointment_ref: int | None = None,
) -> Document:
    """Fill a template's fields and render it to PDF in the patient's language (staff who may write the template's
    kind). The field values are kept with the version, so a later edit shows what changed."""
    access.require_write(actor, patient.organisation_id, template.kind)
    if template.organisation_id != patient.organisation_id or not template.is_active:
        raise Invalid(errors={"template": [_("Choose one of this clinic's templates.")]})
    values = _clean_fields(field_specs(template.fields), fields)
    title = _clean_title(title, template.name)
    pdf = _render(template=template, patient=patient, author=actor, values=values, title=title, version=1)
    stored = _store(patient.organisation_id, pdf, "pdf")
    return _create(
        actor=actor,
        patient=patient,
        kind=template.kind,
        title=title,
        origin=Document.Origin.TEMPLATE,
        stored_name=stored,
        checked=None,
        pdf=pdf,
        template=template,
        fields=values,
        document_date=document_date,
        appointment_ref=appointment_ref,
    )


def document_upload(
    *,
    actor: Any,
    patient: Patient,
    kind: str,
    title: str,
    upload: Any,
    document_date: date | None = None,
    template: DocumentTemplate | None = None,
    appointment_ref: int | None = None,
) -> Document:
    """Staff attach a file or a scan (e.g. a signed consent: name the template it is a printout of, so it counts
    for the mandatory-document rules that ask for that template). PDF, photos, DOCX and XLSX."""
    if kind not in DocumentKind.values:
        raise Invalid(errors={"kind": [_("Choose a document type from the list.")]})
    access.require_write(actor, patient.organisation_id, kind)
    if template is not None and (template.organisation_id != patient.organisation_id or template.kind != kind):
        raise Invalid(errors={"template": [_("Choose a template of this clinic with the same document type.")]})
    checked = check_upload(upload, allow_office=True)
    title = _clean_title(title, checked.original_name or str(DocumentKind(kind).label))
    stored = _store(patient.organisation_id, checked.content, checked.extension)
    return _create(
        actor=actor,
        patient=patient,
        kind=kind,
        title=title,
        origin=Document.Origin.UPLOAD,
        stored_name=stored,
        checked=checked,
        template=template,
        document_date=document_date,
        appointment_ref=appointment_ref,
    )


def document_upload_by_patient(*, actor: Any, patient: Patient, kind: str, title: str, upload: Any) -> Document:
    """A patient (or the proxy of a ward) sends a photo or a document from the patient area. Only PDFs and photos;
    the document is restricted to the patient's treating doctors (the doctors of their visits), who may share it
    with colleagues, and to administrators."""
    if patient.pk not in own_patient_ids(actor):
        raise NotAllowed()
    if kind not in PATIENT_UPLOAD_KINDS:
        raise Invalid(errors={"kind": [_("Choose a document type from the list.")]})
    checked = check_upload(upload, allow_office=False)
    title = _clean_title(title, str(DocumentKind(kind).label))
    stored = _store(patient.organisation_id, checked.content, checked.extension)
    doctors = list(
        Member.objects.filter(
            pk__in=registry.treating_doctors(patient.pk), organisation_id=patient.organisation_id, is_active=True
        )
    )
    try:
        with transaction.atomic():
            document = _create(
                actor=actor,
                patient=patient,
                kind=kind,
                title=title,
                origin=Document.Origin.PATIENT,
                stored_name=stored,
                checked=checked,
                restricted=True,
            )
            DocumentShare.objects.bulk_create(
                [
                    DocumentShare(
                        organisation_id=patient.organisation_id,
                        document=document,
                        member=doctor,
                        via=DocumentShare.Via.RECIPIENT,
                    )
                    for doctor in doctors
                ]
            )
    except BaseException:
        _discard(stored)
        raise
    return document


def document_revise(
    *,
    actor: Any,
    document: Document,
    fields: dict[str, Any] | None = None,
    upload: Any = None,
    note: str = "",
    title: str = "",
) -> DocumentVersion:
    """Editing makes a new version; the older ones stay readable. A template-made document is rendered again from
    new field values; any document may get a new file instead (e.g. a corrected scan).

    The PDF is rendered and the file stored before the transaction (SQLite would hold its single write lock while
    WeasyPrint works); inside it the version number is checked again, and a concurrent edit gets 409."""
    given = document
    document = Document.objects.select_related("current_version", "template", "patient__organisation").get(pk=given.pk)
    if document.status != Document.Status.ACTIVE:
        raise Conflict(_("Only active documents can be edited."), code="document_not_active")
    access.require_write(actor, document.organisation_id, document.kind)
    patient = document.patient
    previous = document.current_version
    number = (document.versions.aggregate(last=Max("number"))["last"] or 0) + 1
    new_title = _clean_title(title, document.title)
    checked: CheckedFile | None = None
    values: dict[str, Any] = {}
    if upload is not None:
        checked = check_upload(upload, allow_office=True)
        content, extension = checked.content, checked.extension
        values = previous.fields if previous else {}
    elif document.template is not None and document.origin == Document.Origin.TEMPLATE and fields is not None:
        values = _clean_fields(field_specs(document.template.fields), fields)
        if previous is not None and previous.fields == values and new_title == document.title:
            raise Invalid(errors={"__all__": [_("Nothing changed.")]})
        content = _render(
            template=document.template, patient=patient, author=actor, values=values, title=new_title, version=number
        )
        extension = "pdf"
    else:
        raise Invalid(errors={"file": [_("Choose the new file.")]})
    version = _commit_version(
        actor=actor,
        document=document,
        number=number,
        previous=previous,
        content=content,
        extension=extension,
        checked=checked,
        fields=values,
        note=note,
        title=new_title,
        headline=gettext_lazy("New version of %(title)s"),
    )
    given.refresh_from_db()
    return version


def document_sign(*, actor: Any, document: Document, image: bytes, signer: str = "") -> DocumentVersion:
    """The patient (or their representative) signs a template-made document on the screen, e.g. a consent on the
    desk's tablet: a new version is rendered with the drawn signature above the patient's signature line, and the
    cleaned picture is kept with the version. Staff who may edit the document's type do it.

    Sending the same picture again answers with the version it made (a retried submit makes no second version);
    editing the document later makes an unsigned version: the text changed, so it must be signed again."""
    given = document
    document = Document.objects.select_related("current_version", "template", "author", "patient__organisation").get(
        pk=given.pk
    )
    if document.status != Document.Status.ACTIVE:
        raise Conflict(_("Only active documents can be signed."), code="document_not_active")
    access.require_write(actor, document.organisation_id, document.kind)
    if not access.can_sign(document):
        raise Invalid(
            errors={
                "signature": [
                    _(
                        "Only documents made from a template can be signed on the screen. "
                        "Upload the signed paper as a scan instead."
                    )
                ]
            }
        )
    assert document.template is not None  # can_sign
    picture = clean_signature(image)
    previous = document.current_version
    if previous is not None and previous.signed_at is not None:
        with previous.signature.open("rb") as handle:
            if handle.read() == picture:
                return previous
    patient = document.patient
    signer = " ".join((signer or "").split())[:200] or str(patient)
    number = (document.versions.aggregate(last=Max("number"))["last"] or 0) + 1
    values = previous.fields if previous else {}
    signed_at = timezone.now()
    with _in_org_language(patient):
        note = _("Signed on the screen by %(name)s") % {"name": signer}
    content = _render(
        template=document.template,
        patient=patient,
        author=document.author,
        values=values,
        title=document.title,
        version=number,
        signature={
            "image": "data:image/png;base64," + base64.b64encode(picture).decode("ascii"),
            "name": signer,
            "at": timezone.localtime(signed_at),
        },
    )
    version = _commit_version(
        actor=actor,
        document=document,
        number=number,
        previous=previous,
        content=content,
        extension="pdf",
        checked=None,
        fields=values,
        note=note,
        title=document.title,
        headline=gettext_lazy("Signed: %(title)s"),
        action="document.signed",
        signature=(picture, signer),
    )
    given.refresh_from_db()
    return version


# --- status changes and sharing ----------------------------------------------------------------------------------


def document_mark_erroneous(*, actor: Any, document: Document, reason: str) -> Document:
    """Mark as entered in error, with a reason: the document stays listed (struck through) and readable, and no
    longer counts for mandatory documents. Administrators, doctors and the author may do it."""
    if not access.can_mark_erroneous(actor, document):
        raise NotAllowed()
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.status != Document.Status.ACTIVE:
            raise Conflict(_("The document is not active any more."), code="document_not_active")
        locked.status = Document.Status.ERRONEOUS
        locked.status_reason = reason
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = actor
        locked.save(update_fields=["status", "status_reason", "status_changed_at", "status_changed_by", "updated_at"])
        record(
            actor=actor,
            action="document.marked_erroneous",
            obj=locked,
            patient=locked.patient_id,
            before={"status": Document.Status.ACTIVE},
            after={"status": locked.status, "reason": reason},
        )
        with _in_org_language(document.patient):
            _timeline(
                document.patient,
                locked,
                actor,
                _("Document marked as entered in error: %(title)s") % {"title": locked.title},
                reason,
            )
    return locked


def document_delete(*, actor: Any, document: Document, reason: str) -> Document:
    """Soft delete with a reason (administrators, or the doctor who wrote it): the document disappears from lists
    and downloads, its rows, files and history stay."""
    if not access.can_delete(actor, document):
        raise NotAllowed()
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.status == Document.Status.DELETED:
            raise Conflict(_("The document is already deleted."), code="document_deleted")
        before = locked.status
        locked.status = Document.Status.DELETED
        locked.status_reason = reason
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = actor
        locked.save(update_fields=["status", "status_reason", "status_changed_at", "status_changed_by", "updated_at"])
        record(
            actor=actor,
            action="document.deleted",
            obj=locked,
            patient=locked.patient_id,
            before={"status": before},
            after={"status": locked.status, "reason": reason},
        )
        with _in_org_language(document.patient):
            _timeline(
                document.patient, locked, actor, _("Document deleted: %(title)s") % {"title": locked.title}, reason
            )
    return locked


def document_share(*, actor: Any, document: Document, member: Member) -> DocumentShare:
    """Give another doctor of the clinic access to a restricted document (administrators and doctors). Sharing
    twice with the same doctor is a conflict."""
    if not access.can_share(actor, document):
        raise NotAllowed()
    if (
        member.organisation_id != document.organisation_id
        or not member.is_active
        or not member.roles.filter(role=Role.DOCTOR).exists()
    ):
        raise Invalid(errors={"member": [_("Choose a doctor of this clinic.")]})
    if document.status == Document.Status.DELETED:
        raise Conflict(_("The document is deleted."), code="document_deleted")
    try:
        with transaction.atomic():
            share = DocumentShare.objects.create(
                organisation_id=document.organisation_id,
                document=document,
                member=member,
                via=DocumentShare.Via.SHARE,
                shared_by=actor,
            )
            record(
                actor=actor,
                action="document.shared",
                obj=document,
                patient=document.patient_id,
                after={"member": member.pk, "name": str(member.user)},
            )
    except IntegrityError as exc:
        raise Conflict(_("The document is already shared with this doctor."), code="already_shared") from exc
    return share


def can_staff_act(user: Any, patient: Patient) -> bool:
    """True when the user works for the patient's clinic (the API uses it to choose the staff or patient path)."""
    return permissions.is_staff_of(user, patient.organisation_id)
