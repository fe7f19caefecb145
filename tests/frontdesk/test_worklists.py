"""Confirmation calls: generating the day's list, logging attempts by the clinic's rule, the SMS to patients who
cannot be reached, and what each outcome does to the visit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.frontdesk.models import CallAttempt, FrontDeskPolicy, Refusal, WaitlistEntry, WorklistItem
from kabinet.frontdesk.services.worklists import (
    AttemptInput,
    attempt_record,
    confirmation_key,
    confirmations_generate,
    confirmations_sweep,
)
from kabinet.notifications.models import Message
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_set_status
from tests.frontdesk.conftest import Desk

pytestmark = pytest.mark.django_db
Outcome = WorklistItem.Outcome


def generate(desk: Desk) -> list[WorklistItem]:
    confirmations_generate(actor=desk.registrar, organisation=desk.org, day=desk.call_day)
    return list(WorklistItem.objects.filter(kind=WorklistItem.Kind.CONFIRMATION).order_by("pk"))


def test_the_list_holds_tomorrows_scheduled_visits_and_generating_again_adds_nothing(desk: Desk) -> None:
    first = desk.book(desk.petya, 9)
    second = desk.book(desk.anna, 10)
    confirmed = desk.book(desk.ivan, 11)
    appointment_set_status(actor=desk.registrar, appointment=confirmed, status=Appointment.Status.CONFIRMED)

    result = confirmations_generate(actor=desk.registrar, organisation=desk.org, day=desk.call_day)
    again = confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)

    items = WorklistItem.objects.filter(kind=WorklistItem.Kind.CONFIRMATION)
    assert (result.created, again.created) == (2, 0)
    assert sorted(items.values_list("appointment_id", flat=True)) == [first.pk, second.pk]
    assert set(items.values_list("key", flat=True)) == {
        confirmation_key(first.pk, desk.call_day),
        confirmation_key(second.pk, desk.call_day),
    }
    assert all(i.day == desk.call_day and i.next_call_at == desk.call_at(11) for i in items)
    assert AuditEvent.objects.filter(action="worklist.generated").count() == 1  # the second run changed nothing
    # The list of the visit day itself is about the day after: empty here.
    assert confirmations_generate(actor=None, organisation=desk.org, day=desk.visit_day).created == 0


def test_generating_again_closes_calls_whose_visit_was_confirmed_or_cancelled_elsewhere(desk: Desk) -> None:
    kept, confirmed, cancelled = desk.book(desk.petya, 9), desk.book(desk.anna, 10), desk.book(desk.ivan, 11)
    generate(desk)
    appointment_set_status(actor=desk.registrar, appointment=confirmed, status=Appointment.Status.CONFIRMED)
    appointment_set_status(
        actor=desk.registrar,
        appointment=cancelled,
        status=Appointment.Status.CANCELLED,
        reason_id=desk.clinic.cancel_reason.pk,
    )
    result = confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)
    states = {i.appointment_id: (i.state, i.outcome) for i in WorklistItem.objects.all()}
    assert result.closed == 2
    assert states == {
        kept.pk: ("open", ""),
        confirmed.pk: ("closed", Outcome.CONFIRMED),
        cancelled.pk: ("closed", Outcome.OBSOLETE),
    }


def test_only_front_office_roles_generate_and_call(desk: Desk) -> None:
    desk.book(desk.petya, 9)
    with pytest.raises(NotAllowed):
        confirmations_generate(actor=desk.doctor_user, organisation=desk.org, day=desk.call_day)
    (item,) = generate(desk)
    for user in (desk.doctor_user, desk.outsider, desk.clinic.patient_user):
        with pytest.raises(NotAllowed):
            attempt_record(actor=user, item=item, data=AttemptInput(outcome=Outcome.NO_ANSWER))
    attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.NO_ANSWER), now=desk.call_at(11))


def test_confirmed_makes_the_visit_confirmed_and_closes_the_call(desk: Desk) -> None:
    appointment = desk.book(desk.petya, 9)
    (item,) = generate(desk)
    result = attempt_record(
        actor=desk.operator,
        item=item,
        data=AttemptInput(outcome=Outcome.CONFIRMED, note="will come"),
        now=desk.call_at(11, 5),
    )
    appointment.refresh_from_db()
    item.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert (item.state, item.outcome, item.attempts, item.closed_by) == ("closed", "confirmed", 1, desk.operator)
    attempt = CallAttempt.objects.get()
    assert (attempt.operator, attempt.at, attempt.outcome, attempt.note) == (
        desk.operator,
        desk.call_at(11, 5),
        "confirmed",
        "will come",
    )
    assert result.appointment == appointment
    entry = TimelineEntry.objects.filter(patient=desk.petya, kind=TimelineEntry.Kind.CALL).get()
    assert "Confirmation call: confirmed" in entry.title and "will come" in entry.body
    assert AuditEvent.objects.filter(action="worklist.attempt", patient_id=desk.petya.pk).exists()
    assert AuditEvent.objects.filter(action="appointment.status_changed", patient_id=desk.petya.pk).exists()


def test_an_outcome_for_a_closed_call_is_refused_with_the_reason(desk: Desk) -> None:
    desk.book(desk.petya, 9)
    (item,) = generate(desk)
    attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.CONFIRMED))
    with pytest.raises(Invalid) as caught:
        attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.NO_ANSWER))
    assert caught.value.code == "item_closed"
    assert "already closed" in str(caught.value.message)
    assert CallAttempt.objects.count() == 1


def test_unanswered_calls_follow_the_windows_and_then_the_patient_gets_an_sms(desk: Desk, sms: None) -> None:
    appointment = desk.book(desk.petya, 9)
    (item,) = generate(desk)
    no_answer = AttemptInput(outcome=Outcome.NO_ANSWER)

    attempt_record(actor=desk.operator, item=item, data=no_answer, now=desk.call_at(11, 10))
    item.refresh_from_db()
    assert (item.state, item.next_call_at, item.attempts) == ("open", desk.call_at(12, 10), 1)

    attempt_record(actor=desk.operator, item=item, data=no_answer, now=desk.call_at(14))
    item.refresh_from_db()
    assert (item.state, item.next_call_at) == ("open", desk.call_at(18))  # the day window is used up
    assert not Message.objects.filter(event="frontdesk.unreachable").exists()

    result = attempt_record(actor=desk.operator, item=item, data=no_answer, now=desk.call_at(18, 20))
    item.refresh_from_db()
    assert (item.state, item.outcome, item.next_call_at, item.attempts) == ("closed", "unreachable", None, 3)
    text = Message.objects.get(event="frontdesk.unreachable")
    assert (text.channel, text.address, text.patient_id, text.state) == (
        "sms",
        "+359888100001",
        desk.petya.pk,
        "queued",
    )
    assert text.idempotency_key == f"fd:unreachable:{item.pk}#sms"
    assert (text.ref_type, text.ref_id) == ("scheduling.appointment", str(appointment.pk))
    assert "could not reach you" in text.body and "Consultation" in text.body
    assert result.messages == [text.pk]
    assert TimelineEntry.objects.filter(patient=desk.petya, title="Not reached about tomorrow's visit").exists()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.SCHEDULED  # unconfirmed, not cancelled


def test_the_clinics_own_windows_apply(desk: Desk, sms: None) -> None:
    FrontDeskPolicy.objects.create(organisation=desk.org, call_windows=[["10:00", "12:00", 1]])
    desk.book(desk.petya, 9)
    (item,) = generate(desk)
    assert item.next_call_at == desk.call_at(10)
    attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.NO_ANSWER), now=desk.call_at(10))
    item.refresh_from_db()
    assert (item.state, item.outcome) == ("closed", "unreachable")
    assert Message.objects.filter(event="frontdesk.unreachable").count() == 1


def test_without_an_sms_gateway_the_patient_is_still_marked_not_reached(desk: Desk) -> None:
    desk.book(desk.petya, 9)
    (item,) = generate(desk)
    for at in (desk.call_at(11), desk.call_at(13), desk.call_at(19)):
        attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.NO_ANSWER), now=at)
    item.refresh_from_db()
    assert item.outcome == "unreachable"
    assert not Message.objects.filter(event="frontdesk.unreachable").exists()
    assert TimelineEntry.objects.filter(patient=desk.petya, body__contains="No SMS could be sent").exists()


def test_the_periodic_sweep_texts_patients_nobody_reached_once_the_windows_are_over(desk: Desk, sms: None) -> None:
    desk.book(desk.petya, 9)
    desk.book(desk.anna, 10)
    waiting, called_back = generate(desk)
    attempt_record(
        actor=desk.operator,
        item=called_back,
        data=AttemptInput(outcome=Outcome.CALL_BACK, callback_at=desk.call_at(21, 30)),
        now=desk.call_at(12),
    )
    assert confirmations_sweep(organisation=desk.org, now=desk.call_at(16)) == 0  # the evening window is still ahead
    assert confirmations_sweep(organisation=desk.org, now=desk.call_at(21)) == 1
    assert confirmations_sweep(organisation=desk.org, now=desk.call_at(21, 5)) == 0  # once
    waiting.refresh_from_db()
    called_back.refresh_from_db()
    assert (waiting.state, waiting.outcome) == ("closed", "unreachable")
    assert called_back.state == "open"  # a promised call-back is still ahead
    texted = Message.objects.filter(event="frontdesk.unreachable").values_list("patient_id", flat=True)
    assert list(texted) == [desk.petya.pk]


def test_call_back_sets_the_next_call_and_needs_a_future_time(desk: Desk) -> None:
    desk.book(desk.petya, 9)
    (item,) = generate(desk)
    with pytest.raises(Invalid):
        attempt_record(
            actor=desk.operator,
            item=item,
            data=AttemptInput(outcome=Outcome.CALL_BACK, callback_at=desk.call_at(11)),
            now=desk.call_at(12),
        )
    attempt_record(
        actor=desk.operator,
        item=item,
        data=AttemptInput(outcome=Outcome.CALL_BACK, callback_at=desk.call_at(15, 30), note="at work"),
        now=desk.call_at(12),
    )
    item.refresh_from_db()
    assert (item.state, item.outcome, item.next_call_at) == ("open", "call_back", desk.call_at(15, 30))
    assert CallAttempt.objects.get().callback_at == desk.call_at(15, 30)


def test_wrong_number_closes_the_call(desk: Desk) -> None:
    desk.book(desk.petya, 9)
    (item,) = generate(desk)
    attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.WRONG_NUMBER))
    item.refresh_from_db()
    assert (item.state, item.outcome) == ("closed", "wrong_number")


def test_cancelled_needs_to_say_what_happens_next(desk: Desk) -> None:
    desk.book(desk.petya, 9)
    (item,) = generate(desk)
    with pytest.raises(Invalid) as caught:
        attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.CANCELLED))
    assert "follow_up" in caught.value.errors
    with pytest.raises(Invalid) as caught:
        attempt_record(
            actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.CANCELLED, follow_up="reschedule")
        )
    assert "new_start" in caught.value.errors
    item.refresh_from_db()
    assert item.is_open and not CallAttempt.objects.exists()  # nothing half-done


def test_cancelled_and_rescheduled_now_moves_the_visit(desk: Desk) -> None:
    appointment = desk.book(desk.petya, 9)
    (item,) = generate(desk)
    attempt_record(
        actor=desk.operator,
        item=item,
        data=AttemptInput(outcome=Outcome.CANCELLED, follow_up="reschedule", new_start=desk.clinic.at(12)),
    )
    appointment.refresh_from_db()
    item.refresh_from_db()
    assert (appointment.start, appointment.status) == (desk.clinic.at(12), Appointment.Status.SCHEDULED)
    assert (item.state, item.outcome, item.follow_up) == ("closed", "cancelled", "reschedule")


def test_cancelled_to_the_waiting_list_cancels_the_visit_and_plans_a_call_back(desk: Desk) -> None:
    appointment = desk.book(desk.petya, 9)
    (item,) = generate(desk)
    callback = desk.visit_day + timedelta(days=7)
    with pytest.raises(Invalid) as caught:  # a cancellation needs a reason from the catalogue
        attempt_record(
            actor=desk.operator, item=item, data=AttemptInput(outcome=Outcome.CANCELLED, follow_up="waitlist")
        )
    assert caught.value.code == "reason_required"
    attempt_record(
        actor=desk.operator,
        item=item,
        data=AttemptInput(
            outcome=Outcome.CANCELLED,
            follow_up="waitlist",
            cancel_reason_id=desk.clinic.cancel_reason.pk,
            callback_date=callback,
            note="mornings only",
        ),
    )
    appointment.refresh_from_db()
    entry = WaitlistEntry.objects.get()
    assert appointment.status == Appointment.Status.CANCELLED
    assert (entry.patient, entry.service, entry.callback_date, entry.state) == (
        desk.petya,
        desk.clinic.service,
        callback,
        "waiting",
    )
    assert list(entry.practitioners.all()) == [desk.clinic.doctor]
    assert entry.source_appointment == appointment


def test_cancelled_with_a_refusal_records_the_reason_and_the_crm_status(desk: Desk) -> None:
    appointment = desk.book(desk.petya, 9)
    (item,) = generate(desk)
    with pytest.raises(Invalid) as caught:
        attempt_record(
            actor=desk.operator,
            item=item,
            data=AttemptInput(
                outcome=Outcome.CANCELLED, follow_up="refusal", cancel_reason_id=desk.clinic.cancel_reason.pk
            ),
        )
    assert "refusal_reason" in caught.value.errors
    attempt_record(
        actor=desk.operator,
        item=item,
        data=AttemptInput(
            outcome=Outcome.CANCELLED,
            follow_up="refusal",
            cancel_reason_id=desk.clinic.cancel_reason.pk,
            refusal_reason_id=desk.refusal_reason.pk,
            note="found a cheaper clinic",
        ),
    )
    appointment.refresh_from_db()
    desk.petya.refresh_from_db()
    refusal = Refusal.objects.get()
    assert appointment.status == Appointment.Status.CANCELLED
    assert (refusal.patient, refusal.reason, refusal.appointment, refusal.created_by) == (
        desk.petya,
        desk.refusal_reason,
        appointment,
        desk.operator,
    )
    assert desk.petya.status == Patient.Status.REFUSAL
    assert desk.petya.status_reason == "Too expensive — found a cheaper clinic"
    assert AuditEvent.objects.filter(action="patient.refusal_recorded", patient_id=desk.petya.pk).exists()
