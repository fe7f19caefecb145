"""The recall diary and the passive list.

Rules enforced here:
- When a visit is completed, each active RecallRule of its service plans a call `after_days` later (a recall
  worklist item on that day, at most one per rule and visit). A control-visit call closes by itself when the
  patient has booked that service meanwhile.
- Active patients with no upcoming visit and no visit for the clinic's `passive_after_months` (and who have been
  patients that long) move to the passive list, through patients' status service (audited, on the timeline).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.core.models import Organisation
from kabinet.frontdesk.models import RecallRule, WorklistItem
from kabinet.frontdesk.services.common import board_changed, in_org_language, policy_for, timeline
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.patients.services import patient_status_set
from kabinet.scheduling.models import Appointment

Status = Appointment.Status
COUNTED = (Status.PENDING, Status.SCHEDULED, Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED)
PASSIVE_BATCH = 500


def recall_plan(*, appointment: Appointment, actor: Any) -> list[WorklistItem]:
    """Plan the recall calls of a completed visit (called by scheduling's hook inside the completion)."""
    rules = list(
        RecallRule.objects.filter(
            organisation_id=appointment.organisation_id, service_id=appointment.service_id, is_active=True
        )
    )
    if not rules:
        return []
    zone = appointment.location.zone
    completed_on = timezone.localdate(timezone.now(), zone)
    planned = []
    for rule in rules:
        day = completed_on + timedelta(days=rule.after_days)
        item, created = WorklistItem.objects.get_or_create(
            organisation_id=appointment.organisation_id,
            key=f"recall:{rule.pk}:{appointment.pk}",
            defaults={
                "kind": WorklistItem.Kind.RECALL,
                "day": day,
                "location_id": appointment.location_id,
                "patient_id": appointment.patient_id,
                "appointment": appointment,
                "recall_rule": rule,
                "note": rule.instructions,
            },
        )
        if not created:
            continue
        planned.append(item)
        record(
            actor=actor,
            action="recall.planned",
            obj=item,
            patient=appointment.patient_id,
            after={"rule": rule.pk, "day": day, "appointment": appointment.pk},
        )
        with in_org_language(appointment.patient.organisation):
            timeline(
                appointment.patient,
                kind=TimelineEntry.Kind.CALL,
                title=_("Call planned for %(date)s: %(rule)s") % {"date": day.strftime("%d.%m.%Y"), "rule": rule.name},
                actor=actor,
                ref_type="frontdesk.worklistitem",
                ref_id=item.pk,
            )
    if planned:
        board_changed(
            appointment.organisation_id,
            what="recall_planned",
            kind=WorklistItem.Kind.RECALL,
            location_id=appointment.location_id,
        )
    return planned


def recall_settle(*, organisation: Organisation, day: date) -> int:
    """Close due control-visit calls of patients who have booked that service since (nothing left to ask)."""
    due = WorklistItem.objects.filter(
        organisation=organisation,
        kind=WorklistItem.Kind.RECALL,
        state=WorklistItem.State.OPEN,
        day__lte=day,
        recall_rule__kind=RecallRule.Kind.VISIT,
    ).select_related("recall_rule", "appointment")
    now = timezone.now()
    closed = 0
    for item in due:
        if item.recall_rule is None:
            continue
        service_id = item.recall_rule.service_id
        booked = Appointment.objects.filter(
            patient_id=item.patient_id,
            service_id=service_id,
            start__gte=now,
            status__in=(Status.PENDING, Status.SCHEDULED, Status.CONFIRMED),
        ).exists()
        if booked:
            closed += WorklistItem.objects.filter(pk=item.pk, state=WorklistItem.State.OPEN).update(
                state=WorklistItem.State.CLOSED, outcome=WorklistItem.Outcome.OBSOLETE, closed_at=now
            )
    if closed:
        board_changed(organisation.pk, what="recall_settled", kind=WorklistItem.Kind.RECALL, day=day)
    return closed


def passive_candidates(*, organisation: Organisation, now: datetime | None = None) -> Any:
    """Active patients without an upcoming visit and without a visit for the clinic's number of months."""
    now = now or timezone.now()
    months = policy_for(organisation.pk).passive_after_months
    since = now - timedelta(days=round(months * 30.44))
    visits = Appointment.objects.filter(patient_id=OuterRef("pk"), status__in=COUNTED)
    return (
        Patient.objects.filter(organisation=organisation, status=Patient.Status.ACTIVE, created_at__lt=since)
        .annotate(upcoming=Exists(visits.filter(start__gte=now)), recent=Exists(visits.filter(start__gte=since)))
        .filter(upcoming=False, recent=False)
        .order_by("pk")
    )


def passive_list_update(*, organisation: Organisation, now: datetime | None = None) -> int:
    """Move the candidates to the passive list (the periodic job; idempotent: passive patients are not active)."""
    moved = 0
    months = policy_for(organisation.pk).passive_after_months
    for patient in list(passive_candidates(organisation=organisation, now=now)[:PASSIVE_BATCH]):
        with transaction.atomic():
            patient_status_set(actor=None, patient=patient, status=Patient.Status.PASSIVE)
            record(
                actor=None,
                action="patient.moved_to_passive",
                obj=patient,
                patient=patient,
                after={"months_without_visits": months},
            )
        moved += 1
    return moved
