"""Availability: 30 days of free slots for 10 doctors with 2,000 booked appointments.

Targets: p95 ≤ 100 ms for GET /api/v1/slots over the 30 days against a running server, and the same number of
queries with 200 and with 2,000 appointments.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

DOCTORS, DAYS, REQUESTS = 10, 30, 60


def _book(clinic: harness.BenchClinic, count: int, rng: random.Random) -> None:
    from kabinet.scheduling.models import Appointment

    taken: set[tuple[int, datetime]] = set(
        Appointment.objects.filter(organisation=clinic.org).values_list("practitioner_id", "start")
    )
    rows: list[Any] = []
    while len(rows) < count:
        doctor = rng.choice(clinic.doctors)
        day = rng.choice(clinic.days)
        hour, half = rng.choice([h for h in range(8, 20) if h != 13]), rng.choice([0, 30])
        start = datetime.combine(day, dtime(hour, half), tzinfo=clinic.location.zone)
        if (doctor.pk, start) in taken:
            continue
        taken.add((doctor.pk, start))
        end = start + timedelta(minutes=30)
        rows.append(
            Appointment(
                organisation=clinic.org,
                location=clinic.location,
                practitioner=doctor,
                patient=rng.choice(clinic.patients),
                service=clinic.service,
                start=start,
                end=end,
                busy_start=start,
                busy_end=end,
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=500)


def _queries(clinic: harness.BenchClinic) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from kabinet.scheduling.availability import free_slots

    start = datetime.combine(clinic.days[0], dtime(0), tzinfo=clinic.location.zone)
    with CaptureQueriesContext(connection) as ctx:
        free_slots(
            service=clinic.service,
            practitioner_ids=[d.pk for d in clinic.doctors],
            start=start,
            end=start + timedelta(days=DAYS),
            not_before=timezone.now(),
        )
    return len(ctx.captured_queries)


def run_one(kind: str) -> dict[str, object]:
    import httpx

    url = harness.fresh_database(kind, "availability")
    harness.setup_django(url)
    clinic = harness.build_clinic(doctors=DOCTORS, days=DAYS, patients=500)
    rng = random.Random(1)
    _book(clinic, 200, rng)
    queries_200 = _queries(clinic)
    _book(clinic, 1800, rng)
    queries_2000 = _queries(clinic)
    server = harness.start_server("asgi" if kind == "sqlite" else "wsgi", url, workers=1 if kind == "sqlite" else 2)
    params = {
        "service": clinic.service.pk,
        "start": clinic.days[0].isoformat(),
        "end": clinic.days[-1].isoformat(),
        "location": clinic.location.pk,
    }
    samples, slots = [], 0
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {clinic.token}"}, timeout=30) as c:
            c.get("/api/v1/slots", params=params).raise_for_status()  # warm-up
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = c.get("/api/v1/slots", params=params)
                samples.append(time.perf_counter() - started)
                response.raise_for_status()
                slots = len(response.json())
    finally:
        server.stop()
    return {
        **harness.summary_ms(samples),
        "slots_returned": slots,
        "queries_200_appointments": queries_200,
        "queries_2000_appointments": queries_2000,
        "target:p95_ms": "<= 100",
        "target:queries_2000_appointments": f"== {queries_200} (with 200)",
    }


if __name__ == "__main__":
    harness.per_database("availability", run_one)
