"""Medical data use cases: add and edit medications, diagnoses, procedures and doctors' structured notes, stop a
medication, mark an entry as entered in error, set the allergies, pair two photos as before/after. Who may do it is
in records.access (the clinical roles: administrators, doctors, nurses; "entered in error": administrators, doctors
and the entry's author).

Every change is audited against the entry (object "records.<model>") with the patient; additions (and a stopped
medication, and an entry entered in error) go to the patient's timeline under a neutral title: every desk role reads
the timeline, and the desk roles do not read clinical data, so the title never carries the diagnosis, the
medication's name or the reason.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kabinet.audit.services import record, snapshot
from kabinet.core import permissions
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed, NotFound
from kabinet.core.models import Member, Role
from kabinet.patients import services as patient_services
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.records import access
from kabinet.records.models import (
    ClinicalEntry,
    ClinicalNote,
    Diagnosis,
    Document,
    DocumentKind,
    Medication,
    PhotoPair,
    Procedure,
)

REASON_MAX = 500

# kind → (model, the fields a person fills in, the timeline title of an addition)
ENTRY_KINDS: dict[str, tuple[type[ClinicalEntry], tuple[str, ...], Any]] = {
    "medication": (Medication, ("name", "dose", "started_on", "ends_on"), gettext_lazy("Medication added")),
    "diagnosis": (Diagnosis, ("text", "diagnosed_on", "doctor"), gettext_lazy("Diagnosis added")),
    "procedure": (
        Procedure,
        ("name", "performed_on", "doctor", "note", "appointment_ref"),
        gettext_lazy("Procedure recorded"),
    ),
    "note": (ClinicalNote, ("written_on", "complaint", "findings", "plan"), gettext_lazy("Doctor's note added")),
}
# The timeline line of an entry marked as entered in error: the kind, never the content nor the reason.
_ERRONEOUS_TITLES = {
    "medication": gettext_lazy("Medication marked as entered in error"),
    "diagnosis": gettext_lazy("Diagnosis marked as entered in error"),
    "procedure": gettext_lazy("Procedure marked as entered in error"),
    "note": gettext_lazy("Doctor's note marked as entered in error"),
}
# Entries dated in the past or today only: what was diagnosed, performed or written.
_NOT_IN_FUTURE = {"diagnosis": "diagnosed_on", "procedure": "performed_on", "note": "written_on"}
# The text that names the entry: required.
_REQUIRED = {"medication": "name", "diagnosis": "text", "procedure": "name"}


def kind_of(entry: ClinicalEntry) -> str:
    return next(kind for kind, (model, _fields, _title) in ENTRY_KINDS.items() if isinstance(entry, model))


def _timeline(patient: Patient, actor: Any, title: Any, entry: models.Model) -> None:
    """A neutral entry in the organisation's language (as the other apps' timeline titles)."""
    with translation.override(patient.organisation.default_language):
        patient_services.timeline_add(
            patient=patient,
            kind=TimelineEntry.Kind.MEDICAL,
            title=str(title),
            actor=actor,
            ref_type=entry._meta.label_lower,
            ref_id=entry.pk,
            data={"entry": entry._meta.model_name},
        )


def _doctor(actor: Any, organisation_id: int, value: Any) -> Member | None:
    """The doctor of a diagnosis or procedure: the one chosen (a doctor of the clinic), else the author when a
    doctor."""
    if value in (None, ""):
        return Member.objects.filter(
            user=actor, organisation_id=organisation_id, is_active=True, roles__role=Role.DOCTOR
        ).first()
    member_id = value.pk if isinstance(value, Member) else value
    doctor = Member.objects.filter(
        pk=member_id, organisation_id=organisation_id, is_active=True, roles__role=Role.DOCTOR
    ).first()
    if doctor is None:
        raise Invalid(errors={"doctor": [_("Choose a doctor of this clinic.")]})
    return doctor


def _cleaned(fields: tuple[str, ...], data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(fields)
    if unknown:
        raise Invalid(errors={name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    cleaned = {}
    for name, value in data.items():
        if isinstance(value, str):
            value = value.strip()
        if name in ("started_on", "ends_on") and value == "":
            value = None
        cleaned[name] = value
    return cleaned


def _validate(kind: str, entry: ClinicalEntry) -> None:
    errors: dict[str, list[str]] = {}
    required = _REQUIRED.get(kind)
    if required and not getattr(entry, required):
        errors[required] = [_("This field is required.")]
    if isinstance(entry, ClinicalNote) and not (entry.complaint or entry.findings or entry.plan):
        errors["__all__"] = [_("Write the complaint, the findings or the plan.")]
    if isinstance(entry, Medication) and entry.started_on and entry.ends_on and entry.ends_on < entry.started_on:
        errors["ends_on"] = [_("The end is before the start.")]
    dated = _NOT_IN_FUTURE.get(kind)
    if dated:
        when = getattr(entry, dated)
        if when is None:
            errors[dated] = [_("This field is required.")]
        elif when > timezone.localdate():
            errors[dated] = [_("This date is in the future.")]
    try:
        entry.full_clean(exclude=["organisation", "patient", "author", "doctor", *errors])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise Invalid(errors=errors)


def medical_entry_add(*, actor: Any, patient: Patient, kind: str, data: dict[str, Any]) -> ClinicalEntry:
    """Add a medication, diagnosis, procedure or doctor's note (`kind`) to the patient's record (clinical roles).
    A diagnosis or procedure without a doctor gets the author when the author is a doctor. Audited with the
    values; the timeline gets a neutral line ("Diagnosis added")."""
    if kind not in ENTRY_KINDS:
        raise Invalid(errors={"kind": [_("Unknown kind of entry.")]})
    access.require_write_medical(actor, patient.organisation_id)
    model, fields, title = ENTRY_KINDS[kind]
    values = _cleaned(fields, data)
    if "doctor" in fields:
        values["doctor"] = _doctor(actor, patient.organisation_id, values.get("doctor"))
    entry = model(
        organisation_id=patient.organisation_id,
        patient=patient,
        author=actor if getattr(actor, "is_authenticated", False) else None,
        **values,
    )
    _validate(kind, entry)
    with transaction.atomic():
        entry.save()
        record(
            actor=actor,
            action=f"medical.{kind}_added",
            obj=entry,
            patient=patient,
            after=snapshot(entry, list(fields)),
        )
        _timeline(patient, actor, title, entry)
    return entry


def _entered_in_error() -> Conflict:
    return Conflict(_("This entry was entered in error and cannot be changed."), code="entry_erroneous")


def medical_entry_update(*, actor: Any, entry: ClinicalEntry, data: dict[str, Any]) -> ClinicalEntry:
    """Correct an entry (clinical roles): only the given fields change; audited with before/after of the changed
    ones. A stopped medication's stop is changed by stopping it, not here; an entry entered in error is not changed
    any more (a conflict)."""
    access.require_write_medical(actor, entry.organisation_id)
    kind = kind_of(entry)
    model, fields, _title = ENTRY_KINDS[kind]
    values = _cleaned(fields, data)
    if "doctor" in values:
        values["doctor"] = _doctor(actor, entry.organisation_id, values["doctor"]) if values["doctor"] else None
    with transaction.atomic():
        locked = model._default_manager.select_for_update().get(pk=entry.pk)
        if locked.is_erroneous:
            raise _entered_in_error()
        changed = [
            name
            for name, value in values.items()
            if getattr(locked, name) != value
            and not (name == "doctor" and getattr(locked, "doctor_id", None) == getattr(value, "pk", None))
        ]
        if not changed:
            return locked
        before = snapshot(locked, changed)
        for name in changed:
            setattr(locked, name, values[name])
        _validate(kind, locked)
        locked.save()
        record(
            actor=actor,
            action=f"medical.{kind}_changed",
            obj=locked,
            patient=locked.patient_id,
            before=before,
            after=snapshot(locked, changed),
        )
    return locked


def medication_stop(
    *, actor: Any, medication: Medication, stopped_on: date | None = None, reason: str = ""
) -> Medication:
    """Stop a medication (clinical roles) on a day (today by default, not before it was started); it moves from the
    current medications to the past ones. Stopping a stopped medication, or one entered in error, is a conflict."""
    access.require_write_medical(actor, medication.organisation_id)
    stopped_on = stopped_on or timezone.localdate()
    reason = " ".join((reason or "").split())[:REASON_MAX]
    with transaction.atomic():
        locked = Medication.objects.select_for_update().select_related("patient__organisation").get(pk=medication.pk)
        if locked.is_erroneous:
            raise _entered_in_error()
        if locked.stopped_on is not None:
            raise Conflict(_("This medication is already stopped."), code="medication_stopped")
        if locked.started_on and stopped_on < locked.started_on:
            raise Invalid(errors={"stopped_on": [_("The medication was started later than that.")]})
        if stopped_on > timezone.localdate():
            raise Invalid(errors={"stopped_on": [_("This date is in the future.")]})
        locked.stopped_on, locked.stop_reason = stopped_on, reason
        locked.save(update_fields=["stopped_on", "stop_reason", "updated_at"])
        record(
            actor=actor,
            action="medical.medication_stopped",
            obj=locked,
            patient=locked.patient_id,
            before={"stopped_on": None},
            after={"stopped_on": stopped_on, "reason": reason},
        )
        _timeline(locked.patient, actor, gettext_lazy("Medication stopped"), locked)
    return locked


def medical_entry_mark_erroneous(*, actor: Any, entry: ClinicalEntry, reason: str) -> ClinicalEntry:
    """Mark a medication, diagnosis, procedure or doctor's note as entered in error, with a reason (required).

    As for documents, administrators, doctors and the entry's author (in a clinical role) may do it; other staff of
    the clinic are refused (NotAllowed), anyone else never learns the entry exists (NotFound). The entry stays
    listed, struck through with the reason; an erroneous medication is no longer current, and the entry cannot be
    edited or marked again (a conflict). Audited with before/after; the timeline gets a neutral line."""
    if not permissions.is_staff_of(actor, entry.organisation_id):
        raise NotFound()
    if not access.can_mark_medical_erroneous(actor, entry):
        raise NotAllowed()
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid(errors={"reason": [_("Enter the reason.")]})
    reason = reason[:REASON_MAX]
    kind = kind_of(entry)
    model = ENTRY_KINDS[kind][0]
    with transaction.atomic():
        locked = model._default_manager.select_for_update().select_related("patient__organisation").get(pk=entry.pk)
        if locked.is_erroneous:
            raise Conflict(_("This entry is already marked as entered in error."), code="entry_erroneous")
        locked.status = ClinicalEntry.Status.ERRONEOUS
        locked.status_reason = reason
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = actor
        locked.save(update_fields=["status", "status_reason", "status_changed_at", "status_changed_by", "updated_at"])
        record(
            actor=actor,
            action=f"medical.{kind}_marked_erroneous",
            obj=locked,
            patient=locked.patient_id,
            before={"status": ClinicalEntry.Status.ACTIVE},
            after={"status": locked.status, "reason": reason},
        )
        _timeline(locked.patient, actor, _ERRONEOUS_TITLES[kind], locked)
    return locked


def allergies_set(*, actor: Any, patient: Patient, allergies: str) -> Patient:
    """Set the allergies from the medical tab (clinical roles here; the details form of the card stays open to
    every role that edits details). The card header shows them to everyone."""
    access.require_write_medical(actor, patient.organisation_id)
    return patient_services.patient_update(actor=actor, patient=patient, changes={"allergies": allergies})


def _photo(patient: Patient, document: Document | None, field: str) -> Document:
    if (
        document is None
        or document.patient_id != patient.pk
        or document.kind != DocumentKind.PHOTO
        or document.status != Document.Status.ACTIVE
        or document.current_version is None
        or not document.current_version.is_image
    ):
        raise Invalid(errors={field: [_("Choose one of this patient's photos.")]})
    return document


def photo_pair_add(
    *, actor: Any, patient: Patient, before: Document | None, after: Document | None, label: str
) -> PhotoPair:
    """Pair two of the patient's active photos (images) as before and after under a label (clinical roles). The
    caller passes documents the actor may see (the selectors' scope); two different photos are needed."""
    access.require_write_medical(actor, patient.organisation_id)
    errors: dict[str, list[str]] = {}
    label = " ".join((label or "").split())[:200]
    if not label:
        errors["label"] = [_("Enter a label, e.g. Fillers, lips.")]
    for field, document in (("before", before), ("after", after)):
        try:
            _photo(patient, document, field)
        except Invalid as exc:
            errors.update(exc.errors)
    if not errors and before is not None and after is not None and before.pk == after.pk:
        errors["after"] = [_("Choose two different photos.")]
    if errors:
        raise Invalid(errors=errors)
    assert before is not None and after is not None
    with transaction.atomic():
        pair = PhotoPair.objects.create(
            organisation_id=patient.organisation_id,
            patient=patient,
            author=actor if getattr(actor, "is_authenticated", False) else None,
            label=label,
            before=before,
            after=after,
        )
        record(
            actor=actor,
            action="medical.photo_pair_added",
            obj=pair,
            patient=patient,
            after={"label": label, "before": before.pk, "after": after.pk},
        )
        _timeline(patient, actor, gettext_lazy("Before/after photos paired"), pair)
    return pair


def photo_pair_remove(*, actor: Any, pair: PhotoPair) -> None:
    """Undo a pairing (clinical roles); the photos stay. Audited."""
    access.require_write_medical(actor, pair.organisation_id)
    with transaction.atomic():
        record(
            actor=actor,
            action="medical.photo_pair_removed",
            obj=pair,
            patient=pair.patient_id,
            before={"label": pair.label, "before": pair.before_id, "after": pair.after_id},
        )
        pair.delete()


def may_write(user: Any, patient: Patient) -> bool:
    return permissions.is_staff_of(user, patient.organisation_id) and access.can_write_medical(
        user, patient.organisation_id
    )
