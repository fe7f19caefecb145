"""Consultations in the demo clinic (called by kabinet.demo.seed): the demo patient's open contract with a doctor
and a few messages (text, a blood-pressure reading, the doctor's answers), another patient's question waiting past
its deadline (the control panel shows it overdue), and a one-off question in the queue. Idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from kabinet.billing.models import PaymentMethod
from kabinet.billing.services import payment_take
from kabinet.consultations import services
from kabinet.consultations.models import ConsultationContract, ConsultationRequest
from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.models import Patient


def seed_consultations(
    organisation: Organisation, *, admin_email: str, doctor_emails: list[str], patient_email: str
) -> None:
    if ConsultationContract.objects.filter(organisation=organisation).exists():
        return
    admin = Member.objects.select_related("user").get(organisation=organisation, user__email=admin_email).user
    doctors = {
        m.user.email: m
        for m in Member.objects.select_related("user").filter(organisation=organisation, user__email__in=doctor_emails)
    }
    patient = Patient.objects.filter(organisation=organisation, user__email=patient_email).first()
    other = Patient.objects.filter(organisation=organisation, user__isnull=True).order_by("pk").first()
    location = Location.objects.filter(organisation=organisation).order_by("pk").first()
    if patient is None or other is None or len(doctors) < 2:
        return
    first_doctor, second_doctor = (doctors[email] for email in doctor_emails[:2])
    now = timezone.now()
    today = timezone.localdate()

    contract = services.contract_create(
        actor=admin,
        patient=patient,
        doctor=first_doctor,
        location=location,
        starts_on=today - timedelta(days=10),
        ends_on=today + timedelta(days=20),
        price="60.00",
        sla_hours=24,
        activate=True,
    )
    contract.refresh_from_db()
    if contract.invoice is not None:  # paid at the desk by card: billing's hook marks the contract paid
        payment_take(
            actor=admin,
            invoice=contract.invoice,
            method=PaymentMethod.CARD,
            amount=contract.invoice.total,
            currency=contract.invoice.currency,
        )
        contract.refresh_from_db()
    assert contract.conversation is not None
    conversation = contract.conversation
    patient_user = patient.user
    doctor_user = first_doctor.user
    script: list[tuple[Any, int, dict[str, Any]]] = [
        (patient_user, 50, {"text": "Здравствуйте! После процедуры небольшое покраснение, это нормально?"}),
        (doctor_user, 47, {"text": "Здравейте! Да, до 3 дни е нормално. Нанасяйте успокояващ крем два пъти дневно."}),
        (
            patient_user,
            26,
            {
                "reading": {
                    "kind": "blood_pressure",
                    "values": {"systolic": 135, "diastolic": 85, "pulse": 74},
                    "comment": "утром, после сна",
                }
            },
        ),
        (doctor_user, 24, {"text": "Налягането е в норма. Продължете да измервате сутрин."}),
        (patient_user, 2, {"text": "Спасибо! Покраснение почти прошло."}),
    ]
    for author, hours_ago, content in script:
        services.message_send(actor=author, conversation=conversation, now=now - timedelta(hours=hours_ago), **content)

    waiting = services.contract_create(
        actor=admin,
        patient=other,
        doctor=second_doctor,
        location=location,
        starts_on=today - timedelta(days=3),
        ends_on=today + timedelta(days=27),
        sla_hours=12,
        activate=True,
    )
    waiting.refresh_from_db()
    assert waiting.conversation is not None
    _overdue_question(waiting, now)

    ConsultationRequest.objects.get_or_create(
        organisation=organisation,
        patient=patient,
        kind=ConsultationRequest.Kind.QUESTION,
        defaults={"question": "Можно ли загорать через неделю после пилинга?", "created_at": now - timedelta(hours=3)},
    )


def _overdue_question(contract: ConsultationContract, now: datetime) -> None:
    """A patient message 20 hours old on a 12-hour SLA, so the control panel has something overdue. Written
    straight into the tables, counted as services.message_send would: this demo patient has no portal account to
    write with."""
    from kabinet.consultations.models import ConsultationMessage, Conversation
    from kabinet.consultations.services.messages import reply_due

    assert contract.conversation is not None
    sent = now - timedelta(hours=20)
    conversation = contract.conversation
    message = ConsultationMessage.objects.create(
        organisation_id=contract.organisation_id,
        conversation=conversation,
        contract=contract,
        side=ConsultationMessage.Side.PATIENT,
        kind=ConsultationMessage.Kind.TEXT,
        text="Doctor, the swelling has not gone down after two days. Should I come in?",
        created_at=sent,
        due_at=reply_due(conversation, contract, sent),
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        patient_messages=1,
        unanswered=1,
        awaiting_since=sent,
        due_at=message.due_at,
        last_message_at=sent,
    )
