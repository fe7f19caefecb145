"""One-off requests without a contract: a written question or a phone-callback request.

Rules enforced here:
- the patient (or whoever may act for them) submits; the front office may submit one taken over the phone;
- the clinic's policy prices each kind (zero: free; otherwise it is billed with an invoice in the same
  transaction and the patient pays it at the desk, while the doctor already sees it in the queue);
- requests wait in order of arrival; a doctor takes one (or the next one) — the take is a conditional update, so
  when two doctors take the same request at once exactly one wins and the other gets 409;
- the doctor who took it answers (a written answer, or a note of the call); the patient is told when it is taken
  and when it is answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.consultations import access, notices
from kabinet.consultations.models import ConsultationRequest, PaymentState
from kabinet.consultations.selectors import policy_for
from kabinet.consultations.services import payments
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed, NotFound
from kabinet.core.models import Location, Organisation
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.patients.selectors import own_patient_ids
from kabinet.patients.services import timeline_add

Status = ConsultationRequest.Status
QUESTION_MAX = 5000
TAKE_ATTEMPTS = 20


def request_create(
    *, actor: Any, patient: Patient, kind: str, question: str = "", location: Location | None = None
) -> ConsultationRequest:
    """Put a written question or a callback request in the clinic's queue."""
    if patient.pk not in own_patient_ids(actor) and not access.can_manage_contracts(actor, patient.organisation_id):
        raise NotFound()
    if kind not in ConsultationRequest.Kind.values:
        raise Invalid(errors={"kind": [_("Choose a written question or a callback.")]})
    question = (question or "").strip()
    if kind == ConsultationRequest.Kind.QUESTION and not question:
        raise Invalid(errors={"question": [_("Write your question.")]}, code="message_empty")
    if len(question) > QUESTION_MAX:
        raise Invalid(errors={"question": [_("A question may have at most 5,000 characters.")]})
    if location is not None and location.organisation_id != patient.organisation_id:
        raise Invalid(errors={"location": [_("Choose a location of this clinic.")]})
    policy = policy_for(patient.organisation_id)
    price = policy.question_price if kind == ConsultationRequest.Kind.QUESTION else policy.callback_price
    with transaction.atomic():
        request = ConsultationRequest.objects.create(
            organisation_id=patient.organisation_id,
            patient=patient,
            location=location,
            kind=kind,
            question=question,
            price=price,
            payment_state=PaymentState.UNPAID if price > 0 else PaymentState.FREE,
            created_by=actor,
        )
        invoice = payments.request_bill(actor=actor, request=request)
        record(
            actor=actor,
            action="consultation.request.created",
            obj=request,
            patient=patient,
            after={"kind": kind, "price": str(price), "invoice": invoice.pk if invoice else None},
        )
        with translation.override(patient.organisation.default_language):
            timeline_add(
                patient=patient,
                kind=TimelineEntry.Kind.MESSAGE,
                title=_("Remote consultation requested: %(kind)s") % {"kind": ConsultationRequest.Kind(kind).label},
                actor=actor,
                ref_type="consultations.request",
                ref_id=request.pk,
            )
    return request


def _doctor(actor: Any, organisation_id: int) -> Any:
    member = access.member_of(actor, organisation_id)
    if member is None or not access.can_take_requests(actor, organisation_id):
        raise NotAllowed(_("Only doctors take consultation requests."))
    return member


def _taken(request: ConsultationRequest, actor: Any, member: Any, now: datetime) -> ConsultationRequest:
    request.status, request.taken_by, request.taken_at = Status.TAKEN, member, now
    record(
        actor=actor,
        action="consultation.request.taken",
        obj=request,
        patient=request.patient_id,
        after={"taken_by": member.pk},
    )
    notices.request_changed(request=request, state="taken", actor=actor)
    return request


def request_take(*, actor: Any, request: ConsultationRequest, now: datetime | None = None) -> ConsultationRequest:
    """Take this request. Exactly one of several doctors taking it at once succeeds; the others get 409."""
    member = _doctor(actor, request.organisation_id)
    now = now or timezone.now()
    with transaction.atomic():
        won = ConsultationRequest.objects.filter(pk=request.pk, status=Status.WAITING).update(
            status=Status.TAKEN, taken_by=member, taken_at=now
        )
        if not won:
            raise Conflict(_("Another doctor has already taken this request."), code="request_taken")
        return _taken(request, actor, member, now)


def request_take_next(
    *, actor: Any, organisation: Organisation, now: datetime | None = None
) -> ConsultationRequest | None:
    """Take the request that has waited longest (None when the queue is empty)."""
    member = _doctor(actor, organisation.pk)
    now = now or timezone.now()
    for _attempt in range(TAKE_ATTEMPTS):
        candidate = (
            ConsultationRequest.objects.filter(organisation=organisation, status=Status.WAITING)
            .select_related("organisation", "patient")
            .order_by("created_at", "pk")
            .first()
        )
        if candidate is None:
            return None
        with transaction.atomic():
            won = ConsultationRequest.objects.filter(pk=candidate.pk, status=Status.WAITING).update(
                status=Status.TAKEN, taken_by=member, taken_at=now
            )
            if won:
                return _taken(candidate, actor, member, now)
    raise Conflict(_("The queue is very busy. Try again."), code="queue_busy")


def request_answer(
    *, actor: Any, request: ConsultationRequest, answer: str, now: datetime | None = None
) -> ConsultationRequest:
    """The doctor who took the request answers it (for a callback: a note of the call); the patient is told."""
    member = _doctor(actor, request.organisation_id)
    answer = (answer or "").strip()
    if not answer:
        raise Invalid(errors={"answer": [_("Write the answer (for a callback: what you discussed).")]})
    if len(answer) > QUESTION_MAX:
        raise Invalid(errors={"answer": [_("An answer may have at most 5,000 characters.")]})
    now = now or timezone.now()
    with transaction.atomic():
        done = ConsultationRequest.objects.filter(pk=request.pk, status=Status.TAKEN, taken_by=member).update(
            status=Status.ANSWERED, answer=answer, answered_at=now
        )
        if not done:
            raise Conflict(_("Only the doctor who took this request answers it, once."), code="request_not_yours")
        request.status, request.answer, request.answered_at = Status.ANSWERED, answer, now
        record(actor=actor, action="consultation.request.answered", obj=request, patient=request.patient_id)
        notices.request_changed(request=request, state="answered", actor=actor)
    return request


def request_cancel(*, actor: Any, request: ConsultationRequest) -> ConsultationRequest:
    """The patient side (or the front office) withdraws a request nobody has taken yet. Its invoice is cancelled
    with a credit note unless money was paid on it (the desk refunds that in billing)."""
    if request.patient_id not in own_patient_ids(actor) and not access.can_manage_contracts(
        actor, request.organisation_id
    ):
        raise NotFound()
    with transaction.atomic():
        if request.status == Status.WAITING:
            payments.invoice_void(actor=actor, item=request)  # rolled back below if a doctor took it meanwhile
        done = ConsultationRequest.objects.filter(pk=request.pk, status=Status.WAITING).update(status=Status.CANCELLED)
        if not done:
            raise Conflict(_("A doctor has already taken this request."), code="request_taken")
        request.status = Status.CANCELLED
        request.payment_state = ConsultationRequest.objects.values_list("payment_state", flat=True).get(pk=request.pk)
        record(actor=actor, action="consultation.request.cancelled", obj=request, patient=request.patient_id)
    return request
