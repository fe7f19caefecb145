"""Patient use cases: creation and edits, contacts, tags, status, family links, notes, and the timeline.

Who may do what (staff of the patient's organisation; patients change nothing here):
- read the card and timeline: every staff role (see selectors);
- edit details, contacts, tags and write notes: EDIT_ROLES — everyone who talks to patients;
- change the CRM status (refusal, passive, archived): STATUS_ROLES — the front office and coordinators, who own
  the follow-up; a doctor's "the patient refused" goes through a note or the coordinator;
- link relatives and grant proxy rights: FAMILY_ROLES — a proxy sees and books for the ward, so only the people who
  check the documents at the desk (registrars) and administrators.
Every change is audited with the patient's id and, where people care, appended to the patient's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kabinet.accounts.models import normalize_email, normalize_phone
from kabinet.audit.services import record, snapshot
from kabinet.core import permissions, realtime
from kabinet.core.exceptions import Conflict, Invalid
from kabinet.core.models import Organisation, Role
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import (
    Patient,
    PatientEmail,
    PatientNote,
    PatientPhone,
    Relationship,
    Segment,
    Tag,
    TimelineEntry,
)
from kabinet.patients.selectors import patient_group

PATIENT_FIELDS = ["family_name", "given_name", "middle_name", "birth_date", "sex", "phone", "email", "language"]
EDITABLE_FIELDS = [
    *PATIENT_FIELDS,
    "address",
    "preferred_channel",
    "marketing_consent",
    "source",
    "allergies",
    "is_vip",
    "special_notes",
]
EDIT_ROLES = (Role.ADMIN, Role.REGISTRAR, Role.OPERATOR, Role.COORDINATOR, Role.DOCTOR, Role.NURSE)
STATUS_ROLES = (Role.ADMIN, Role.REGISTRAR, Role.OPERATOR, Role.COORDINATOR)
FAMILY_ROLES = (Role.ADMIN, Role.REGISTRAR)
TAG_LIMIT = 20


def _in_org_language(organisation: Organisation) -> translation.override:
    """Timeline titles are stored as text, written in the organisation's language (staff of one clinic share it)."""
    return translation.override(organisation.default_language)


def _normalised_phone(value: str, field: str, errors: dict[str, list[str]]) -> str:
    try:
        return normalize_phone(value) or ""
    except ValidationError as exc:
        errors[field] = list(exc.messages)
        return ""


def _normalised_email(value: str, field: str, errors: dict[str, list[str]]) -> str:
    email = normalize_email(value) or ""
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors[field] = list(exc.messages)
    return email


def _full_clean(patient: Patient) -> None:
    try:
        patient.full_clean(exclude=["organisation", "user", "tags"], validate_unique=False)
    except ValidationError as exc:
        raise Invalid(errors={k: list(v) for k, v in exc.message_dict.items()}) from exc


def _sync_primary_phone(patient: Patient) -> None:
    """Make the PatientPhone rows agree with `patient.phone`: that number is the one primary row (a changed
    primary number replaces the old one; clearing it promotes the next number, if any)."""
    rows = list(PatientPhone.objects.filter(patient=patient).order_by("-is_primary", "pk"))
    current = next((row for row in rows if row.is_primary), None)
    if current is not None and current.number == patient.phone:
        return
    if current is not None:
        current.delete()
        rows.remove(current)
    if not patient.phone:
        if rows:
            rows[0].is_primary = True
            rows[0].save(update_fields=["is_primary"])
            patient.phone = rows[0].number
            patient.save(update_fields=["phone", "updated_at"])
        return
    existing = next((row for row in rows if row.number == patient.phone), None)
    if existing is not None:
        existing.is_primary = True
        existing.save(update_fields=["is_primary"])
    else:
        PatientPhone.objects.create(
            organisation_id=patient.organisation_id, patient=patient, number=patient.phone, is_primary=True
        )


def _sync_primary_email(patient: Patient) -> None:
    """Same rule as phones, for `patient.email` and the PatientEmail rows."""
    rows = list(PatientEmail.objects.filter(patient=patient).order_by("-is_primary", "pk"))
    current = next((row for row in rows if row.is_primary), None)
    if current is not None and current.address == patient.email:
        return
    if current is not None:
        current.delete()
        rows.remove(current)
    if not patient.email:
        if rows:
            rows[0].is_primary = True
            rows[0].save(update_fields=["is_primary"])
            patient.email = rows[0].address
            patient.save(update_fields=["email", "updated_at"])
        return
    existing = next((row for row in rows if row.address == patient.email), None)
    if existing is not None:
        existing.is_primary = True
        existing.save(update_fields=["is_primary"])
    else:
        PatientEmail.objects.create(
            organisation_id=patient.organisation_id, patient=patient, address=patient.email, is_primary=True
        )


def patient_create(
    *,
    actor: Any,
    organisation: Organisation,
    family_name: str,
    given_name: str,
    middle_name: str = "",
    birth_date: date | None = None,
    sex: str = Patient.Sex.UNKNOWN,
    phone: str = "",
    email: str = "",
    language: str = "",
    address: str = "",
    source: str = "",
) -> Patient:
    """Staff create a patient (e.g. from the calendar); the phone is stored in E.164 and the card gets the next
    card number of the organisation."""
    permissions.require_staff(actor, organisation)
    errors: dict[str, list[str]] = {}
    if not family_name.strip():
        errors["family_name"] = [_("Enter the family name.")]
    if not given_name.strip():
        errors["given_name"] = [_("Enter the given name.")]
    phone = _normalised_phone(phone, "phone", errors)
    email = _normalised_email(email, "email", errors)
    if errors:
        raise Invalid(errors=errors)
    patient = Patient(
        organisation=organisation,
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        middle_name=middle_name.strip(),
        birth_date=birth_date,
        sex=sex,
        phone=phone,
        email=email,
        language=language or organisation.default_language,
        address=address.strip(),
        source=source,
    )
    _full_clean(patient)
    with transaction.atomic():
        patient.save()
        _sync_primary_phone(patient)
        _sync_primary_email(patient)
        record(
            actor=actor, action="patient.created", obj=patient, patient=patient, after=snapshot(patient, PATIENT_FIELDS)
        )
        with _in_org_language(organisation):
            timeline_add(patient=patient, kind=TimelineEntry.Kind.PROFILE, title=_("Card created"), actor=actor)
    return patient


def patient_update(*, actor: Any, patient: Patient, changes: Mapping[str, Any]) -> Patient:
    """Change the patient's details (EDIT_ROLES). Only the given fields change (PATCH); phones and emails are
    normalised, the primary phone/email rows follow. Audited with before/after of the changed fields only."""
    permissions.require_role(actor, patient.organisation_id, *EDIT_ROLES)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(errors={name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "phone":
            value = _normalised_phone(value or "", name, errors)
        elif name == "email":
            value = _normalised_email(value or "", name, errors)
        elif isinstance(value, str):
            value = value.strip()
        cleaned[name] = value
    for name in ("family_name", "given_name"):
        if name in cleaned and not cleaned[name]:
            errors[name] = [_("This field is required.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        changed = [name for name, value in cleaned.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        before = snapshot(locked, changed)
        for name in changed:
            setattr(locked, name, cleaned[name])
        _full_clean(locked)
        locked.save()
        if "phone" in changed:
            _sync_primary_phone(locked)
        if "email" in changed:
            _sync_primary_email(locked)
        record(
            actor=actor,
            action="patient.updated",
            obj=locked,
            patient=locked,
            before=before,
            after=snapshot(locked, changed),
        )
        with _in_org_language(locked.organisation):
            labels = [str(getattr(Patient._meta.get_field(name), "verbose_name", name)) for name in changed]
            timeline_add(
                patient=locked,
                kind=TimelineEntry.Kind.PROFILE,
                title=_("Details changed"),
                body=", ".join(labels),
                actor=actor,
                data={"fields": changed},
            )
    return locked


def patient_phone_add(
    *, actor: Any, patient: Patient, number: str, kind: str = PatientPhone.Kind.MOBILE, primary: bool = False
) -> PatientPhone:
    """Add a phone (EDIT_ROLES). The first phone, or one added as primary, becomes `Patient.phone`."""
    permissions.require_role(actor, patient.organisation_id, *EDIT_ROLES)
    errors: dict[str, list[str]] = {}
    normalised = _normalised_phone(number, "number", errors)
    if not normalised and not errors:
        errors["number"] = [_("Enter a phone number.")]
    if kind not in PatientPhone.Kind.values:
        errors["kind"] = [_("Choose a kind from the list.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if PatientPhone.objects.filter(patient=locked, number=normalised).exists() or locked.phone == normalised:
            raise Conflict(_("The patient already has this phone number."), code="phone_exists")
        _sync_primary_phone(locked)  # rows created outside the services get their primary row first
        make_primary = primary or not locked.phone
        if make_primary:
            PatientPhone.objects.filter(patient=locked, is_primary=True).update(is_primary=False)
        phone = PatientPhone.objects.create(
            organisation_id=locked.organisation_id,
            patient=locked,
            number=normalised,
            kind=kind,
            is_primary=make_primary,
        )
        if make_primary:
            locked.phone = normalised
            locked.save(update_fields=["phone", "updated_at"])
        record(
            actor=actor,
            action="patient.phone_added",
            obj=phone,
            patient=locked,
            after={"number": normalised, "kind": kind, "primary": make_primary},
        )
    patient.phone = locked.phone
    return phone


def patient_phone_remove(*, actor: Any, phone: PatientPhone) -> None:
    """Remove a phone (EDIT_ROLES); removing the primary one promotes the next number."""
    permissions.require_role(actor, phone.organisation_id, *EDIT_ROLES)
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=phone.patient_id)
        was_primary = phone.is_primary or patient.phone == phone.number
        PatientPhone.objects.filter(pk=phone.pk).delete()
        if was_primary:
            patient.phone = ""
            patient.save(update_fields=["phone", "updated_at"])
            _sync_primary_phone(patient)
        record(
            actor=actor,
            action="patient.phone_removed",
            obj=phone,
            object_id=phone.pk,
            patient=patient,
            before={"number": phone.number, "kind": phone.kind, "primary": was_primary},
        )


def patient_email_add(*, actor: Any, patient: Patient, address: str, primary: bool = False) -> PatientEmail:
    """Add an email address (EDIT_ROLES). The first one, or one added as primary, becomes `Patient.email`."""
    permissions.require_role(actor, patient.organisation_id, *EDIT_ROLES)
    errors: dict[str, list[str]] = {}
    normalised = _normalised_email(address, "address", errors)
    if not normalised and not errors:
        errors["address"] = [_("Enter an email address.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if PatientEmail.objects.filter(patient=locked, address=normalised).exists() or locked.email == normalised:
            raise Conflict(_("The patient already has this email address."), code="email_exists")
        _sync_primary_email(locked)
        make_primary = primary or not locked.email
        if make_primary:
            PatientEmail.objects.filter(patient=locked, is_primary=True).update(is_primary=False)
        email = PatientEmail.objects.create(
            organisation_id=locked.organisation_id, patient=locked, address=normalised, is_primary=make_primary
        )
        if make_primary:
            locked.email = normalised
            locked.save(update_fields=["email", "updated_at"])
        record(
            actor=actor,
            action="patient.email_added",
            obj=email,
            patient=locked,
            after={"address": normalised, "primary": make_primary},
        )
    patient.email = locked.email
    return email


def patient_email_remove(*, actor: Any, email: PatientEmail) -> None:
    """Remove an email address (EDIT_ROLES); removing the primary one promotes the next address."""
    permissions.require_role(actor, email.organisation_id, *EDIT_ROLES)
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=email.patient_id)
        was_primary = email.is_primary or patient.email == email.address
        PatientEmail.objects.filter(pk=email.pk).delete()
        if was_primary:
            patient.email = ""
            patient.save(update_fields=["email", "updated_at"])
            _sync_primary_email(patient)
        record(
            actor=actor,
            action="patient.email_removed",
            obj=email,
            object_id=email.pk,
            patient=patient,
            before={"address": email.address, "primary": was_primary},
        )


def patient_tags_set(*, actor: Any, patient: Patient, names: Iterable[str]) -> list[Tag]:
    """Replace the patient's tags by `names` (EDIT_ROLES); unknown names become new tags of the organisation."""
    permissions.require_role(actor, patient.organisation_id, *EDIT_ROLES)
    wanted: dict[str, str] = {}
    for name in names:
        clean = " ".join(str(name).split())[:50]
        if clean:
            wanted.setdefault(clean.casefold(), clean)
    if len(wanted) > TAG_LIMIT:
        raise Invalid(errors={"tags": [_("A patient can have at most %(limit)s tags.") % {"limit": TAG_LIMIT}]})
    with transaction.atomic():
        existing = {t.name.casefold(): t for t in Tag.objects.filter(organisation_id=patient.organisation_id)}
        tags = []
        for key, name in wanted.items():
            tag = existing.get(key)
            if tag is None:
                tag = Tag.objects.create(organisation_id=patient.organisation_id, name=name)
            tags.append(tag)
        before = sorted(patient.tags.values_list("name", flat=True))
        patient.tags.set(tags)
        after = sorted(t.name for t in tags)
        if before != after:
            record(
                actor=actor,
                action="patient.tags_set",
                obj=patient,
                patient=patient,
                before={"tags": before},
                after={"tags": after},
            )
    return sorted(tags, key=lambda t: t.name.casefold())


def patient_status_set(*, actor: Any, patient: Patient, status: str, reason: str = "") -> Patient:
    """Change the CRM status (STATUS_ROLES). A refusal needs a reason (the coordinator follows it up); the reason is
    kept for refusal and archived, and cleared when the patient becomes active or passive again.
    `actor=None` is a system job (the front desk's passive list): no one to check, audited as "system"."""
    if actor is not None:
        permissions.require_role(actor, patient.organisation_id, *STATUS_ROLES)
    reason = (reason or "").strip()
    if status not in Patient.Status.values:
        raise Invalid(errors={"status": [_("Choose a status from the list.")]})
    if status == Patient.Status.REFUSAL and not reason:
        raise Invalid(errors={"reason": [_("Enter the reason for the refusal.")]})
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if locked.status == status and locked.status_reason == reason:
            return locked
        before = snapshot(locked, ["status", "status_reason"])
        locked.status = status
        locked.status_reason = reason if status in (Patient.Status.REFUSAL, Patient.Status.ARCHIVED) else ""
        locked.status_changed_at = timezone.now()
        locked.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
        record(
            actor=actor,
            action="patient.status_changed",
            obj=locked,
            patient=locked,
            before=before,
            after=snapshot(locked, ["status", "status_reason"]),
        )
        with _in_org_language(locked.organisation):
            timeline_add(
                patient=locked,
                kind=TimelineEntry.Kind.STATUS,
                title=_("Status: %(status)s") % {"status": Patient.Status(status).label},
                body=locked.status_reason,
                actor=actor,
                data={"status": status, "previous": before["status"]},
            )
    return locked


def relative_link(
    *, actor: Any, patient: Patient, relative: Patient, kind: str, is_proxy: bool = False
) -> Relationship:
    """Record that `relative` is `kind` of `patient` (FAMILY_ROLES); with `is_proxy` the relative may act for the
    patient (book, see documents). Both must be patients of the same organisation; linking twice is a conflict."""
    permissions.require_role(actor, patient.organisation_id, *FAMILY_ROLES)
    if relative.organisation_id != patient.organisation_id:
        raise Invalid(errors={"relative": [_("Choose a patient of the same clinic.")]})
    if relative.pk == patient.pk:
        raise Invalid(errors={"relative": [_("A patient cannot be their own relative.")]})
    if kind not in Relationship.Kind.values:
        raise Invalid(errors={"kind": [_("Choose a relation from the list.")]})
    try:
        with transaction.atomic():
            link = Relationship.objects.create(
                organisation_id=patient.organisation_id,
                patient=patient,
                relative=relative,
                kind=kind,
                is_proxy=is_proxy,
            )
            record(
                actor=actor,
                action="patient.relative_linked",
                obj=link,
                patient=patient,
                after={"relative": relative.pk, "kind": kind, "is_proxy": is_proxy},
            )
            with _in_org_language(patient.organisation):
                relation = Relationship.Kind(kind).label
                title = _("%(name)s linked as %(relation)s") % {"name": relative, "relation": relation}
                for person in (patient, relative):
                    timeline_add(
                        patient=person,
                        kind=TimelineEntry.Kind.FAMILY,
                        title=title,
                        body=_("May act for the patient.") if is_proxy else "",
                        actor=actor,
                        ref_type="patients.relationship",
                        ref_id=str(link.pk),
                    )
    except IntegrityError as exc:
        raise Conflict(_("These patients are already linked."), code="already_linked") from exc
    return link


def relative_unlink(*, actor: Any, relationship: Relationship) -> None:
    """Remove a family link and with it any proxy rights it gave (FAMILY_ROLES)."""
    permissions.require_role(actor, relationship.organisation_id, *FAMILY_ROLES)
    with transaction.atomic():
        patient, relative = relationship.patient, relationship.relative
        before = {"relative": relative.pk, "kind": relationship.kind, "is_proxy": relationship.is_proxy}
        link_id = relationship.pk
        Relationship.objects.filter(pk=link_id).delete()
        record(
            actor=actor,
            action="patient.relative_unlinked",
            object_type="patients.relationship",
            object_id=link_id,
            organisation=relationship.organisation_id,
            patient=patient,
            before=before,
        )
        with _in_org_language(patient.organisation):
            title = _("Family link removed: %(name)s") % {"name": relative}
            for person in (patient, relative):
                timeline_add(
                    patient=person,
                    kind=TimelineEntry.Kind.FAMILY,
                    title=title,
                    actor=actor,
                    ref_type="patients.relationship",
                    ref_id=str(link_id),
                )


def note_add(*, actor: Any, patient: Patient, text: str, scope: str = PatientNote.Scope.PATIENT) -> PatientNote:
    """A staff note (EDIT_ROLES) on the patient or, with the family scope, on the whole family (every linked
    relative's card shows it). The note also appears in the patient's timeline."""
    permissions.require_role(actor, patient.organisation_id, *EDIT_ROLES)
    text = (text or "").strip()
    if not text:
        raise Invalid(errors={"text": [_("Write the note first.")]})
    if scope not in PatientNote.Scope.values:
        raise Invalid(errors={"scope": [_("Choose who the note is about.")]})
    with transaction.atomic():
        note = PatientNote.objects.create(
            organisation_id=patient.organisation_id, patient=patient, author=actor, scope=scope, text=text
        )
        record(actor=actor, action="patient.note_added", obj=note, patient=patient, after={"scope": scope})
        with _in_org_language(patient.organisation):
            family = scope == PatientNote.Scope.FAMILY
            timeline_add(
                patient=patient,
                kind=TimelineEntry.Kind.NOTE,
                title=_("Family note") if family else _("Note"),
                body=text,
                actor=actor,
                occurred_at=note.created_at,
                ref_type="patients.patientnote",
                ref_id=str(note.pk),
                data={"scope": scope},
            )
    return note


def timeline_add(
    *,
    patient: Patient,
    kind: str,
    title: str,
    body: str = "",
    actor: Any = None,
    occurred_at: datetime | None = None,
    ref_type: str = "",
    ref_id: str | int = "",
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Append one entry to the patient's timeline and tell the staff watching the card (after commit).

    Called by other apps' services, which have already checked permissions and written their own audit event, so
    this neither checks nor audits. `kind` must be one of TimelineEntry.Kind (add a kind there first); `title` and
    `body` are stored as given, so pass them in the organisation's language. The live message carries ids only:
    the page fetches the entries through the permission-checked, audited timeline view.
    """
    if kind not in TimelineEntry.Kind.values:
        raise ValueError(f"unknown timeline kind {kind!r}")
    with transaction.atomic(savepoint=False):  # part of the caller's change, never a partial success of it
        entry = TimelineEntry.objects.create(
            organisation_id=patient.organisation_id,
            patient=patient,
            kind=kind,
            occurred_at=occurred_at or timezone.now(),
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            title=str(title)[:300],
            body=str(body or ""),
            ref_type=ref_type,
            ref_id=str(ref_id),
            data=data or {},
        )
        realtime.publish(
            patient_group(patient.pk), "patient.timeline", {"patient": patient.pk, "entry": entry.pk, "kind": kind}
        )
    return entry


def timeline_update(*, entry_id: int, title: str | None = None, body: str | None = None, data: dict[str, Any]) -> None:
    """Change an entry's title/body and merge `data` into it, e.g. a message's delivery status as it progresses.

    Like timeline_add, called by other apps' services that own the entry's subject (ref_type/ref_id); it neither
    checks nor audits. A missing entry is ignored (the patient may have been erased)."""
    with transaction.atomic(savepoint=False):
        entry = TimelineEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            return
        fields = ["data"]
        entry.data = {**(entry.data or {}), **data}
        if title is not None:
            entry.title, fields = str(title)[:300], [*fields, "title"]
        if body is not None:
            entry.body, fields = str(body), [*fields, "body"]
        entry.save(update_fields=fields)
        realtime.publish(
            patient_group(entry.patient_id),
            "patient.timeline",
            {"patient": entry.patient_id, "entry": entry.pk, "kind": entry.kind},
        )


def segment_save(*, actor: Any, organisation: Organisation, name: str, criteria: PatientCriteria) -> Segment:
    """Save the list page's criteria under a name (any staff member of the organisation). Saving under a name that
    exists replaces that segment's criteria: names are unique within the organisation."""
    permissions.require_staff(actor, organisation)
    name = " ".join((name or "").split())
    if not name:
        raise Invalid(errors={"name": [_("Name the segment.")]})
    if len(name) > 100:
        raise Invalid(errors={"name": [_("Use at most 100 characters.")]})
    stored = criteria.as_json()
    with transaction.atomic():
        segment = Segment.objects.select_for_update().filter(organisation=organisation, name=name).first()
        before = {"criteria": segment.criteria} if segment else None
        if segment is None:
            segment = Segment.objects.create(organisation=organisation, name=name, criteria=stored, created_by=actor)
        else:
            segment.criteria = stored
            segment.save(update_fields=["criteria", "updated_at"])
        record(actor=actor, action="patient.segment_saved", obj=segment, before=before, after={"name": name, **stored})
    return segment


def segment_delete(*, actor: Any, segment: Segment) -> None:
    """Delete a saved segment (any staff member of its organisation); the patients are not touched."""
    permissions.require_staff(actor, segment.organisation_id)
    with transaction.atomic():
        segment_id = segment.pk
        Segment.objects.filter(pk=segment_id).delete()
        record(
            actor=actor,
            action="patient.segment_deleted",
            object_type="patients.segment",
            object_id=segment_id,
            organisation=segment.organisation_id,
            before={"name": segment.name, "criteria": segment.criteria},
        )
