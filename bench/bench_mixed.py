"""Mixed staff + patient workload against the production process model on PostgreSQL.

gunicorn sync workers (the scaled-out WSGI server) over PostgreSQL, driven by an asyncio HTTP client with a fixed
number of concurrent virtual users for a fixed time. Each user picks a request by weight:

    calendar day view (appointments of a location for a day)   30 %
    slot search (one service, one day, all doctors)            20 %
    patient search (name fragment or phone fragment)           20 %
    patient card (card + first page of the timeline)           15 %  (two requests)
    booking (a distinct free slot; a 409 would be an error)    10 %
    practitioners / services lists (booking page)               5 %

Targets (issue #9): ≥ 400 requests/s, p95 ≤ 100 ms, 0 errors on 2 cores. The load generator runs on the same
machine and takes part of its CPU; the figures say how many cores the machine has, and how much CPU per request the
client, the server processes and their PostgreSQL backends used. (`--threads 4` makes gunicorn's workers gthread
workers: keep-alive connections, a thread per request.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

DOCTORS, DAYS, PATIENTS, BOOKED = 10, 30, 5000, 2000
USERS = int(os.environ.get("BENCH_MIXED_USERS", "24"))
WARMUP_S, DURATION_S = 5.0, float(os.environ.get("BENCH_MIXED_SECONDS", "30"))
WORKERS = int(os.environ.get("BENCH_MIXED_WORKERS", str(2 * (os.cpu_count() or 2) + 1)))
CLIENT = os.environ.get("BENCH_MIXED_CLIENT", "aiohttp")


def _prepare(clinic: harness.BenchClinic, rng: random.Random) -> list[tuple[int, datetime]]:
    """Names and phones worth searching for, 2,000 booked visits; returns the free (doctor, start) pairs left."""
    from kabinet.patients.models import Patient, PatientPhone
    from kabinet.scheduling.models import Appointment

    family = ["Иванова", "Petrova", "Smith", "Георгиев", "Dimitrov", "Nikolaeva", "Brown", "Стоянов"]
    patients = list(clinic.patients)
    for i, patient in enumerate(patients):
        patient.family_name = f"{family[i % len(family)]}{i}"
        patient.phone = f"+35988{i:07d}"
    Patient.objects.bulk_update(patients, ["family_name", "phone"], batch_size=1000)
    PatientPhone.objects.bulk_create(
        [PatientPhone(organisation=clinic.org, patient=p, number=p.phone, is_primary=True) for p in patients],
        batch_size=1000,
    )
    starts = [dtime(h, m) for h in range(8, 20) for m in (0, 30) if h != 13]
    free = [
        (doctor.pk, datetime.combine(day, t, tzinfo=clinic.location.zone))
        for doctor in clinic.doctors
        for day in clinic.days[1:]
        for t in starts
    ]
    rng.shuffle(free)
    booked, free = free[:BOOKED], free[BOOKED:]
    Appointment.objects.bulk_create(
        [
            Appointment(
                organisation=clinic.org,
                location=clinic.location,
                practitioner_id=pid,
                patient=rng.choice(patients),
                service=clinic.service,
                start=start,
                end=start + timedelta(minutes=30),
                busy_start=start,
                busy_end=start + timedelta(minutes=30),
            )
            for pid, start in booked
        ],
        batch_size=1000,
    )
    return free


Call = tuple[str, str, dict[str, Any]]


def request_mix(
    *,
    free: Iterator[tuple[int, datetime]],
    patient_ids: list[int],
    days: list[date],
    zone: Any,
    location: int,
    service: int,
    rng: random.Random,
) -> Callable[[], tuple[str, list[Call]]]:
    """The workload: a function that picks the next request by weight and returns (kind, [(method, path, kwargs)])
    with httpx-style kwargs (params, json, headers). bench/profile_mixed.py replays the same mix in one process."""
    day_names = [d.isoformat() for d in days]
    day_bounds = {
        d.isoformat(): (
            datetime.combine(d, dtime(0), tzinfo=zone).isoformat(),
            datetime.combine(d + timedelta(days=1), dtime(0), tzinfo=zone).isoformat(),
        )
        for d in days
    }
    keys = itertools.count()
    run = f"{time.time_ns():x}"  # Idempotency-Keys unique across runs against one database

    def request() -> tuple[str, list[Call]]:
        roll = rng.random()
        if roll < 0.30:
            since, until = day_bounds[rng.choice(day_names)]
            return "calendar", [
                ("GET", "/api/v1/appointments", {"params": {"start": since, "end": until, "location": location}})
            ]
        if roll < 0.50:
            day = rng.choice(day_names)
            params = {"service": service, "start": day, "end": day, "location": location}
            return "slots", [("GET", "/api/v1/slots", {"params": params})]
        if roll < 0.70:
            i = rng.randrange(len(patient_ids))
            text = rng.choice([f"Petrova{i}"[: rng.randint(5, 8)], f"88{i:07d}"[-6:], f"Иванова{i}"])
            return "search", [("GET", "/api/v1/patients", {"params": {"search": text, "limit": 20}})]
        if roll < 0.85:
            pid = rng.choice(patient_ids)
            return "card", [
                ("GET", f"/api/v1/patients/{pid}", {}),
                ("GET", f"/api/v1/patients/{pid}/timeline", {"params": {"limit": 20}}),
            ]
        if roll < 0.95:
            doctor, start = next(free)
            body: dict[str, Any] = {"patient": rng.choice(patient_ids), "practitioner": doctor, "service": service}
            body.update({"start": start.isoformat(), "location": location})
            headers = {"Idempotency-Key": f"mixed-{run}-{next(keys)}"}
            return "booking", [("POST", "/api/v1/appointments", {"json": body, "headers": headers})]
        return "lists", [("GET", rng.choice(["/api/v1/practitioners", "/api/v1/services"]), {})]

    return request


@contextlib.asynccontextmanager
async def _client(base_url: str, headers: dict[str, str]) -> AsyncIterator[Callable[..., Awaitable[bool]]]:
    """`send(method, path, kwargs) -> ok` over one keep-alive connection per user: the whole body is read and ok
    means a status below 400, with either client. BENCH_MIXED_CLIENT picks it: `aiohttp` (the default: its C HTTP
    parser takes ~0.5 ms of CPU per request against httpx's ~2 ms, which the server gets on the shared cores; it is
    installed anyway, with pywebpush) or `httpx`."""
    if CLIENT == "aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=USERS)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(base_url, headers=headers, connector=connector, timeout=timeout) as session:

            async def send_aiohttp(method: str, path: str, kwargs: dict[str, Any]) -> bool:
                try:
                    async with session.request(method, path, **kwargs) as response:
                        await response.read()
                        return response.status < 400
                except (aiohttp.ClientError, TimeoutError):
                    return False

            yield send_aiohttp
        return
    import httpx

    limits = httpx.Limits(max_connections=USERS, max_keepalive_connections=USERS)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30) as client:

        async def send_httpx(method: str, path: str, kwargs: dict[str, Any]) -> bool:
            try:
                response = await client.request(method, path, **kwargs)
            except httpx.HTTPError:
                return False
            return response.status_code < 400

        yield send_httpx


async def _drive(
    server: harness.Server, database: str, clinic: harness.BenchClinic, free: list[tuple[int, datetime]]
) -> dict[str, Any]:
    request = request_mix(
        free=iter(free),
        patient_ids=[p.pk for p in clinic.patients],
        days=clinic.days[1:],
        zone=clinic.location.zone,
        location=clinic.location.pk,
        service=clinic.service.pk,
        rng=random.Random(7),
    )
    samples: dict[str, list[float]] = {}
    outcomes: Counter[str] = Counter()

    stop_at = 0.0
    measuring = False

    async def user(send: Callable[[str, str, dict[str, Any]], Awaitable[bool]]) -> None:
        while time.perf_counter() < stop_at:
            kind, calls = request()
            for method, path, kwargs in calls:
                started = time.perf_counter()
                ok = await send(method, path, kwargs)
                elapsed = time.perf_counter() - started
                if measuring:
                    samples.setdefault(kind, []).append(elapsed)
                    outcomes["ok" if ok else f"error:{kind}"] += 1

    headers = {"Authorization": f"Bearer {clinic.token}"}
    backends = f" {database} "  # PostgreSQL backends name their database in their command line
    async with _client(server.url, headers) as send:
        stop_at = time.perf_counter() + WARMUP_S
        await asyncio.gather(*(user(send) for _ in range(USERS)))
        measuring = True
        began = time.perf_counter()
        cpu_began = (
            time.process_time(),
            harness.cpu_seconds(process_group=server.process.pid),
            harness.cpu_seconds(cmdline_contains=backends),
        )
        stop_at = began + DURATION_S
        await asyncio.gather(*(user(send) for _ in range(USERS)))
        wall = time.perf_counter() - began
        cpu_ended = (
            time.process_time(),
            harness.cpu_seconds(process_group=server.process.pid),
            harness.cpu_seconds(cmdline_contains=backends),
        )
    everything = [s for values in samples.values() for s in values]
    figures: dict[str, Any] = {
        "client": CLIENT,
        "users": USERS,
        "server_workers": WORKERS,
        "requests": len(everything),
        "requests_per_s": round(len(everything) / wall, 1),
        **harness.summary_ms(everything),
        "errors": sum(v for k, v in outcomes.items() if k != "ok"),
    }
    # CPU per request of the load generator (this process), the server's processes and the PostgreSQL backends that
    # served them: what the 2 cores were spent on (the rest of the machine's CPU went elsewhere).
    for name, before, after in zip(("client", "server", "database"), cpu_began, cpu_ended, strict=True):
        figures[f"{name}_cpu_ms_per_request"] = round((after - before) / max(len(everything), 1) * 1000, 2)
    for kind, values in sorted(samples.items()):
        figures[f"{kind}.p95_ms"] = harness.summary_ms(values)["p95_ms"]
    if figures["errors"]:
        figures["error_kinds"] = ", ".join(f"{k}={v}" for k, v in outcomes.items() if k != "ok")
    return figures


def main() -> None:
    url = harness.fresh_database("postgres", "mixed")
    harness.setup_django(url)
    clinic = harness.build_clinic(doctors=DOCTORS, days=DAYS, patients=PATIENTS)
    free = _prepare(clinic, random.Random(3))
    server = harness.start_server("wsgi", url, workers=WORKERS)
    try:
        figures = asyncio.run(_drive(server, url.rsplit("/", 1)[1], clinic, free))
    finally:
        server.stop()
    harness.write_result(
        "mixed",
        figures,
        {"requests_per_s": ">= 400", "p95_ms": "<= 100", "errors": "== 0"},
        database="postgres",
        server=f"gunicorn, {WORKERS} workers of 4 threads (gthread)",
    )
    for key, value in figures.items():
        print(f"mixed.{key} = {value}")


if __name__ == "__main__":
    main()
