"""Booking rules: who may book what and when, status transitions with reasons, moves, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.scheduling.availability import SlotTaken
from kabinet.scheduling.models import Appointment, BookingPolicy
from kabinet.scheduling.services import (
    appointment_book,
    appointment_cancel,
    appointment_move,
    appointment_set_status,
)

pytestmark = pytest.mark.django_db
Status = Appointment.Status


def book(clinic, **kw):
    args = {
        "actor": clinic.registrar,
        "patient": clinic.patient,
        "practitioner": clinic.doctor,
        "service": clinic.service,
        "start": clinic.at(9),
        "location": clinic.location,
    }
    args.update(kw)
    return appointment_book(**args)


def test_registrar_books_a_free_slot_and_it_is_audited(clinic) -> None:
    appointment = book(clinic)
    assert appointment.status == Status.SCHEDULED
    assert appointment.end - appointment.start == timedelta(minutes=30)
    event = AuditEvent.objects.get(action="appointment.booked", object_id=str(appointment.pk))
    assert event.patient_id == clinic.patient.pk
    assert event.after is not None and event.after["status"] == "scheduled"


def test_second_booking_of_the_same_time_is_refused(clinic) -> None:
    book(clinic)
    with pytest.raises(SlotTaken):
        book(clinic, start=clinic.at(9, 15))


@pytest.mark.parametrize(
    ("hour", "minute", "code"),
    [(9, 5, "off_grid"), (11, 30, "in_break"), (14, 0, "outside_working_hours"), (7, 0, "outside_working_hours")],
)
def test_times_that_break_a_rule_are_refused_naming_it(clinic, hour, minute, code) -> None:
    with pytest.raises(Invalid) as info:
        book(clinic, start=clinic.at(hour, minute))
    assert info.value.code == code


def test_past_time_is_refused(clinic) -> None:
    with pytest.raises(Invalid) as info:
        book(clinic, start=timezone.now() - timedelta(hours=1))
    assert info.value.code == "in_past"


def test_service_the_doctor_does_not_perform_is_refused(clinic) -> None:
    clinic.service.practitioners.remove(clinic.doctor)
    with pytest.raises(Invalid) as info:
        book(clinic)
    assert info.value.code == "service_not_performed"


def test_only_admins_and_registrars_may_overbook(clinic) -> None:
    book(clinic)
    with pytest.raises(NotAllowed):
        book(clinic, actor=clinic.operator, overbook=True)
    extra = book(clinic, overbook=True)
    assert extra.is_overbooked


def test_staff_of_another_clinic_cannot_book(clinic, outsider) -> None:
    with pytest.raises(NotAllowed):
        book(clinic, actor=outsider)


def test_patient_books_online_bookable_service_for_self_and_ward(clinic, ward) -> None:
    own = book(clinic, actor=clinic.patient_user)
    assert own.source == Appointment.Source.ONLINE
    child = book(clinic, actor=clinic.patient_user, patient=ward, start=clinic.at(10))
    assert child.patient == ward


def test_patient_cannot_book_staff_only_service_or_for_strangers(clinic, make_user) -> None:
    with pytest.raises(Invalid) as info:
        book(clinic, actor=clinic.patient_user, service=clinic.staff_only)
    assert info.value.code == "not_online_bookable"
    stranger = make_user()
    with pytest.raises(NotAllowed):
        book(clinic, actor=stranger)


def test_online_booking_waits_for_approval_when_the_clinic_says_so(clinic) -> None:
    BookingPolicy.objects.create(organisation=clinic.org, online_requires_approval=True)
    assert book(clinic, actor=clinic.patient_user).status == Status.PENDING


def test_status_transitions_and_reasons(clinic) -> None:
    a = book(clinic)
    a = appointment_set_status(actor=clinic.registrar, appointment=a, status=Status.CONFIRMED)
    with pytest.raises(Invalid) as info:
        appointment_set_status(actor=clinic.registrar, appointment=a, status=Status.COMPLETED)
    assert info.value.code == "bad_transition"
    with pytest.raises(Invalid) as info:
        appointment_set_status(actor=clinic.registrar, appointment=a, status=Status.NO_SHOW)
    assert info.value.code == "reason_required"
    with pytest.raises(Invalid):  # a cancel reason is not a no-show reason
        appointment_set_status(
            actor=clinic.registrar, appointment=a, status=Status.NO_SHOW, reason_id=clinic.cancel_reason.pk
        )
    a = appointment_set_status(
        actor=clinic.registrar,
        appointment=a,
        status=Status.NO_SHOW,
        reason_id=clinic.no_show_reason.pk,
        reason_note="phone off",
    )
    assert (a.status, a.reason, a.reason_note) == (Status.NO_SHOW, clinic.no_show_reason, "phone off")
    a = appointment_set_status(actor=clinic.registrar, appointment=a, status=Status.ARRIVED)  # came late after all
    a = appointment_set_status(actor=clinic.registrar, appointment=a, status=Status.COMPLETED)
    actions = list(AuditEvent.objects.filter(object_id=str(a.pk)).order_by("id").values_list("action", flat=True))
    assert actions.count("appointment.status_changed") == 4


def test_cancelling_frees_the_time(clinic) -> None:
    a = book(clinic)
    appointment_cancel(actor=clinic.registrar, appointment=a, reason_id=clinic.cancel_reason.pk)
    assert book(clinic).status == Status.SCHEDULED


def test_move_and_resize(clinic) -> None:
    a = book(clinic)
    blocker = book(clinic, start=clinic.at(10))
    moved = appointment_move(actor=clinic.registrar, appointment=a, start=clinic.at(12))
    assert moved.start == clinic.at(12) and moved.end == clinic.at(12, 30)
    resized = appointment_move(actor=clinic.registrar, appointment=moved, end=clinic.at(13))
    assert resized.end == clinic.at(13)
    with pytest.raises(Invalid):
        appointment_move(actor=clinic.registrar, appointment=resized, end=clinic.at(13, 2))
    with pytest.raises(SlotTaken):
        appointment_move(actor=clinic.registrar, appointment=resized, start=clinic.at(9, 45))  # overlaps blocker
    other = appointment_move(actor=clinic.registrar, appointment=blocker, practitioner=clinic.other_doctor)
    assert other.practitioner == clinic.other_doctor
    event = AuditEvent.objects.filter(action="appointment.moved", object_id=str(a.pk)).order_by("id").first()
    assert event is not None and event.before is not None and event.after is not None
    assert event.before["start"] != event.after["start"]


def test_patient_may_cancel_until_the_cutoff_only(clinic) -> None:
    a = book(clinic, actor=clinic.patient_user)
    BookingPolicy.objects.update_or_create(organisation=clinic.org, defaults={"change_cutoff_hours": 24 * 7})
    with pytest.raises(NotAllowed) as info:
        appointment_cancel(actor=clinic.patient_user, appointment=a, reason_id=clinic.cancel_reason.pk)
    assert info.value.code == "change_cutoff"
    BookingPolicy.objects.filter(organisation=clinic.org).update(change_cutoff_hours=1)
    cancelled = appointment_cancel(actor=clinic.patient_user, appointment=a, reason_id=clinic.cancel_reason.pk)
    assert cancelled.status == Status.CANCELLED


def test_patient_cannot_confirm_or_touch_others(clinic, make_user) -> None:
    a = book(clinic)
    with pytest.raises(NotAllowed):
        appointment_set_status(actor=clinic.patient_user, appointment=a, status=Status.CONFIRMED)
    with pytest.raises(NotAllowed):
        appointment_cancel(actor=make_user(), appointment=a, reason_id=clinic.cancel_reason.pk)


def test_bookings_moves_and_cancellations_appear_on_the_patient_timeline(clinic) -> None:
    from kabinet.patients.models import TimelineEntry

    a = book(clinic)
    appointment_move(actor=clinic.registrar, appointment=a, start=clinic.at(12))
    appointment_cancel(actor=clinic.registrar, appointment=a, reason_id=clinic.cancel_reason.pk)
    entries = list(
        TimelineEntry.objects.filter(patient=clinic.patient, ref_id=str(a.pk))
        .order_by("id")
        .values_list("title", "body")
    )
    assert len(entries) == 3
    assert entries[0][0].startswith("Visit booked: Consultation")
    assert entries[1][0].startswith("Visit moved to")
    assert entries[2][0].startswith("Visit status “cancelled”: Consultation")
    assert "Patient asked" in entries[2][1]
