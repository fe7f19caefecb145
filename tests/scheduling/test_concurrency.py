"""No double booking under real concurrency: threads with their own database connections race for one slot.

Runs on SQLite (IMMEDIATE transactions + re-check) and PostgreSQL (exclusion constraint) alike.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from kabinet.scheduling.availability import SlotTaken
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book
from tests.factories import PASSWORD

RACERS = 8


def _race(work) -> Counter[str]:
    barrier = threading.Barrier(RACERS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            result = work()
        except Exception as exc:  # collected and asserted below
            result = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_service_calls_book_the_slot_exactly_once(clinic) -> None:
    def book() -> str:
        try:
            appointment_book(
                actor=clinic.registrar,
                patient=clinic.patient,
                practitioner=clinic.doctor,
                service=clinic.service,
                start=clinic.at(9),
                location=clinic.location,
            )
        except SlotTaken:
            return "taken"
        return "booked"

    outcomes = _race(book)
    assert outcomes == Counter({"booked": 1, "taken": RACERS - 1})
    assert Appointment.objects.filter(practitioner=clinic.doctor).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_api_posts_get_one_201_and_409s(clinic) -> None:
    body = {
        "patient": clinic.patient.pk,
        "practitioner": clinic.doctor.pk,
        "service": clinic.long_service.pk,
        "start": clinic.at(10).isoformat(),
        "location": clinic.location.pk,
    }

    def post() -> str:
        client = Client()
        client.login(username=clinic.registrar.email, password=PASSWORD)
        response = client.post("/api/v1/appointments", body, content_type="application/json")
        return f"{response.status_code}:{response.json().get('code', '')}"

    outcomes = _race(post)
    assert outcomes == Counter({"201:": 1, "409:slot_taken": RACERS - 1})


@pytest.mark.django_db
def test_postgresql_exclusion_constraint_refuses_overlaps_even_without_the_service(clinic) -> None:
    from django.db import IntegrityError, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint exists on PostgreSQL; SQLite relies on the service's re-check")

    def raw(start_hour: int, minute: int, **extra: object) -> Appointment:
        start = clinic.at(start_hour, minute)
        end = start + timedelta(minutes=30)
        return Appointment.objects.create(
            organisation=clinic.org,
            location=clinic.location,
            practitioner=clinic.doctor,
            patient=clinic.patient,
            service=clinic.service,
            start=start,
            end=end,
            busy_start=start,
            busy_end=end,
            **extra,
        )

    raw(9, 0)
    with pytest.raises(IntegrityError, match="appointment_practitioner_no_overlap"), transaction.atomic():
        raw(9, 15)
    raw(9, 30)  # touching is not overlapping
    raw(9, 15, is_overbooked=True)  # explicit extras are allowed
    raw(9, 0, status=Appointment.Status.CANCELLED)
