"""Booking race: 200 concurrent POSTs for the same slot against a running server.

Target: exactly one 201, 199 × 409 `slot_taken`, no 5xx, on SQLite (uvicorn, the embedded default) and on
PostgreSQL (gunicorn sync workers, the scaled-out HTTP model).
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import datetime, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

REQUESTS = 200


async def _fire(base: str, token: str, body: dict[str, object]) -> tuple[Counter[str], float]:
    import httpx

    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        headers = {"Authorization": f"Bearer {token}"}
        started = asyncio.get_running_loop().time()
        responses = await asyncio.gather(
            *[client.post("/api/v1/appointments", json=body, headers=headers) for _ in range(REQUESTS)],
            return_exceptions=True,
        )
        elapsed = asyncio.get_running_loop().time() - started
    outcomes: Counter[str] = Counter()
    for r in responses:
        if isinstance(r, BaseException):
            outcomes[f"error:{type(r).__name__}"] += 1
        else:
            outcomes[str(r.status_code)] += 1
    return outcomes, elapsed


def run_one(kind: str) -> dict[str, object]:
    url = harness.fresh_database(kind, "race")
    harness.setup_django(url)
    clinic = harness.build_clinic(doctors=1, days=1)
    from kabinet.scheduling.models import Appointment

    start = datetime.combine(clinic.days[0], time(10), tzinfo=clinic.location.zone)
    body = {
        "patient": clinic.patients[0].pk,
        "practitioner": clinic.doctors[0].pk,
        "service": clinic.service.pk,
        "start": start.isoformat(),
        "location": clinic.location.pk,
    }
    server = harness.start_server("asgi" if kind == "sqlite" else "wsgi", url, workers=1 if kind == "sqlite" else 2)
    try:
        outcomes, elapsed = asyncio.run(_fire(server.url, clinic.token, body))
    finally:
        server.stop()
    server_errors = sum(n for code, n in outcomes.items() if code.startswith("5") or code.startswith("error"))
    return {
        "created_201": outcomes.get("201", 0),
        "conflict_409": outcomes.get("409", 0),
        "server_errors": server_errors,
        "other": sum(outcomes.values()) - outcomes.get("201", 0) - outcomes.get("409", 0) - server_errors,
        "booked_rows": Appointment.objects.filter(practitioner=clinic.doctors[0]).count(),
        "seconds": round(elapsed, 2),
        "target:created_201": "== 1",
        "target:conflict_409": f"== {REQUESTS - 1}",
        "target:server_errors": "== 0",
        "target:booked_rows": "== 1",
    }


if __name__ == "__main__":
    harness.per_database("booking_race", run_one)
