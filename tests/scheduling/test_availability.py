"""The slot engine: shifts minus breaks, time off, appointments and buffers, on the service grid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kabinet.scheduling.availability import SlotTaken, check_start, free_slots
from kabinet.scheduling.models import Appointment, TimeOff
from kabinet.scheduling.services import appointment_book

pytestmark = pytest.mark.django_db


def _starts(clinic, service=None, practitioners=None):
    service = service or clinic.service
    start = clinic.at(0)
    slots = free_slots(
        service=service,
        practitioner_ids=practitioners or [clinic.doctor.pk],
        start=start,
        end=start + timedelta(days=1),
        not_before=timezone.now(),
    )
    return [timezone.localtime(s.start, clinic.location.zone).strftime("%H:%M") for s in slots]


def test_slots_follow_the_grid_and_skip_the_break(clinic) -> None:
    starts = _starts(clinic)
    assert starts[0] == "09:00" and starts[1] == "09:15"
    assert "11:00" in starts  # ends 11:30, where the break begins
    assert "11:15" not in starts and "11:30" not in starts  # would overlap the 11:30–11:45 break
    assert "11:45" in starts
    assert starts[-1] == "13:30"  # the last 30 minutes before 14:00


def test_an_appointment_and_its_buffer_block_time(clinic) -> None:
    appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.long_service,
        start=clinic.at(9),
    )  # 09:00–10:00 + 10 min buffer
    starts = _starts(clinic)
    assert "09:45" not in starts and "10:00" not in starts
    assert "10:15" in starts


def test_time_off_removes_slots(clinic) -> None:
    TimeOff.objects.create(organisation=clinic.org, practitioner=clinic.doctor, start=clinic.at(9), end=clinic.at(12))
    starts = _starts(clinic)
    assert starts[0] == "12:00"


def test_a_busy_time_ending_a_fraction_of_a_second_late_still_blocks_that_second(clinic) -> None:
    """The engine works in whole seconds from the database: ends round up and starts down, so the slot right after
    such a busy time is neither offered nor bookable (SQLite and PostgreSQL compute the seconds differently)."""
    half = timedelta(milliseconds=500)
    Appointment.objects.create(
        organisation=clinic.org,
        location=clinic.location,
        practitioner=clinic.doctor,
        patient=clinic.patient,
        service=clinic.service,
        start=clinic.at(9, 30),
        end=clinic.at(10),
        busy_start=clinic.at(9, 30) - half,
        busy_end=clinic.at(10) + half,
        is_overbooked=True,
    )
    starts = _starts(clinic)
    assert "09:00" not in starts and "10:00" not in starts  # each overlaps the busy time by half a second
    assert "10:15" in starts
    with pytest.raises(SlotTaken):
        check_start(
            service=clinic.service,
            practitioner_id=clinic.doctor.pk,
            location_id=clinic.location.pk,
            start=clinic.at(10),
        )


def test_any_doctor_merges_slots_of_every_practitioner(clinic) -> None:
    both = _starts(clinic, practitioners=[clinic.doctor.pk, clinic.other_doctor.pk])
    assert both.count("09:00") == 2
    assert both.count("13:00") == 1


def test_shift_limited_to_other_services_offers_nothing(clinic) -> None:
    clinic.shift.allowed_services.set([clinic.long_service])
    assert _starts(clinic) == []
    assert _starts(clinic, service=clinic.long_service)[0] == "09:00"


def test_query_count_does_not_grow_with_appointments(clinic, django_assert_num_queries) -> None:
    start = clinic.at(0)

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            free_slots(
                service=clinic.service,
                practitioner_ids=[clinic.doctor.pk],
                start=start,
                end=start + timedelta(days=1),
                not_before=timezone.now(),
            )
        return len(ctx.captured_queries)

    before = count()
    for hour in (9, 10, 12, 13):
        Appointment.objects.create(
            organisation=clinic.org,
            location=clinic.location,
            practitioner=clinic.doctor,
            patient=clinic.patient,
            service=clinic.service,
            start=clinic.at(hour),
            end=clinic.at(hour, 30),
            busy_start=clinic.at(hour),
            busy_end=clinic.at(hour, 30),
        )
    assert count() == before
