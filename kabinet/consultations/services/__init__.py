"""Consultation use cases, one module per topic; every public function is one transaction, checks permission,
writes its audit event and queues its side effects (live updates, notifications) for after the commit."""

from kabinet.consultations.services.contracts import (
    contract_activate,
    contract_cancel,
    contract_create,
    contract_end,
    contract_payment_set,
    contract_renew,
    contracts_expire,
)
from kabinet.consultations.services.escalation import overdue_escalate, sla_check
from kabinet.consultations.services.messages import conversation_mark_read, message_send
from kabinet.consultations.services.policy import policy_update
from kabinet.consultations.services.quality import contract_rate, quality_review_save
from kabinet.consultations.services.requests import (
    request_answer,
    request_cancel,
    request_create,
    request_take,
    request_take_next,
)
from kabinet.consultations.services.video import (
    video_call_end,
    video_call_start,
    video_call_start_for_appointment,
    video_calls_end_for_appointment,
)

__all__ = [
    "contract_activate",
    "contract_cancel",
    "contract_create",
    "contract_end",
    "contract_payment_set",
    "contract_rate",
    "contract_renew",
    "contracts_expire",
    "conversation_mark_read",
    "message_send",
    "overdue_escalate",
    "policy_update",
    "quality_review_save",
    "request_answer",
    "request_cancel",
    "request_create",
    "request_take",
    "request_take_next",
    "sla_check",
    "video_call_end",
    "video_call_start",
    "video_call_start_for_appointment",
    "video_calls_end_for_appointment",
]
