"""Video consultations: the doctor or the care team starts a call in a conversation with an active contract, the
patient is told (live on an open page, and through the outbox), both join the call's page and their browsers
connect to each other; either side ends it.

One open call per conversation: starting another ends the previous one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.consultations import access, notices
from kabinet.consultations.models import ConsultationContract, Conversation, VideoCall
from kabinet.consultations.selectors import conversation_group
from kabinet.core import realtime
from kabinet.core.exceptions import Conflict, NotAllowed, NotFound


def _publish(call: VideoCall, state: str) -> None:
    realtime.publish(
        conversation_group(call.conversation_id),
        "consultations.video",
        {"conversation": call.conversation_id, "call": call.pk, "state": state},
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


def video_call_end(*, actor: Any, call: VideoCall, now: datetime | None = None) -> VideoCall:
    """Either side hangs up for both."""
    side = access.side_of(actor, call.conversation)
    if side not in (access.PATIENT, access.STAFF):
        raise NotFound()
    with transaction.atomic():
        ended = VideoCall.objects.filter(pk=call.pk, ended_at__isnull=True).update(ended_at=now or timezone.now())
        if not ended:
            raise Conflict(_("The call has already ended."), code="call_ended")
        call.refresh_from_db()
        record(actor=actor, action="consultation.video.ended", obj=call, patient=call.conversation.patient_id)
        _publish(call, "ended")
    return call
