"""Embedded writes: 16 concurrent writers book appointments on SQLite (WAL, BEGIN IMMEDIATE, busy timeout).

Each writer is a thread with its own connection booking distinct free slots through the booking service (all
checks, audit row, live-update hook). Targets: 0 "database is locked" errors, ≥ 1,000 bookings/s.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

WRITERS, PER_WRITER = 16, 60


def main() -> None:
    url = harness.fresh_database("sqlite", "writes")
    harness.setup_django(url)
    from django.db import OperationalError, connection

    from kabinet.scheduling.services import appointment_book

    clinic = harness.build_clinic(doctors=WRITERS, days=3, patients=WRITERS)
    # Half-hour starts inside the 08:00–20:00 shift, around the 13:00–13:30 break.
    starts = [dtime(h, m) for h in range(8, 20) for m in (0, 30) if h != 13][:20]
    day = clinic.days[0]
    barrier = threading.Barrier(WRITERS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def writer(index: int) -> None:
        doctor, patient = clinic.doctors[index], clinic.patients[index]
        local: Counter[str] = Counter()
        barrier.wait()
        for n in range(PER_WRITER):
            start = datetime.combine(day + timedelta(days=n // 20), starts[n % 20], tzinfo=clinic.location.zone)
            try:
                appointment_book(
                    actor=clinic.registrar,
                    patient=patient,
                    practitioner=doctor,
                    service=clinic.service,
                    start=start,
                    location=clinic.location,
                )
                local["booked"] += 1
            except OperationalError as exc:
                local["locked" if "locked" in str(exc) else "operational_error"] += 1
            except Exception as exc:
                local[f"{type(exc).__name__}:{getattr(exc, 'code', '')}"] += 1
        connection.close()
        with lock:
            outcomes.update(local)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    figures = {
        "writers": WRITERS,
        "bookings": outcomes["booked"],
        "locked_errors": outcomes["locked"],
        "other_errors": sum(v for k, v in outcomes.items() if k not in {"booked", "locked"}),
        "bookings_per_s": round(outcomes["booked"] / elapsed, 1),
    }
    harness.write_result(
        "sqlite_writes",
        figures,
        {"locked_errors": "== 0", "other_errors": "== 0", "bookings_per_s": ">= 1000"},
    )
    print(dict(outcomes))
    for key, value in figures.items():
        print(f"sqlite_writes.{key} = {value}")


if __name__ == "__main__":
    main()
