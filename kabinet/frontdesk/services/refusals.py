"""Refusals: the CRM status "refusal" with a reason from the clinic's catalogue, kept as a row for the reports."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import Invalid
from kabinet.frontdesk.models import Refusal, RefusalReason
from kabinet.frontdesk.services.common import in_org_language
from kabinet.patients.models import Patient
from kabinet.patients.services import STATUS_ROLES, patient_status_set
from kabinet.scheduling.models import Appointment


def refusal_reason_get(organisation_id: int, reason_id: int | None) -> RefusalReason:
    reason = None
    if reason_id is not None:
        reason = RefusalReason.objects.filter(pk=reason_id, organisation_id=organisation_id, is_active=True).first()
    if reason is None:
        raise Invalid(errors={"refusal_reason": [_("Choose the reason for the refusal from the list.")]})
    return reason


def refusal_record(
    *, actor: Any, patient: Patient, reason: RefusalReason, note: str = "", appointment: Appointment | None = None
) -> Refusal:
    """The patient declines further care (patients' STATUS_ROLES): a Refusal row for the reports, and the patient's
    CRM status becomes "refusal" with the reason's name (and the details) as its text."""
    permissions.require_role(actor, patient.organisation_id, *STATUS_ROLES)
    if reason.organisation_id != patient.organisation_id or not reason.is_active:
        raise Invalid(errors={"refusal_reason": [_("Choose the reason for the refusal from the list.")]})
    note = (note or "").strip()[:500]
    with transaction.atomic():
        refusal = Refusal.objects.create(
            organisation_id=patient.organisation_id,
            patient=patient,
            reason=reason,
            note=note,
            appointment=appointment,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        with in_org_language(patient.organisation):
            text = reason.display_name()
        patient_status_set(
            actor=actor, patient=patient, status=Patient.Status.REFUSAL, reason=f"{text} — {note}" if note else text
        )
        record(
            actor=actor,
            action="patient.refusal_recorded",
            obj=refusal,
            patient=patient,
            after={"reason": reason.pk, "note": note, "appointment": appointment.pk if appointment else None},
        )
    return refusal
