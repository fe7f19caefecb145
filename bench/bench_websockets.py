"""Websockets: one ASGI process holding thousands of idle authenticated sockets, a calendar change fanned out to a
thousand of them, and consultation messages sent through the API and pushed to the other side's socket (doctor to
patient, then patient to doctor).

Process model: one uvicorn process (ASGI, the websocket server) with the Redis channel layer, over PostgreSQL; the
clients are asyncio websockets in this process, each with its own logged-in session cookie (staff users).

Targets (issue #7): ≥ 5,000 idle authenticated sockets at ≤ 100 KB each (server RSS growth per socket); a message
fanned out to 1,000 connected clients arrives at all of them with p95 ≤ 1 s; sending a consultation message (API
call to stored and pushed to the other side's socket) p95 ≤ 50 ms, in both directions (`send_*` doctor → patient,
`patient_send_*` patient → doctor).

Sizes: BENCH_WS_SOCKETS (default 5,000), BENCH_WS_FANOUT (default 1,000), BENCH_WS_SENDS (default 200);
BENCH_WS_REDIS_URL (default redis://127.0.0.1:6379/7, flushed first).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

SOCKETS = int(os.environ.get("BENCH_WS_SOCKETS", "5000"))
FANOUT = min(SOCKETS, int(os.environ.get("BENCH_WS_FANOUT", "1000")))
SENDS = int(os.environ.get("BENCH_WS_SENDS", "200"))
REDIS_URL = os.environ.get("BENCH_WS_REDIS_URL", "redis://127.0.0.1:6379/7")
STAFF = 50  # distinct staff sessions; the sockets take turns with them
FANOUT_ROUNDS = 5


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _session_cookie(user: Any) -> str:
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _prepare() -> dict[str, Any]:
    from django.utils import timezone

    from kabinet.accounts.models import User
    from kabinet.accounts.services import api_token_create
    from kabinet.consultations.services.contracts import contract_create
    from kabinet.core.models import Member, MemberRole, Role

    clinic = harness.build_clinic(doctors=1, days=1, patients=FANOUT_ROUNDS + 1)
    org = clinic.org
    cookies = []
    for i in range(STAFF):
        user = User.objects.create_user(email=f"staff{i}-{org.slug}@bench.example", password=None)
        MemberRole.objects.create(member=Member.objects.create(organisation=org, user=user), role=Role.REGISTRAR)
        cookies.append(_session_cookie(user))
    admin = User.objects.create_user(email=f"admin-{org.slug}@bench.example", password=None)
    MemberRole.objects.create(member=Member.objects.create(organisation=org, user=admin), role=Role.ADMIN)
    patient = clinic.patients[-1]
    patient_user = User.objects.create_user(email=f"patient-{org.slug}@bench.example", password=None)
    MemberRole.objects.create(member=Member.objects.create(organisation=org, user=patient_user), role=Role.PATIENT)
    patient.user = patient_user
    patient.save(update_fields=["user"])
    contract = contract_create(
        actor=admin,
        patient=patient,
        doctor=clinic.doctors[0],
        ends_on=timezone.localdate() + timedelta(days=30),
        activate=True,
    )
    _, doctor_token = api_token_create(user=clinic.doctors[0].user, name="bench")
    _, patient_token = api_token_create(user=patient_user, name="bench")
    return {
        "clinic": clinic,
        "cookies": cookies,
        "patient_cookie": _session_cookie(patient_user),
        "conversation": contract.conversation_id,
        "doctor_token": doctor_token,
        "doctor_cookie": _session_cookie(clinic.doctors[0].user),
        "patient_token": patient_token,
    }


async def _connect(ws_url: str, origin: str, cookie: str) -> Any:
    import websockets

    socket = await websockets.connect(
        ws_url, additional_headers={"Cookie": cookie, "Origin": origin}, open_timeout=60, max_size=2**20
    )
    hello = json.loads(await socket.recv())
    assert hello["event"] == "hello", hello
    return socket


async def _subscribe(socket: Any, topic: str, object_id: int) -> None:
    await socket.send(json.dumps({"event": "subscribe", "data": {"topic": topic, "id": object_id}}))
    answer = json.loads(await socket.recv())
    assert answer["event"] == "subscribed", answer


async def _drive(server: harness.Server, prepared: dict[str, Any]) -> dict[str, Any]:
    import httpx

    clinic = prepared["clinic"]
    ws_url = server.url.replace("http://", "ws://") + "/ws/"
    pid = server.process.pid
    rss_before = _rss_kb(pid)

    # 1. Idle sockets, opened 100 at a time.
    sockets: list[Any] = []
    opened = time.perf_counter()
    for start in range(0, SOCKETS, 100):
        cookies = [prepared["cookies"][i % STAFF] for i in range(start, min(SOCKETS, start + 100))]
        batch = [_connect(ws_url, server.url, cookie) for cookie in cookies]
        sockets += await asyncio.gather(*batch)
    open_seconds = time.perf_counter() - opened
    await asyncio.sleep(2)
    rss_after = _rss_kb(pid)

    # 2. Fan-out: FANOUT sockets follow the location's calendar; a booking through the API reaches all of them.
    followers = sockets[:FANOUT]
    await asyncio.gather(*(_subscribe(s, "calendar", clinic.location.pk) for s in followers))
    delays: list[float] = []
    missing = 0
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        headers = {"Authorization": f"Bearer {clinic.token}"}
        for round_ in range(FANOUT_ROUNDS):
            start_at = datetime.combine(clinic.days[0], dtime(8), tzinfo=clinic.location.zone) + timedelta(
                minutes=30 * round_
            )
            body = {
                "patient": clinic.patients[round_].pk,
                "practitioner": clinic.doctors[0].pk,
                "service": clinic.service.pk,
                "start": start_at.isoformat(),
                "location": clinic.location.pk,
            }
            sent = time.perf_counter()
            waiting = [asyncio.create_task(_next_event(s, "appointment.")) for s in followers]
            response = await client.post("/api/v1/appointments", json=body, headers=headers)
            assert response.status_code == 201, response.text
            arrived = await asyncio.gather(*waiting)
            missing += sum(1 for t in arrived if t is None)
            delays += [t - sent for t in arrived if t is not None]

        # 3. Consultation messages, both ways: the doctor sends through the API and the patient's socket gets the
        #    push, then the patient sends and the doctor's socket gets it.
        path = f"/api/v1/conversations/{prepared['conversation']}/messages"
        patient = await _connect(ws_url, server.url, prepared["patient_cookie"])
        await _subscribe(patient, "conversation", prepared["conversation"])
        doctor_sent = await _sends(client, path, {"Authorization": f"Bearer {prepared['doctor_token']}"}, patient)
        await patient.close()
        doctor = await _connect(ws_url, server.url, prepared["doctor_cookie"])
        await _subscribe(doctor, "conversation", prepared["conversation"])
        patient_sent = await _sends(client, path, {"Authorization": f"Bearer {prepared['patient_token']}"}, doctor)
        await doctor.close()
    alive = sum(1 for s in sockets if s.state.name == "OPEN")
    await asyncio.gather(*(s.close() for s in sockets))
    return {
        "sockets_open": alive,
        "open_seconds": round(open_seconds, 1),
        "server_rss_before_mb": round(rss_before / 1024, 1),
        "server_rss_after_mb": round(rss_after / 1024, 1),
        "kb_per_socket": round((rss_after - rss_before) / max(1, len(sockets)), 1),
        "fanout_clients": FANOUT,
        "fanout_missing": missing,
        "fanout_p50_ms": round(harness.percentile(delays, 50) * 1000, 1),
        "fanout_p95_ms": round(harness.percentile(delays, 95) * 1000, 1),
        **doctor_sent,
        **{f"patient_{key}": value for key, value in patient_sent.items()},
    }


async def _sends(client: Any, path: str, headers: dict[str, str], receiver: Any) -> dict[str, Any]:
    """SENDS messages through the API with `headers`; how long the call took and how long until `receiver` got it."""
    api_ms: list[float] = []
    pushed_ms: list[float] = []
    for n in range(SENDS):
        sent = time.perf_counter()
        waiting_push = asyncio.create_task(_next_event(receiver, "consultations.message"))
        response = await client.post(path, json={"text": f"Message {n}"}, headers=headers)
        api_ms.append((time.perf_counter() - sent) * 1000)
        assert response.status_code == 201, response.text
        arrived_at = await waiting_push
        if arrived_at is not None:
            pushed_ms.append((arrived_at - sent) * 1000)
    return {
        "send_api_p95_ms": round(harness.percentile(api_ms, 95), 1),
        "send_pushed_p50_ms": round(harness.percentile(pushed_ms, 50), 1),
        "send_pushed_p95_ms": round(harness.percentile(pushed_ms, 95), 1),
        "send_not_pushed": SENDS - len(pushed_ms),
    }


async def _next_event(socket: Any, prefix: str, timeout: float = 10) -> float | None:
    """When the next event whose name starts with `prefix` arrived on `socket` (perf_counter), or None."""
    deadline = time.perf_counter() + timeout
    while (left := deadline - time.perf_counter()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), left))
        except TimeoutError:
            return None
        if str(message.get("event", "")).startswith(prefix):
            return time.perf_counter()
    return None


def run_one(kind: str) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    url = harness.fresh_database(kind, "websockets")
    harness.setup_django(url)
    prepared = _prepare()
    server = harness.start_server("asgi", url, workers=1, REDIS_URL=REDIS_URL)
    try:
        figures = asyncio.run(_drive(server, prepared))
    finally:
        server.stop()
    return {
        "database": kind,
        **figures,
        "target:sockets_open": f">= {SOCKETS}",
        "target:kb_per_socket": "<= 100",
        "target:fanout_p95_ms": "<= 1000",
        "target:fanout_missing": "0",
        "target:send_pushed_p95_ms": "<= 50",
        "target:patient_send_pushed_p95_ms": "<= 50",
    }


if __name__ == "__main__":
    harness.per_database("websockets", run_one, ("postgres",))
