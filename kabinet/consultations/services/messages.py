"""Message use cases: send (text, a file or photo, a voice message, a device reading) and mark as read.

Rules enforced here:
- the patient side and the doctor / care team write while the conversation has an active contract; after it ends
  both keep reading and nobody writes (403 `contract_ended`); administrators only read (403);
- a message is never empty; files are checked by records.files.check_upload (PDF and photos), voice recordings by
  consultations.voice, readings by consultations.readings (impossible values → 422); only patients send readings;
- a patient message is due within the contract's SLA (in working hours when the contract says so); the next message
  from the doctor or the care team answers every message before it, and the conversation's counters follow;
- every message is audited (kind and side, not the content), published live to the conversation after the commit,
  and — unless read first — announced to the other side through the outbox (notices.new_message).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.consultations import access, notices, readings, sla, voice
from kabinet.consultations.models import ConsultationContract, ConsultationMessage, Conversation, Reading
from kabinet.consultations.selectors import (
    conversation_group,
    conversation_recipients,
    policy_for,
    thresholds_for,
    zone_for,
)
from kabinet.core import realtime
from kabinet.core.exceptions import Invalid, NotAllowed, NotFound
from kabinet.records.files import CheckedFile, check_upload

Side = ConsultationMessage.Side
Kind = ConsultationMessage.Kind
TEXT_MAX = 10_000
COMMENT_MAX = 1000


def _store(organisation_id: int, checked: CheckedFile) -> str:
    """Save under a random name (never the uploaded one) and return it."""
    now = timezone.now()
    name = f"consultations/{organisation_id}/{now:%Y/%m}/{uuid.uuid4().hex}.{checked.extension}"
    return default_storage.save(name, ContentFile(checked.content))


def _discard(name: str) -> None:
    with contextlib.suppress(OSError):
        default_storage.delete(name)


def ended_message(side: str) -> str:
    if side == access.PATIENT:
        return _(
            "This consultation has ended: you can read the conversation but no longer write. To continue, ask the "
            "clinic to renew it; in an emergency call the clinic."
        )
    return _("This consultation has ended: the conversation can be read but no longer written to.")


def working_hours_for(conversation: Conversation) -> sla.WorkingHours:
    policy = policy_for(conversation.organisation_id)
    days = frozenset(int(d) for d in (policy.work_days or []) if 1 <= int(d) <= 7)
    return sla.WorkingHours(
        zone=zone_for(conversation.organisation_id, conversation.location),
        start=policy.work_start,
        end=policy.work_end,
        days=days,
    )


def reply_due(conversation: Conversation, contract: ConsultationContract, start: datetime) -> datetime:
    working = working_hours_for(conversation) if contract.sla_working_hours else None
    try:
        return sla.due_at(start, contract.sla_hours, working)
    except ValueError:  # a policy without working time: count around the clock rather than never
        return sla.due_at(start, contract.sla_hours)


def _writer(actor: Any, conversation: Conversation) -> str:
    side = access.side_of(actor, conversation)
    if side is None:
        raise NotFound()
    if side == access.SUPERVISOR:
        raise NotAllowed(_("Administrators read conversations; the doctor and the care team answer the patient."))
    return side


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        raise Invalid(errors={"text": [_("A message may have at most 10,000 characters.")]}, code="message_too_long")
    return text


def _clean_reading(raw: Mapping[str, Any], side: str, has_file: bool, now: datetime) -> dict[str, Any]:
    if side != access.PATIENT:
        raise Invalid(errors={"reading": [_("Readings are sent by the patient.")]})
    kind = str(raw.get("kind") or "")
    values_in = raw.get("values") if isinstance(raw.get("values"), Mapping) else raw
    values = readings.clean_values(kind, values_in or {})
    if kind == "ecg" and not has_file:
        raise Invalid(errors={"file": [_("Attach the ECG as a PDF or a picture.")]})
    comment = " ".join(str(raw.get("comment") or "").split())
    if len(comment) > COMMENT_MAX:
        raise Invalid(errors={"comment": [_("A comment may have at most 1,000 characters.")]})
    return {
        "kind": kind,
        "values": values,
        "measured_at": readings.clean_measured_at(raw.get("measured_at"), now),
        "comment": comment,
    }


def message_send(
    *,
    actor: Any,
    conversation: Conversation,
    text: str = "",
    upload: Any = None,
    voice_upload: Any = None,
    voice_duration: Any = None,
    reading: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> ConsultationMessage:
    """Send one message: text, or a file / photo (with an optional caption), or a voice recording, or a device
    reading (with a comment; an ECG comes with its file)."""
    side = _writer(actor, conversation)
    now = now or timezone.now()
    text = _clean_text(text)
    cleaned_reading = _clean_reading(reading, side, upload is not None, now) if reading is not None else None
    if upload is not None and voice_upload is not None:
        raise Invalid(errors={"file": [_("Send the file and the voice message separately.")]})
    if not text and upload is None and voice_upload is None and cleaned_reading is None:
        raise Invalid(errors={"text": [_("Write a message or attach a file.")]}, code="message_empty")
    # The active contract is checked under the conversation's lock (_write); a file is stored before that, so for
    # one check first too: nothing is checked or stored for an ended consultation.
    if (upload is not None or voice_upload is not None) and not ConsultationContract.objects.filter(
        conversation=conversation, status=ConsultationContract.Status.ACTIVE
    ).exists():
        raise NotAllowed(ended_message(side), code="contract_ended")
    checked: CheckedFile | None = None
    duration: int | None = None
    kind = Kind.TEXT
    if voice_upload is not None:
        checked, duration = voice.check_voice(voice_upload, duration=voice_duration)
        kind = Kind.VOICE
    elif upload is not None:
        checked = check_upload(upload, allow_office=False)
        kind = Kind.PHOTO if checked.content_type.startswith("image/") else Kind.FILE
    if cleaned_reading is not None:
        kind = Kind.READING
    stored = _store(conversation.organisation_id, checked) if checked is not None else ""
    try:
        return _write(
            actor=actor,
            conversation=conversation,
            side=side,
            kind=kind,
            text=text,
            checked=checked,
            stored=stored,
            duration=duration,
            reading=cleaned_reading,
            now=now,
        )
    except BaseException:
        if stored:
            _discard(stored)
        raise


def _write(
    *,
    actor: Any,
    conversation: Conversation,
    side: str,
    kind: str,
    text: str,
    checked: CheckedFile | None,
    stored: str,
    duration: int | None,
    reading: dict[str, Any] | None,
    now: datetime,
) -> ConsultationMessage:
    with transaction.atomic():
        # One writer per conversation at a time: the counters and "answered" marks stay consistent.
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        active = ConsultationContract.objects.filter(conversation=locked, status=ConsultationContract.Status.ACTIVE)
        if side == access.PATIENT:  # the care team is told about patient messages (conversation_recipients)
            active = active.prefetch_related("care_team__user")
        contract = active.first()
        if contract is None:
            raise NotAllowed(ended_message(side), code="contract_ended")
        member = access.member_of(actor, conversation.organisation_id) if side == access.STAFF else None
        message = ConsultationMessage(
            organisation_id=conversation.organisation_id,
            conversation=locked,
            contract=contract,
            side=Side.PATIENT if side == access.PATIENT else Side.STAFF,
            author=actor,
            author_member=member,
            kind=kind,
            text=text,
            created_at=now,
        )
        if checked is not None:
            message.file.name = stored
            message.content_type = checked.content_type
            message.size = checked.size
            message.original_name = checked.original_name
            message.sha256 = checked.sha256
            message.duration_seconds = duration
        if message.side == Side.PATIENT:
            message.due_at = reply_due(conversation, contract, now)
        message.save()
        if reading is not None:
            ranges = thresholds_for(conversation.organisation_id)
            Reading.objects.create(
                organisation_id=conversation.organisation_id,
                patient_id=conversation.patient_id,
                message=message,
                kind=reading["kind"],
                values=reading["values"],
                measured_at=reading["measured_at"],
                comment=reading["comment"],
                out_of_range=bool(readings.out_of_range(reading["values"], ranges)),
            )
        _count(locked, message, member, now)
        record(
            actor=actor,
            action="consultation.message.sent",
            obj=message,
            patient=conversation.patient_id,
            after={"conversation": conversation.pk, "side": message.side, "kind": kind, "size": message.size},
        )
        realtime.publish(
            conversation_group(conversation.pk),
            "consultations.message",
            {"conversation": conversation.pk, "message": message.pk, "side": message.side, "kind": kind},
        )
        locked.organisation = conversation.organisation
        locked.patient = conversation.patient
        locked.doctor = conversation.doctor
        recipients = conversation_recipients(locked, contract) if message.side == Side.PATIENT else []
        recipients = [user for user in recipients if user.pk != getattr(actor, "pk", None)]
        notices.new_message(conversation=locked, message=message, recipients=recipients, actor=actor)
    return message


def _count(conversation: Conversation, message: ConsultationMessage, member: Any, now: datetime) -> None:
    """Keep the conversation's counters: ↑/↓, unanswered patient messages, the earliest deadline."""
    if message.side == Side.PATIENT:
        changes: dict[str, Any] = {
            "patient_messages": F("patient_messages") + 1,
            "unanswered": F("unanswered") + 1,
            "last_message_at": now,
        }
        if conversation.due_at is None:
            changes.update(awaiting_since=now, due_at=message.due_at, escalation=0, escalated_at=None)
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        return
    ConsultationMessage.objects.filter(
        conversation=conversation, side=Side.PATIENT, answered_at__isnull=True, pk__lt=message.pk
    ).update(answered_at=now, answered_by=member)
    # Writing back means the staff member has seen what the patient wrote.
    ConsultationMessage.objects.filter(
        conversation=conversation, side=Side.PATIENT, read_at__isnull=True, pk__lt=message.pk
    ).update(read_at=now)
    Conversation.objects.filter(pk=conversation.pk).update(
        staff_messages=F("staff_messages") + 1,
        unanswered=0,
        awaiting_since=None,
        due_at=None,
        escalation=0,
        escalated_at=None,
        last_message_at=now,
    )


def conversation_mark_read(
    *, actor: Any, conversation: Conversation, up_to: int | None = None, now: datetime | None = None
) -> int:
    """The reader has seen the other side's messages up to `up_to` (all when None): read receipts for the writer,
    and the reader's pending "new message" notices are cancelled. Administrators reading leave no receipt."""
    side = access.side_of(actor, conversation)
    if side is None:
        raise NotFound()
    if side == access.SUPERVISOR:
        return 0
    other = Side.STAFF if side == access.PATIENT else Side.PATIENT
    now = now or timezone.now()
    with transaction.atomic():
        unread = ConsultationMessage.objects.filter(conversation=conversation, side=other, read_at__isnull=True)
        if up_to is not None:
            unread = unread.filter(pk__lte=up_to)
        last = unread.order_by("-pk").values_list("pk", flat=True).first()
        if last is None:
            return 0
        count = unread.filter(pk__lte=last).update(read_at=now)
        realtime.publish(
            conversation_group(conversation.pk),
            "consultations.read",
            {"conversation": conversation.pk, "side": other, "up_to": last},
        )
        notices.conversation_read(conversation=conversation, side=side)
    return count
