"""The next visit at checkout: the first free times with the same doctor and service after some weeks, booking one
of them, and the reminder card (SMS through notifications; the PDF is rendered by the card view)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Organisation
from kabinet.frontdesk import events
from kabinet.frontdesk.services.common import ARRIVAL_ROLES, appointment_context, policy_for
from kabinet.notifications import services as notifications
from kabinet.notifications.models import Channel, Message
from kabinet.scheduling.availability import Slot, free_slots
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book

SEARCH_DAYS = 14  # look this far for free times, widening up to MAX_SEARCH_DAYS when the doctor is booked up
MAX_SEARCH_DAYS = 62
MAX_WEEKS = 104


def next_visit_slots(*, user: Any, appointment: Appointment, weeks: int | None = None, count: int = 6) -> list[Slot]:
    """The first `count` free times with the visit's doctor and service, `weeks` after the visit's day (the
    clinic's default when None), at the same location."""
    permissions.require_role(user, appointment.organisation_id, *ARRIVAL_ROLES)
    if weeks is None:
        weeks = policy_for(appointment.organisation_id).next_visit_weeks
    if not 0 <= weeks <= MAX_WEEKS:
        raise Invalid(errors={"weeks": [_("Give between 0 and 104 weeks.")]})
    zone = appointment.location.zone
    day = timezone.localtime(appointment.start, zone).date() + timedelta(weeks=weeks)
    start = max(datetime.combine(day, time.min, tzinfo=zone), timezone.now())
    span = SEARCH_DAYS
    while True:
        slots = free_slots(
            service=appointment.service,
            practitioner_ids=[appointment.practitioner_id],
            start=start,
            end=start + timedelta(days=span),
            not_before=timezone.now() + timedelta(minutes=5),
            location_id=appointment.location_id,
        )
        if len(slots) >= count or span >= MAX_SEARCH_DAYS:
            return slots[:count]
        span = min(span * 2, MAX_SEARCH_DAYS)


def next_visit_book(*, actor: Any, appointment: Appointment, start: datetime) -> Appointment:
    """Book the next visit of the same patient with the same doctor and service at `start` (staff)."""
    permissions.require_role(actor, appointment.organisation_id, *ARRIVAL_ROLES)
    with transaction.atomic():
        booked = appointment_book(
            actor=actor,
            patient=appointment.patient,
            practitioner=appointment.practitioner,
            service=appointment.service,
            start=start,
            location=appointment.location,
        )
        record(
            actor=actor,
            action="appointment.next_visit_booked",
            obj=booked,
            patient=booked.patient_id,
            after={"after_visit": appointment.pk, "start": booked.start},
        )
    return booked


def visit_card_send(*, actor: Any, appointment: Appointment) -> list[Message]:
    """The reminder card of `appointment` by SMS (staff); sending it again for the same time writes nothing new."""
    permissions.require_role(actor, appointment.organisation_id, *ARRIVAL_ROLES)
    if appointment.status not in (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED):
        raise Invalid(_("Only an upcoming visit has a reminder card."), code="not_upcoming")
    organisation = Organisation.objects.get(pk=appointment.organisation_id)
    with transaction.atomic():
        sent = notifications.send(
            organisation=organisation,
            event=events.VISIT_CARD,
            key=f"fd:card:{appointment.pk}:{appointment.start.astimezone(UTC):%Y%m%dT%H%M}",
            context=appointment_context(appointment, organisation),
            patient=appointment.patient,
            channels=[Channel.SMS],
            time_zone=appointment.location.time_zone,
            quiet_hours=False,
            expires_at=appointment.start,
            ref_type="scheduling.appointment",
            ref_id=appointment.pk,
            actor=actor,
        )
        if not sent:
            raise Invalid(
                _("No SMS can be sent to this patient: add a mobile number, or print the card."), code="no_sms"
            )
        record(
            actor=actor,
            action="appointment.visit_card_sent",
            obj=appointment,
            patient=appointment.patient_id,
            after={"messages": [m.pk for m in sent]},
        )
    return sent
