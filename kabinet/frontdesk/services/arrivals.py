"""Arrival: one click marks the patient arrived, records the time and handles lateness; the answer carries the
prompts the registrar acts on (re-check personal data, missing mandatory documents or their signatures,
reschedule).

Rules enforced here (thresholds from the clinic's FrontDeskPolicy):
- late by less than `late_reschedule_from_minutes` (and at least `late_notify_from_minutes`): the visit becomes
  "arrived" and the doctor gets an in-app notice;
- late by `late_reschedule_from_minutes` or more: the arrival time is kept but the visit stays as it is, and the
  registrar is asked to reschedule (first free times with the same doctor) — or to let the doctor see the patient
  anyway (`seen_late=True`), which marks the arrival and tells the doctor;
- marking twice answers with the first arrival (idempotent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Organisation
from kabinet.frontdesk import calling, events
from kabinet.frontdesk.models import Arrival
from kabinet.frontdesk.services.common import (
    ARRIVAL_ROLES,
    board_changed,
    in_org_language,
    policy_for,
    timeline,
)
from kabinet.notifications import services as notifications
from kabinet.notifications.models import Channel
from kabinet.notifications.rendering import Translated
from kabinet.patients.models import TimelineEntry
from kabinet.scheduling.availability import Slot, free_slots
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_set_status

logger = logging.getLogger(__name__)

Status = Appointment.Status
ARRIVABLE = (Status.SCHEDULED, Status.CONFIRMED, Status.NO_SHOW)
SUGGESTIONS = 5


@dataclass(frozen=True)
class PromptLink:
    """A page where the registrar does what the prompt asks (e.g. fill in and sign a consent, upload its scan)."""

    label: str
    url: str


@dataclass(frozen=True)
class Prompt:
    """Something the registrar should do now: `code` is stable (API clients and the page key on it)."""

    code: str  # "late", "reschedule", "recheck_details", "missing_documents", "missing_signatures"
    text: str
    items: list[str] = field(default_factory=list)
    links: list[PromptLink] = field(default_factory=list)


@dataclass
class ArrivalResult:
    appointment: Appointment
    arrival: Arrival
    prompts: list[Prompt]
    suggestions: list[Slot] = field(default_factory=list)


def appointment_arrive(
    *, actor: Any, appointment: Appointment, seen_late: bool = False, now: datetime | None = None
) -> ArrivalResult:
    """Mark the patient of `appointment` arrived now (ARRIVAL_ROLES); see the module's rules."""
    permissions.require_role(actor, appointment.organisation_id, *ARRIVAL_ROLES)
    now = now or timezone.now()
    policy = policy_for(appointment.organisation_id)
    with transaction.atomic():
        current = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient__organisation", "service", "practitioner__user", "location")
            .get(pk=appointment.pk)
        )
        arrival = Arrival.objects.select_for_update().filter(appointment=current).first()
        if current.status not in (*ARRIVABLE, Status.ARRIVED):
            raise Invalid(
                _("A visit that is “%(status)s” cannot be marked arrived.") % {"status": current.get_status_display()},
                code="not_arrivable",
            )
        if arrival is None:
            late = calling.lateness(
                start=current.start,
                arrived_at=now,
                notify_from=policy.late_notify_from_minutes,
                reschedule_from=policy.late_reschedule_from_minutes,
            )
            arrival = Arrival.objects.create(
                organisation_id=current.organisation_id,
                appointment=current,
                arrived_at=now,
                late_minutes=late.minutes,
                lateness=late.level,
                recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            record(
                actor=actor,
                action="appointment.arrival_recorded",
                obj=arrival,
                patient=current.patient_id,
                after={"appointment": current.pk, "late_minutes": late.minutes, "lateness": late.level},
            )
            _arrival_timeline(current, arrival, actor)
            board_changed(current.organisation_id, what="arrived", location_id=current.location_id)
        very_late = arrival.lateness == Arrival.Lateness.VERY_LATE
        if current.status != Status.ARRIVED and (not very_late or seen_late):
            current = appointment_set_status(actor=actor, appointment=current, status=Status.ARRIVED)
            if very_late and not arrival.seen_late:
                arrival.seen_late = True
                arrival.save(update_fields=["seen_late"])
                record(actor=actor, action="appointment.seen_late", obj=arrival, patient=current.patient_id)
        if current.status == Status.ARRIVED and arrival.lateness != Arrival.Lateness.ON_TIME:
            _tell_doctor(current, arrival, actor)
    prompts, suggestions = _prompts(current, arrival, policy, now)
    return ArrivalResult(appointment=current, arrival=arrival, prompts=prompts, suggestions=suggestions)


def _arrival_timeline(appointment: Appointment, arrival: Arrival, actor: Any) -> None:
    with in_org_language(appointment.patient.organisation):
        if arrival.lateness == Arrival.Lateness.ON_TIME:
            title = _("Arrived for %(service)s") % {"service": appointment.service.display_name()}
        else:
            title = ngettext(
                "Arrived %(minutes)s minute late for %(service)s",
                "Arrived %(minutes)s minutes late for %(service)s",
                arrival.late_minutes,
            ) % {"minutes": arrival.late_minutes, "service": appointment.service.display_name()}
        timeline(
            appointment.patient,
            kind=TimelineEntry.Kind.APPOINTMENT,
            title=title,
            actor=actor,
            ref_type="scheduling.appointment",
            ref_id=appointment.pk,
            data={"late_minutes": arrival.late_minutes},
        )


def _tell_doctor(appointment: Appointment, arrival: Arrival, actor: Any) -> None:
    """An in-app notice to the doctor through the outbox (once per visit: the key is the visit's)."""
    if arrival.doctor_notified:
        return
    patient, service = appointment.patient, appointment.service
    notifications.send(
        organisation=Organisation.objects.get(pk=appointment.organisation_id),
        event=events.PATIENT_LATE,
        key=f"fd:late:{appointment.pk}",
        context={
            "patient": {"name": str(patient)},
            "service": {"name": Translated({c: service.display_name(c) for c in ("en", "ru", "bg")})},
            "minutes": arrival.late_minutes,
            "time": appointment.start,
        },
        user=appointment.practitioner.user,
        channels=[Channel.INAPP],
        time_zone=appointment.location.time_zone,
        quiet_hours=False,
        ref_type="scheduling.appointment",
        ref_id=appointment.pk,
        actor=actor,
    )
    arrival.doctor_notified = True
    arrival.save(update_fields=["doctor_notified"])


def _prompts(appointment: Appointment, arrival: Arrival, policy: Any, now: datetime) -> tuple[list[Prompt], list[Slot]]:
    prompts: list[Prompt] = []
    suggestions: list[Slot] = []
    minutes = arrival.late_minutes
    if arrival.lateness == Arrival.Lateness.VERY_LATE and appointment.status != Status.ARRIVED:
        prompts.append(
            Prompt(
                "reschedule",
                ngettext(
                    "The patient is %(minutes)s minute late: agree with the doctor to move the visit to another time.",
                    "The patient is %(minutes)s minutes late: agree with the doctor to move the visit to another time.",
                    minutes,
                )
                % {"minutes": minutes},
            )
        )
        suggestions = free_slots(
            service=appointment.service,
            practitioner_ids=[appointment.practitioner_id],
            start=now,
            end=now + timedelta(days=14),
            not_before=now + timedelta(minutes=5),
            location_id=appointment.location_id,
        )[:SUGGESTIONS]
    elif arrival.lateness != Arrival.Lateness.ON_TIME:
        prompts.append(
            Prompt(
                "late",
                ngettext(
                    "The patient is %(minutes)s minute late. The doctor has been told.",
                    "The patient is %(minutes)s minutes late. The doctor has been told.",
                    minutes,
                )
                % {"minutes": minutes},
            )
        )
    last = (
        Appointment.objects.filter(
            patient_id=appointment.patient_id,
            start__lt=appointment.start,
            status__in=(Status.ARRIVED, Status.COMPLETED),
        )
        .exclude(pk=appointment.pk)
        .order_by("-start")
        .values_list("start", flat=True)
        .first()
    )
    months = policy.recheck_details_after_months
    if last is not None and last < now - timedelta(days=round(months * 30.44)):
        prompts.append(
            Prompt(
                "recheck_details",
                _(
                    "The last visit was on %(date)s, more than %(months)s months ago: "
                    "check the personal data and phones."
                )
                % {"date": timezone.localtime(last, appointment.location.zone).strftime("%d.%m.%Y"), "months": months},
            )
        )
    missing = missing_mandatory_documents(appointment)
    absent = [m for m in missing if not m.signature_only]
    unsigned = [m for m in missing if m.signature_only]
    if absent:
        prompts.append(
            Prompt(
                "missing_documents",
                _("Missing mandatory documents: have them filled in and signed."),
                [m.name for m in absent],
                [link for m in absent for link in m.links],
            )
        )
    if unsigned:
        prompts.append(
            Prompt(
                "missing_signatures",
                _("Signatures missing: have the patient sign these documents on the screen or upload the signed scan."),
                [m.name for m in unsigned],
                [link for m in unsigned for link in m.links],
            )
        )
    return prompts, suggestions


@dataclass(frozen=True)
class MissingDocument:
    """A mandatory document the patient lacks for the visit: its rule's name, whether the document is there and
    only its signature is missing, and where to fix it."""

    name: str
    signature_only: bool
    links: list[PromptLink]


def missing_mandatory_documents(appointment: Appointment) -> list[MissingDocument]:
    """The mandatory documents the patient lacks (missing, expired, or not signed) for this visit, and where to fix
    each: fill in the rule's template (then sign it on the screen) or upload a signed scan; for a document made but
    not signed, sign that document on the screen or upload the signed scan.

    HOOK (records): the records app, written alongside, computes this as `records.selectors.consent_checks`; when it
    is absent (or changes its shape) the arrival carries no document prompt rather than failing."""
    try:
        from kabinet.records.selectors import consent_checks
    except ImportError:  # pragma: no cover - records not installed
        return []
    try:
        checks = consent_checks(patient=appointment.patient)
    except Exception:  # a hook must never stop an arrival
        logger.exception("mandatory documents check failed for appointment %s", appointment.pk)
        return []
    patient_id = appointment.patient_id
    missing = []
    for check in checks:
        # `required` looks at visits still to come; the one the patient arrived for may have started already.
        if check.ok or not (
            check.required
            or check.rule.applies_to(service_id=appointment.service_id, location_id=appointment.location_id)
        ):
            continue
        rule = check.rule
        upload = {"kind": rule.kind, **({"template": rule.template_id} if rule.template_id else {})}
        unsigned = check.document if check.state == "signature_missing" else None
        links = []
        if unsigned is not None:
            links.append(
                PromptLink(
                    _("Sign on the screen: %(name)s") % {"name": rule.name},
                    reverse("records:sign", args=[unsigned.pk]),
                )
            )
        elif rule.template_id:
            links.append(
                PromptLink(
                    _("Fill in and sign: %(name)s") % {"name": rule.name},
                    f"{reverse('records:new', args=[patient_id])}?{urlencode({'template': rule.template_id})}",
                )
            )
        links.append(
            PromptLink(
                _("Upload the signed scan: %(name)s") % {"name": rule.name},
                f"{reverse('records:upload', args=[patient_id])}?{urlencode(upload)}",
            )
        )
        missing.append(MissingDocument(rule.name, unsigned is not None, links))
    return missing
