"""Consultation use cases: the contract lifecycle, writing and reading, SLA deadlines and escalation, requests,
ratings, and what reaches the outbox."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from kabinet.audit.models import AuditEvent
from kabinet.consultations import selectors, services
from kabinet.consultations.models import (
    ConsultationContract,
    ConsultationMessage,
    ConsultationPolicy,
    ConsultationRequest,
    Conversation,
    Reading,
)
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed, NotFound
from kabinet.core.models import Role
from kabinet.notifications.models import Message as Outbox
from kabinet.patients.models import TimelineEntry
from tests.consultations.conftest import Consult, png
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db
Status = ConsultationContract.Status
SOON = date.today() + timedelta(days=10)


def outbox(prefix: str, state: str | None = None) -> list[Outbox]:
    rows = Outbox.objects.filter(idempotency_key__startswith=prefix)
    if state:
        rows = rows.filter(state=state)
    return list(rows.order_by("pk"))


# --- contracts ---------------------------------------------------------------------------------------------------


def test_opening_a_contract_opens_the_conversation_and_tells_the_patient(consult: Consult) -> None:
    contract, conversation = consult.contract, consult.conversation
    assert contract.status == Status.ACTIVE and contract.activated_at is not None
    assert (conversation.patient, conversation.doctor) == (consult.clinic.patient, consult.clinic.doctor)
    assert outbox(f"consult:contract:{contract.pk}:opened")
    assert AuditEvent.objects.filter(action="consultation.contract.activated", object_id=str(contract.pk)).exists()
    assert TimelineEntry.objects.filter(patient=consult.clinic.patient, ref_type="consultations.contract").exists()
    assert contract.payment_state == "free"


def test_only_the_front_office_opens_contracts(consult: Consult) -> None:
    clinic = consult.clinic
    with pytest.raises(NotAllowed):
        services.contract_create(
            actor=consult.doctor_user, patient=consult.other_patient, doctor=clinic.doctor, ends_on=SOON
        )
    contract = services.contract_create(
        actor=clinic.registrar, patient=consult.other_patient, doctor=clinic.doctor, ends_on=SOON, price="30"
    )
    assert contract.status == Status.DRAFT and contract.payment_state == "unpaid" and contract.price == Decimal("30.00")


def test_the_doctor_must_be_a_doctor_of_the_patients_clinic(consult: Consult) -> None:
    with pytest.raises(Invalid) as refused:
        services.contract_create(
            actor=consult.admin,
            patient=consult.other_patient,
            doctor=consult.nurse_member,
            ends_on=SOON,
        )
    assert "doctor" in refused.value.errors


def test_a_second_active_contract_with_the_same_doctor_is_refused_but_a_renewal_continues(consult: Consult) -> None:
    clinic = consult.clinic
    with pytest.raises(Conflict):
        services.contract_create(
            actor=consult.admin, patient=clinic.patient, doctor=clinic.doctor, ends_on=SOON, activate=True
        )
    renewal = services.contract_renew(
        actor=consult.admin, contract=consult.contract, ends_on=consult.contract.ends_on + timedelta(days=30)
    )
    assert renewal.status == Status.DRAFT
    assert renewal.starts_on == consult.contract.ends_on + timedelta(days=1)
    assert list(renewal.care_team.all()) == [consult.nurse_member]
    # Activating the renewal early ends the contract it renews; the conversation continues.
    services.contract_activate(actor=consult.admin, contract=renewal)
    consult.contract.refresh_from_db()
    renewal.refresh_from_db()
    assert (consult.contract.status, renewal.status) == (Status.ENDED, Status.ACTIVE)
    assert renewal.conversation_id == consult.conversation.pk


def test_the_clock_ends_contracts_after_their_last_day_and_opens_the_waiting_renewal(consult: Consult) -> None:
    contract = consult.contract
    renewal = services.contract_renew(
        actor=consult.admin, contract=contract, ends_on=contract.ends_on + timedelta(days=30)
    )
    after = timezone.now() + timedelta(days=32)
    result = services.sla_check(now=after)
    assert result["ended"] == 1
    contract.refresh_from_db()
    renewal.refresh_from_db()
    assert contract.status == Status.ENDED and contract.end_reason
    assert renewal.status == Status.ACTIVE
    assert services.sla_check(now=after)["ended"] == 0  # idempotent
    assert outbox(f"consult:contract:{contract.pk}:ended") == []  # a renewal is not an ending for the patient…
    assert outbox(f"consult:contract:{renewal.pk}:opened")  # …but the new period is announced


def test_ending_keeps_reading_but_refuses_writing_on_both_sides(consult: Consult, send_text: Any) -> None:
    send_text(consult.patient_user, consult.conversation, "Before the end")
    services.contract_end(actor=consult.admin, contract=consult.contract, reason="treatment finished")
    assert outbox(f"consult:contract:{consult.contract.pk}:ended")
    for writer in (consult.patient_user, consult.doctor_user, consult.nurse):
        with pytest.raises(NotAllowed) as refused:
            send_text(writer, consult.conversation, "After the end")
        assert refused.value.code == "contract_ended"
    conversation = selectors.conversation_get(user=consult.patient_user, conversation_id=consult.conversation.pk)
    texts = [m.text for m in selectors.messages_of(user=consult.patient_user, conversation=conversation)]
    assert texts == ["Before the end"]
    conversation.refresh_from_db()
    assert conversation.due_at is None  # nobody is expected to answer an ended conversation


def test_ending_an_ended_contract_is_a_conflict_and_a_draft_is_cancelled(consult: Consult) -> None:
    services.contract_end(actor=consult.admin, contract=consult.contract)
    with pytest.raises(Conflict):
        services.contract_end(actor=consult.admin, contract=consult.contract)
    draft = services.contract_create(
        actor=consult.admin, patient=consult.other_patient, doctor=consult.clinic.doctor, ends_on=SOON
    )
    services.contract_end(actor=consult.admin, contract=draft)
    draft.refresh_from_db()
    assert draft.status == Status.CANCELLED


def test_payment_is_recorded_for_paid_contracts_only(consult: Consult) -> None:
    with pytest.raises(Invalid):
        services.contract_payment_set(actor=consult.admin, contract=consult.contract, state="paid")
    paid = services.contract_create(
        actor=consult.admin, patient=consult.other_patient, doctor=consult.clinic.doctor, ends_on=SOON, price=25
    )
    with pytest.raises(Conflict):  # billed: its invoice's payments decide (tests/consultations/test_billing.py)
        services.contract_payment_set(actor=consult.admin, contract=paid, state="paid")
    ConsultationContract.objects.filter(pk=paid.pk).update(invoice=None)  # made before contracts were billed
    paid.refresh_from_db()
    services.contract_payment_set(actor=consult.admin, contract=paid, state="paid")
    paid.refresh_from_db()
    assert paid.payment_state == "paid"


# --- messages ----------------------------------------------------------------------------------------------------


def test_patient_message_is_due_within_the_sla_and_the_reply_answers_it(consult: Consult) -> None:
    sent = datetime(2026, 3, 2, 10, 0, tzinfo=consult.clinic.location.zone)
    first = services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="Q1", now=sent)
    second = services.message_send(
        actor=consult.patient_user, conversation=consult.conversation, text="Q2", now=sent + timedelta(hours=1)
    )
    assert first.due_at == sent + timedelta(hours=24)
    conversation = Conversation.objects.get(pk=consult.conversation.pk)
    assert (conversation.patient_messages, conversation.unanswered) == (2, 2)
    assert conversation.due_at == first.due_at and conversation.awaiting_since == sent

    reply = services.message_send(
        actor=consult.nurse, conversation=consult.conversation, text="A", now=sent + timedelta(hours=3)
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.answered_at == second.answered_at == reply.created_at
    assert first.answered_by == consult.nurse_member
    assert first.read_at is not None  # writing back reads what the patient wrote
    conversation.refresh_from_db()
    assert (conversation.staff_messages, conversation.unanswered, conversation.due_at) == (1, 0, None)


def test_working_hours_sla_skips_nights_and_weekends(consult: Consult) -> None:
    ConsultationPolicy.objects.create(organisation=consult.clinic.org, work_start="09:00", work_end="18:00")
    consult.contract.sla_hours, consult.contract.sla_working_hours = 8, True
    consult.contract.save()
    zone = consult.clinic.location.zone
    friday_evening = datetime(2026, 3, 6, 17, 0, tzinfo=zone)
    message = services.message_send(
        actor=consult.patient_user, conversation=consult.conversation, text="Q", now=friday_evening
    )
    assert message.due_at == datetime(2026, 3, 9, 16, 0, tzinfo=zone)  # 1 h on Friday + 7 h on Monday


def test_administrators_read_but_do_not_write_and_strangers_see_nothing(consult: Consult, send_text: Any) -> None:
    with pytest.raises(NotAllowed):
        send_text(consult.admin, consult.conversation)
    for stranger in (consult.other_doctor_user, consult.other_patient_user, consult.outsider, consult.clinic.registrar):
        with pytest.raises(NotFound):
            send_text(stranger, consult.conversation)
        with pytest.raises(NotFound):
            selectors.conversation_get(user=stranger, conversation_id=consult.conversation.pk)
    assert selectors.conversation_get(user=consult.admin, conversation_id=consult.conversation.pk)


def test_a_proxy_writes_for_the_ward(consult: Consult, ward: Any) -> None:
    contract = services.contract_create(
        actor=consult.admin, patient=ward, doctor=consult.clinic.doctor, ends_on=SOON, activate=True
    )
    contract.refresh_from_db()
    assert contract.conversation is not None
    message = services.message_send(actor=consult.patient_user, conversation=contract.conversation, text="For my kid")
    assert message.side == "patient"


def test_an_empty_message_is_refused(consult: Consult, send_text: Any) -> None:
    with pytest.raises(Invalid) as refused:
        send_text(consult.patient_user, consult.conversation, "   ")
    assert refused.value.code == "message_empty"


def test_a_photo_goes_through_the_records_upload_check(consult: Consult) -> None:
    message = services.message_send(
        actor=consult.patient_user, conversation=consult.conversation, upload=png(), text="My rash"
    )
    assert (message.kind, message.content_type) == ("photo", "image/png")
    assert (message.file.name or "").startswith(f"consultations/{consult.clinic.org.pk}/")
    with pytest.raises(Invalid) as refused:
        services.message_send(
            actor=consult.patient_user, conversation=consult.conversation, upload=b"MZ\x90\x00 program"
        )
    assert refused.value.code == "executable"


def test_readings_are_stored_flagged_and_only_patients_send_them(consult: Consult) -> None:
    message = services.message_send(
        actor=consult.patient_user,
        conversation=consult.conversation,
        reading={
            "kind": "blood_pressure",
            "values": {"systolic": 165, "diastolic": 95, "pulse": 80},
            "comment": "dizzy",
        },
    )
    reading = Reading.objects.get(message=message)
    assert reading.values == {"systolic": 165, "diastolic": 95, "pulse": 80}
    assert reading.out_of_range and reading.comment == "dizzy"
    with pytest.raises(Invalid) as impossible:
        services.message_send(
            actor=consult.patient_user,
            conversation=consult.conversation,
            reading={"kind": "blood_pressure", "values": {"systolic": 900, "diastolic": 80}},
        )
    assert "systolic" in impossible.value.errors
    with pytest.raises(Invalid):
        services.message_send(
            actor=consult.doctor_user, conversation=consult.conversation, reading={"kind": "weight", "weight": 70}
        )
    with pytest.raises(Invalid) as no_file:
        services.message_send(actor=consult.patient_user, conversation=consult.conversation, reading={"kind": "ecg"})
    assert "file" in no_file.value.errors
    ecg = services.message_send(
        actor=consult.patient_user, conversation=consult.conversation, reading={"kind": "ecg"}, upload=png()
    )
    assert ecg.kind == "reading" and ecg.file


# --- notifications: offline side, read receipts ---------------------------------------------------------------


def test_a_reply_reaches_the_patient_through_the_outbox_unless_read_in_time(
    consult: Consult, send_text: Any, settings: Any
) -> None:
    before = timezone.now()
    send_text(consult.doctor_user, consult.conversation, "Take the pills")
    send_text(consult.doctor_user, consult.conversation, "…after meals")
    queued = outbox(f"consult:{consult.conversation.pk}:to-patient:", "queued")
    assert queued, "the patient is told about the reply"
    assert {m.event for m in queued} == {"consultation.message.patient"}
    assert len({m.idempotency_key.split("#")[0] for m in queued}) == 1  # one notice per burst
    assert all(m.due_at >= before + timedelta(seconds=settings.CONSULTATIONS_NOTIFY_AFTER_SECONDS - 1) for m in queued)
    assert "+359" not in queued[0].body and "doc@example.org" not in queued[0].body  # no personal contacts

    marked = services.conversation_mark_read(actor=consult.patient_user, conversation=consult.conversation)
    assert marked == 2
    assert outbox(f"consult:{consult.conversation.pk}:to-patient:", "queued") == []
    assert not ConsultationMessage.objects.filter(conversation=consult.conversation, read_at__isnull=True).exists()


def test_a_patient_message_reaches_the_doctor_and_the_care_team(consult: Consult, send_text: Any) -> None:
    send_text(consult.patient_user, consult.conversation, "Question")
    rows = outbox(f"consult:{consult.conversation.pk}:to-staff:")
    assert {m.user for m in rows} == {consult.doctor_user, consult.nurse}
    assert {m.channel for m in rows} == {"inapp", "email"}
    services.conversation_mark_read(actor=consult.nurse, conversation=consult.conversation)
    assert outbox(f"consult:{consult.conversation.pk}:to-staff:", "queued") == []


def test_an_administrator_reading_leaves_no_read_receipt(consult: Consult, send_text: Any) -> None:
    send_text(consult.patient_user, consult.conversation, "Question")
    assert services.conversation_mark_read(actor=consult.admin, conversation=consult.conversation) == 0
    assert ConsultationMessage.objects.get().read_at is None


# --- overdue replies ---------------------------------------------------------------------------------------------


def test_overdue_reply_escalates_to_the_doctor_then_the_administrators_once(consult: Consult) -> None:
    sent = timezone.now() - timedelta(hours=30)
    services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="Help?", now=sent)
    due = sent + timedelta(hours=24)

    assert services.overdue_escalate(now=due - timedelta(minutes=1)) == {"doctor": 0, "admin": 0}
    assert services.overdue_escalate(now=due + timedelta(minutes=1)) == {"doctor": 1, "admin": 0}
    doctor_rows = outbox(f"consult:{consult.conversation.pk}:overdue:")
    assert {m.user for m in doctor_rows} == {consult.doctor_user}
    assert services.overdue_escalate(now=due + timedelta(minutes=2)) == {"doctor": 0, "admin": 0}  # idempotent

    later = due + timedelta(minutes=121)
    assert services.overdue_escalate(now=later) == {"doctor": 0, "admin": 1}
    assert services.overdue_escalate(now=later) == {"doctor": 0, "admin": 0}
    rows = outbox(f"consult:{consult.conversation.pk}:overdue:")
    assert {m.event for m in rows} == {"consultation.overdue.doctor", "consultation.overdue.admin"}
    assert {m.user for m in rows if m.event == "consultation.overdue.admin"} == {consult.admin}
    assert len(rows) == 4  # in-app and email, for the doctor and for the one administrator
    conversation = Conversation.objects.get(pk=consult.conversation.pk)
    assert conversation.escalation == 2

    # The reply resets the conversation; the next overdue message escalates anew.
    services.message_send(actor=consult.doctor_user, conversation=consult.conversation, text="Sorry", now=later)
    conversation.refresh_from_db()
    assert (conversation.escalation, conversation.due_at) == (0, None)


def test_the_sla_job_runs_concurrently_without_telling_anyone_twice(consult: Consult) -> None:
    sent = timezone.now() - timedelta(hours=30)
    services.message_send(actor=consult.patient_user, conversation=consult.conversation, text="Help?", now=sent)
    results = [services.sla_check(), services.sla_check()]
    assert sum(r["doctor"] for r in results) == 1


def test_the_panel_lists_overdue_conversations_first_with_counters(consult: Consult, send_text: Any) -> None:
    clinic = consult.clinic
    other = services.contract_create(
        actor=consult.admin, patient=consult.other_patient, doctor=clinic.other_doctor, ends_on=SOON, activate=True
    )
    other.refresh_from_db()
    assert other.conversation is not None
    now = timezone.now()
    services.message_send(actor=consult.other_patient_user, conversation=other.conversation, text="recent", now=now)
    services.message_send(
        actor=consult.patient_user, conversation=consult.conversation, text="old", now=now - timedelta(hours=26)
    )
    services.message_send(
        actor=consult.patient_user, conversation=consult.conversation, text="older", now=now - timedelta(hours=25)
    )
    panel = selectors.sla_panel(user=consult.admin, organisation=clinic.org, now=now)
    assert [row.conversation.pk for row in panel.rows] == [consult.conversation.pk, other.conversation.pk]
    assert panel.rows[0].is_overdue and panel.rows[0].overdue == 2
    assert (panel.rows[1].is_overdue, panel.rows[1].overdue) == (False, 0)
    assert (panel.contracts_active, panel.contracts_total, panel.doctors, panel.patients) == (2, 2, 2, 2)
    only_boris = selectors.sla_panel(
        user=consult.admin, organisation=clinic.org, doctor_id=clinic.other_doctor.pk, now=now
    )
    assert [row.conversation.pk for row in only_boris.rows] == [other.conversation.pk]
    with pytest.raises(NotFound):
        selectors.sla_panel(user=consult.doctor_user, organisation=clinic.org)


def test_the_panel_counts_doctors_on_vacation(consult: Consult) -> None:
    from kabinet.scheduling.models import TimeOff

    now = timezone.now()
    TimeOff.objects.create(
        organisation=consult.clinic.org,
        practitioner=consult.clinic.other_doctor,
        start=now - timedelta(days=1),
        end=now + timedelta(days=6),
    )
    panel = selectors.sla_panel(user=consult.admin, organisation=consult.clinic.org, now=now)
    assert (panel.doctors, panel.doctors_on_vacation) == (2, 1)


# --- requests ----------------------------------------------------------------------------------------------------


def test_a_request_waits_is_taken_and_answered_and_the_patient_is_told(consult: Consult) -> None:
    ConsultationPolicy.objects.create(organisation=consult.clinic.org, question_price=Decimal("15"))
    request = services.request_create(
        actor=consult.other_patient_user, patient=consult.other_patient, kind="question", question="Is it contagious?"
    )
    assert (request.status, request.price, request.payment_state) == ("waiting", Decimal("15.00"), "unpaid")
    taken = services.request_take_next(actor=consult.doctor_user, organisation=consult.clinic.org)
    assert taken is not None and taken.pk == request.pk
    assert outbox(f"consult:req:{request.pk}:taken")
    with pytest.raises(Conflict):
        services.request_answer(actor=consult.other_doctor_user, request=request, answer="No")
    services.request_answer(actor=consult.doctor_user, request=request, answer="No, it is not.")
    request.refresh_from_db()
    assert (request.status, request.answer) == ("answered", "No, it is not.")
    assert outbox(f"consult:req:{request.pk}:answered")
    assert services.request_take_next(actor=consult.doctor_user, organisation=consult.clinic.org) is None


def test_the_queue_is_served_in_order_of_arrival_and_only_doctors_take(consult: Consult) -> None:
    first = services.request_create(actor=consult.patient_user, patient=consult.clinic.patient, kind="callback")
    services.request_create(
        actor=consult.other_patient_user, patient=consult.other_patient, kind="question", question="?"
    )
    with pytest.raises(NotAllowed):
        services.request_take(actor=consult.nurse, request=first)
    with pytest.raises(NotFound):
        services.request_create(
            actor=consult.patient_user, patient=consult.other_patient, kind="question", question="x"
        )
    assert services.request_take_next(actor=consult.other_doctor_user, organisation=consult.clinic.org) == first


def _race(work: Any, racers: int) -> Counter[str]:
    barrier = threading.Barrier(racers)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            result = work(index)
        except Exception as exc:  # collected and asserted below
            result = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_doctors_taking_the_same_request_at_once_one_wins(consult: Consult) -> None:
    doctors = [consult.doctor_user, consult.other_doctor_user]
    for n in range(4):
        user = UserFactory.create(email=f"racer{n}@example.org")
        member(user, consult.clinic.org, Role.DOCTOR)
        doctors.append(user)
    request = services.request_create(actor=consult.patient_user, patient=consult.clinic.patient, kind="callback")

    def take(index: int) -> str:
        found = ConsultationRequest.objects.get(pk=request.pk)
        try:
            services.request_take(actor=doctors[index], request=found)
        except Conflict:
            return "409"
        return "taken"

    outcomes = _race(take, len(doctors))
    assert outcomes == Counter({"taken": 1, "409": len(doctors) - 1})
    request.refresh_from_db()
    assert request.status == "taken" and request.taken_by is not None
    assert outbox(f"consult:req:{request.pk}:taken")


@pytest.mark.django_db(transaction=True)
def test_doctors_taking_the_next_request_at_once_each_get_a_different_one(consult: Consult) -> None:
    doctors = [consult.doctor_user, consult.other_doctor_user]
    for n in range(2):
        user = UserFactory.create(email=f"next{n}@example.org")
        member(user, consult.clinic.org, Role.DOCTOR)
        doctors.append(user)
    for n in range(3):
        services.request_create(
            actor=consult.patient_user, patient=consult.clinic.patient, kind="question", question=f"q{n}"
        )

    taken_ids: list[int] = []
    lock = threading.Lock()

    def take(index: int) -> str:
        found = services.request_take_next(actor=doctors[index], organisation=consult.clinic.org)
        if found is None:
            return "empty"
        with lock:
            taken_ids.append(found.pk)
        return "taken"

    outcomes = _race(take, len(doctors))
    assert outcomes == Counter({"taken": 3, "empty": 1})
    assert len(set(taken_ids)) == 3


# --- quality -----------------------------------------------------------------------------------------------------


def test_the_patient_rates_an_ended_contract_once(consult: Consult) -> None:
    with pytest.raises(Conflict):
        services.contract_rate(actor=consult.patient_user, contract=consult.contract, score=5)
    services.contract_end(actor=consult.admin, contract=consult.contract)
    with pytest.raises(NotFound):
        services.contract_rate(actor=consult.other_patient_user, contract=consult.contract, score=1)
    with pytest.raises(Invalid):
        services.contract_rate(actor=consult.patient_user, contract=consult.contract, score=6)
    services.contract_rate(actor=consult.patient_user, contract=consult.contract, score=4, comment="Quick answers")
    with pytest.raises(Conflict):
        services.contract_rate(actor=consult.patient_user, contract=consult.contract, score=5)
    ratings = selectors.doctor_ratings(consult.clinic.org)
    assert ratings[consult.clinic.doctor.pk] == (Decimal("4.00"), 1)
