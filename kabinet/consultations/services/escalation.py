"""The clock's SLA job: escalate overdue replies and end contracts whose period is over.

A patient message not answered by its deadline first reminds the conversation's doctor (escalation 1); when it is
still unanswered the clinic's `escalate_admin_after_minutes` later, the administrators are told too (escalation 2).
Each step is a conditional update of the conversation (`escalation` from 0 to 1, from 1 to 2, for the same
deadline) and the outbox keys name the deadline and the recipient, so running the job twice — or two clocks at
once — tells nobody twice. A reply resets the conversation (services.messages), and the next overdue message
escalates anew.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from kabinet.audit.services import record
from kabinet.consultations import notices
from kabinet.consultations.models import ConsultationContract, Conversation
from kabinet.consultations.selectors import policy_for
from kabinet.consultations.services.contracts import contracts_expire

BATCH = 500


def _candidates(level: int, now: datetime) -> list[Conversation]:
    return list(
        Conversation.objects.filter(
            escalation=level, due_at__lte=now, contracts__status=ConsultationContract.Status.ACTIVE
        )
        .select_related("organisation", "patient", "doctor__user", "location")
        .distinct()
        .order_by("due_at", "pk")[:BATCH]
    )


def _step(conversation: Conversation, *, level: int, now: datetime) -> bool:
    """Move one conversation from `level - 1` to `level` and tell the people of that level; False when another
    run did it first or the reply arrived meanwhile."""
    with transaction.atomic():
        moved = Conversation.objects.filter(
            pk=conversation.pk, escalation=level - 1, due_at=conversation.due_at
        ).update(escalation=level, escalated_at=now)
        if not moved:
            return False
        if level == 1:
            recipients: list[Any] = [conversation.doctor.user] if conversation.doctor.is_active else []
            if not recipients:
                recipients = notices.administrators(conversation.organisation_id)
            notices.overdue(conversation=conversation, level="doctor", recipients=recipients)
        else:
            notices.overdue(
                conversation=conversation,
                level="admin",
                recipients=notices.administrators(conversation.organisation_id),
            )
        record(
            actor=None,
            action="consultation.overdue",
            obj=conversation,
            patient=conversation.patient_id,
            after={"level": level, "due_at": conversation.due_at},
        )
    return True


def overdue_escalate(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    doctors = sum(_step(c, level=1, now=now) for c in _candidates(0, now))
    admins = 0
    delays: dict[int, timedelta] = {}
    for conversation in _candidates(1, now):
        org_id = conversation.organisation_id
        if org_id not in delays:
            delays[org_id] = timedelta(minutes=policy_for(org_id).escalate_admin_after_minutes)
        delay = delays[org_id]
        assert conversation.due_at is not None
        if conversation.due_at + delay <= now:
            admins += _step(conversation, level=2, now=now)
    return {"doctor": doctors, "admin": admins}


def sla_check(*, now: datetime | None = None) -> dict[str, int]:
    """Everything the SLA job does once: contracts past their period end, overdue replies escalate."""
    now = now or timezone.now()
    ended = contracts_expire(now=now)
    escalated = overdue_escalate(now=now)
    return {"ended": ended, **escalated}
