"""Video consultations: the doctor or the care team starts a call in a conversation with an active contract, or
the doctor of a video visit (an appointment of a service marked `is_video`) starts it around the visit's time; the
patient is told (live on an open page, and through the outbox), both join the call's page and their browsers
connect to each other; either side ends it.

One open call per conversation: starting another ends the previous one. One open call per video visit: starting
again returns the open call (a doctor who reloads or comes back rejoins the same call).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.consultations import access, notices
from kabinet.consultations.models import ConsultationContract, Conversation, VideoCall
from kabinet.consultations.selectors import conversation_group
from kabinet.core import realtime
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed, NotFound
from kabinet.patients.models import Patient, Relationship
from kabinet.scheduling.models import Appointment

# A video visit's call may start this long before the visit and until it ends.
CALL_OPENS_BEFORE = timedelta(minutes=15)
CALLABLE_STATUSES = (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED, Appointment.Status.ARRIVED)


def _patient_side_users(patient_id: int) -> set[int]:
    """Accounts of the patient and of everyone who may act for them."""
    own = Patient.objects.filter(pk=patient_id, user__isnull=False).values_list("user_id", flat=True)
    proxies = Relationship.objects.filter(
        patient_id=patient_id, is_proxy=True, relative__user__isnull=False
    ).values_list("relative__user_id", flat=True)
    return set(own) | set(proxies)


def _publish(call: VideoCall, state: str) -> None:
    if call.conversation_id is not None:
        realtime.publish(
            conversation_group(call.conversation_id),
            "consultations.video",
            {"conversation": call.conversation_id, "call": call.pk, "state": state},
        )
        return
    # A visit has no page both sides follow: each side's own live socket hears it (ids only, no personal data).
    appointment = call.appointment
    assert appointment is not None
    users = _patient_side_users(appointment.patient_id)
    users.add(appointment.practitioner.user_id)
    if call.started_by_id is not None:
        users.add(call.started_by_id)
    for user_id in sorted(users):
        realtime.notify_user(
            user_id, "consultations.video", {"appointment": appointment.pk, "call": call.pk, "state": state}
        )


def video_call_start(*, actor: Any, conversation: Conversation, now: datetime | None = None) -> VideoCall:
    """Start a video call (the doctor or the care team, while the contract is active)."""
    side = access.side_of(actor, conversation)
    if side is None:
        raise NotFound()
    if side != access.STAFF:
        raise NotAllowed(_("The doctor starts video calls; the patient joins them."))
    now = now or timezone.now()
    with transaction.atomic():
        Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not ConsultationContract.objects.filter(
            conversation=conversation, status=ConsultationContract.Status.ACTIVE
        ).exists():
            message = _("This consultation has ended: start a call once the contract is renewed.")
            raise NotAllowed(message, code="contract_ended")
        for previous in VideoCall.objects.filter(conversation=conversation, ended_at__isnull=True):
            previous.ended_at = now
            previous.save(update_fields=["ended_at"])
            _publish(previous, "ended")
        call = VideoCall.objects.create(
            organisation_id=conversation.organisation_id, conversation=conversation, started_by=actor, started_at=now
        )
        record(actor=actor, action="consultation.video.started", obj=call, patient=conversation.patient_id)
        _publish(call, "started")
        notices.video_started(conversation=conversation, call=call, actor=actor)
    return call


def video_call_start_for_appointment(*, actor: Any, appointment: Appointment, now: datetime | None = None) -> VideoCall:
    """Start (or rejoin) the call of a video visit: its doctor or a nurse of its location, from 15 minutes before
    the visit until it ends, while the visit is neither cancelled, a no-show nor completed."""
    side = access.appointment_side(actor, appointment)
    if side is None:
        raise NotFound()
    if side == access.PATIENT:
        raise NotAllowed(_("The doctor starts video calls; the patient joins them."))
    if side != access.STAFF:
        raise NotAllowed(_("Only the visit's doctor or a nurse of its location starts its video call."))
    now = now or timezone.now()
    with transaction.atomic():
        current = (
            Appointment.objects.select_for_update().select_related("service", "practitioner").get(pk=appointment.pk)
        )
        if not current.service.is_video:
            raise Invalid(_("This visit is not a video consultation."), code="not_video")
        if current.status not in CALLABLE_STATUSES:
            message = _("This visit is %(status)s: its video call cannot start.") % {
                "status": current.get_status_display()
            }
            raise NotAllowed(message, code="visit_not_active")
        if now < current.start - CALL_OPENS_BEFORE:
            minutes = int(CALL_OPENS_BEFORE.total_seconds() // 60)
            message = _("The video call opens %(minutes)s minutes before the visit.") % {"minutes": minutes}
            raise Invalid(message, code="too_early")
        if now >= current.end:
            raise Invalid(_("This visit is over: its video call can no longer start."), code="too_late")
        call = VideoCall.objects.filter(appointment=current, ended_at__isnull=True).first()
        if call is not None:
            return call
        call = VideoCall.objects.create(
            organisation_id=current.organisation_id, appointment=current, started_by=actor, started_at=now
        )
        record(actor=actor, action="consultation.video.started", obj=call, patient=current.patient_id)
        _publish(call, "started")
        notices.video_started(appointment=current, call=call, actor=actor)
    return call


def video_calls_end_for_appointment(appointment: Any, what: str, *, actor: Any, previous: Any) -> None:
    """Scheduling's appointment hook: a visit cancelled, marked a no-show or completed ends its open call."""
    if what not in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW, Appointment.Status.COMPLETED):
        return
    now = timezone.now()
    for call in VideoCall.objects.filter(appointment_id=appointment.pk, ended_at__isnull=True):
        call.ended_at = now
        call.save(update_fields=["ended_at"])
        record(actor=actor, action="consultation.video.ended", obj=call, patient=appointment.patient_id)
        _publish(call, "ended")


def video_call_end(*, actor: Any, call: VideoCall, now: datetime | None = None) -> VideoCall:
    """Either side hangs up for both."""
    side = access.call_side(actor, call)
    if side not in (access.PATIENT, access.STAFF):
        raise NotFound()
    with transaction.atomic():
        ended = VideoCall.objects.filter(pk=call.pk, ended_at__isnull=True).update(ended_at=now or timezone.now())
        if not ended:
            raise Conflict(_("The call has already ended."), code="call_ended")
        call.refresh_from_db()
        record(actor=actor, action="consultation.video.ended", obj=call, patient=call.patient_id)
        _publish(call, "ended")
    return call
