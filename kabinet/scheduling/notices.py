"""What scheduling tells patients through the notifications outbox: the booking confirmation (with an .ics file),
reminders at the clinic's offsets, moves and cancellations. scheduling/services.py calls `appointment_notify`
inside each change's transaction, so the messages commit (or roll back) with the change.

Idempotency keys (notifications appends `#<channel>`):
  appt:<id>:booked:<start>      confirmation          appt:<id>:moved:<start>   the visit moved to <start>
  appt:<id>:reminder:<m>:<start> reminder <m> minutes before <start>           appt:<id>:cancelled
<start> is the visit's start in UTC, so a move writes new reminders under new keys while the old ones are cancelled
by prefix; booking the same visit twice or retrying a change never doubles a message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from kabinet.core.models import Organisation
from kabinet.notifications import services as notifications
from kabinet.notifications.rendering import Translated
from kabinet.scheduling.ical import appointment_ics, ics_filename
from kabinet.scheduling.models import Appointment

Status = Appointment.Status
UPCOMING = (Status.SCHEDULED, Status.CONFIRMED)
MIN_LEAD = timedelta(minutes=1)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _names(obj: Any) -> Translated:
    return Translated({code: obj.display_name(code) for code, _name in settings.LANGUAGES})


def _context(appointment: Appointment, organisation: Organisation) -> dict[str, Any]:
    patient, member, location = appointment.patient, appointment.practitioner, appointment.location
    doctor = " ".join(part for part in (member.title, str(member.user)) if part)
    context: dict[str, Any] = {
        "patient": {"name": str(patient), "first_name": patient.given_name},
        "doctor": {"name": doctor},
        "service": {"name": _names(appointment.service)},
        "location": {"name": location.name, "address": location.address},
        "clinic": {"name": organisation.name},
        "links": {"portal": settings.SITE_URL.rstrip("/") + "/my/"},
        "time": appointment.start,
    }
    if appointment.reason_id:
        context["reason"] = _names(appointment.reason)
    return context


def _ics(appointment: Appointment, language: str) -> list[notifications.Attachment]:
    content = appointment_ics(appointment, language=language).decode()
    return [{"filename": ics_filename(appointment), "mimetype": "text/calendar", "content": content}]


def _common(appointment: Appointment, organisation: Organisation, actor: Any) -> dict[str, Any]:
    return {
        "organisation": organisation,
        "patient": appointment.patient,
        "time_zone": appointment.location.time_zone,
        "ref_type": "scheduling.appointment",
        "ref_id": appointment.pk,
        "actor": actor,
    }


def _plan_reminders(appointment: Appointment, organisation: Organisation, policy: Any, actor: Any) -> None:
    now = timezone.now()
    context = _context(appointment, organisation)
    for minutes in policy.reminder_offsets or []:
        due = appointment.start - timedelta(minutes=int(minutes))
        if due < now + MIN_LEAD:
            continue  # too late for this one: the confirmation or an earlier reminder covers it
        notifications.schedule(
            event="appointment.reminder",
            key=f"appt:{appointment.pk}:reminder:{int(minutes)}:{_stamp(appointment.start)}",
            context=context,
            due_at=due,
            expires_at=appointment.start,
            **_common(appointment, organisation, actor),
        )


def appointment_notify(
    appointment: Appointment, what: str, *, actor: Any, by_patient: bool, previous_start: datetime | None = None
) -> None:
    """Plan, re-plan or cancel the patient's messages after `what` happened: "booked", "moved", or a new status.

    A message the patient is waiting for right now (they booked, moved or cancelled themselves) is not held back by
    quiet hours; the same news made by staff waits until quiet hours end."""
    organisation = Organisation.objects.get(pk=appointment.organisation_id)
    policy = notifications.policy_of(organisation)
    prefix = f"appt:{appointment.pk}:"
    language = appointment.patient.language or organisation.default_language
    now = timezone.now()
    future = appointment.start > now
    if what in ("booked", *UPCOMING):
        if appointment.status not in UPCOMING or not future:
            return  # awaiting approval (the approval notifies), or entered after the fact
        if policy.send_confirmations:
            notifications.schedule(
                event="appointment.booked",
                key=f"{prefix}booked:{_stamp(appointment.start)}",
                context=_context(appointment, organisation),
                attachments=_ics(appointment, language),
                quiet_hours=not by_patient,
                expires_at=appointment.start,
                **_common(appointment, organisation, actor),
            )
        _plan_reminders(appointment, organisation, policy, actor)
    elif what == "moved":
        notifications.cancel(organisation_id=organisation.pk, prefix=f"{prefix}reminder:", reason="the visit moved")
        notifications.cancel(organisation_id=organisation.pk, prefix=f"{prefix}booked:", reason="the visit moved")
        if appointment.status not in UPCOMING or not future:
            return
        if policy.send_changes:
            context = _context(appointment, organisation)
            if previous_start is not None:
                context["previous_time"] = previous_start
            notifications.schedule(
                event="appointment.moved",
                key=f"{prefix}moved:{_stamp(appointment.start)}",
                context=context,
                attachments=_ics(appointment, language),
                quiet_hours=not by_patient,
                expires_at=appointment.start,
                **_common(appointment, organisation, actor),
            )
        _plan_reminders(appointment, organisation, policy, actor)
    elif what == Status.CANCELLED:
        notifications.cancel(organisation_id=organisation.pk, prefix=prefix, reason="the visit was cancelled")
        if policy.send_changes and future:
            notifications.schedule(
                event="appointment.cancelled",
                key=f"{prefix}cancelled",
                context=_context(appointment, organisation),
                quiet_hours=not by_patient,
                expires_at=appointment.start,
                **_common(appointment, organisation, actor),
            )
    else:  # arrived, no-show, completed: reminders have nothing left to say
        notifications.cancel(organisation_id=organisation.pk, prefix=f"{prefix}reminder:", reason=f"visit {what}")
