"""Reminders under SIGKILL: 10,000 SMS reminders fall due over a few minutes while the task worker is killed with
SIGKILL every 60 s and started again.

Process model: kabinet's own `manage.py clock` and `manage.py db_worker` (what the Procfile runs), over a fresh
database; the SMS gateway is a local HTTP server in its own process that, like commercial gateways, accepts each
Idempotency-Key once (a repeat is answered but not delivered again) and logs when each key first arrived.

Targets (issue #6): 0 lost, 0 duplicates, 99 % sent within 60 s of their due time.

Settings for the run (environment of the processes): NOTIFICATIONS_BATCH=20, NOTIFICATIONS_LEASE_SECONDS=30 with
NOTIFICATIONS_PROVIDER_TIMEOUT=10 — a killed worker's claims come back after the lease, so the lease bounds how
late they are. Sizes: BENCH_REMINDERS (default 10,000), BENCH_REMINDERS_WINDOW seconds over which they fall due
(default 150), BENCH_REMINDERS_KILL_EVERY (default 60); BENCH_DATABASES (default "postgres,sqlite").
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

REMINDERS = int(os.environ.get("BENCH_REMINDERS", "10000"))
WINDOW = float(os.environ.get("BENCH_REMINDERS_WINDOW", "150"))
KILL_EVERY = float(os.environ.get("BENCH_REMINDERS_KILL_EVERY", "60"))
LEAD = 25.0  # seconds between the first due time and the start of the processes' clock
SETTINGS = {
    "NOTIFICATIONS_BATCH": "20",
    "NOTIFICATIONS_LEASE_SECONDS": "30",
    "NOTIFICATIONS_PROVIDER_TIMEOUT": "10",
    "NOTIFICATIONS_TICK_SECONDS": "1",
    "SMS_HTTP_IDEMPOTENCY_HEADER": "Idempotency-Key",
}

GATEWAY = textwrap.dedent(
    """
    import json, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen, lock = set(), threading.Lock()
    out = open(sys.argv[2], "w")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = self.headers.get("Idempotency-Key", "")
            with lock:
                kind = "repeat" if key in seen else "new"
                seen.add(key)
                out.write(f"{kind}\\t{key}\\t{time.time()}\\n")
                out.flush()
            body = json.dumps({"id": key}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
    """
)


def _reminders(due_from: Any) -> dict[str, float]:
    """REMINDERS reminder SMS falling due evenly over WINDOW seconds from `due_from`; key -> due time (epoch)."""
    from kabinet.core.models import Organisation
    from kabinet.notifications.models import ReminderPolicy
    from kabinet.notifications.services import BulkItem, schedule_bulk
    from kabinet.patients.models import Patient

    org = Organisation.objects.create(name="Reminder Clinic", slug=f"reminders-{time.time_ns()}", default_language="en")
    ReminderPolicy.objects.create(organisation=org, quiet_hours_start=None, quiet_hours_end=None)
    patients = Patient.objects.bulk_create(
        Patient(organisation=org, family_name=f"Bench{i:05d}", given_name="Anna", phone=f"+3598880{i:05d}")
        for i in range(REMINDERS)
    )
    due: dict[str, float] = {}
    slices = 100
    for s in range(slices):
        at = due_from + timedelta(seconds=WINDOW * s / slices)
        chunk = patients[s * REMINDERS // slices : (s + 1) * REMINDERS // slices]
        items = [
            BulkItem(
                key=f"bench:reminder:{p.pk}",
                channel="sms",
                address=p.phone,
                patient=p,
                context={
                    "patient": {"name": str(p), "first_name": p.given_name},
                    "doctor": {"name": "Dr Bench"},
                    "service": {"name": "Consultation"},
                    "location": {"name": "Main", "address": "1 Bench St"},
                    "clinic": {"name": org.name},
                    "links": {"portal": "https://clinic.example/my/"},
                    "time": at + timedelta(days=1),
                },
            )
            for p in chunk
        ]
        for message in schedule_bulk(organisation=org, event="appointment.reminder", items=items, due_at=at):
            due[message.idempotency_key] = at.timestamp()
    return due


def run_one(kind: str) -> dict[str, Any]:
    log = harness.ROOT / "var" / f"bench-reminders-gateway-{kind}.log"
    log.parent.mkdir(exist_ok=True)
    gateway, port = harness.start_script(GATEWAY, log)
    url = harness.fresh_database(kind, "reminders")
    sms = {"SMS_URL": f"http+json://127.0.0.1:{port}/sms", **SETTINGS}
    os.environ.update(sms)
    harness.setup_django(url)
    from django.db.models import Count
    from django.utils import timezone

    from kabinet.notifications.models import Message

    due = _reminders(timezone.now() + timedelta(seconds=LEAD))
    env = harness.server_env(url, **sms)
    venv_python = sys.executable

    process_log = (harness.ROOT / "var" / f"bench-reminders-processes-{kind}.log").open("w")

    def start(*command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [venv_python, "manage.py", *command], cwd=harness.ROOT, env=env, stdout=process_log, stderr=process_log
        )

    clock = start("clock", "--interval", "1")
    worker = start("db_worker", "--no-reload", "--interval", "0.2")
    kills = 0
    started = time.monotonic()
    last_kill = started
    deadline = started + LEAD + WINDOW + 600
    try:
        while time.monotonic() < deadline:
            time.sleep(1)
            if not Message.objects.exclude(state="sent").exists():
                break
            if time.monotonic() - last_kill >= KILL_EVERY:
                worker.kill()  # SIGKILL: no clean-up, claims left behind
                worker.wait()
                kills += 1
                last_kill = time.monotonic()
                worker = start("db_worker", "--no-reload", "--interval", "0.2")
    finally:
        for process in (worker, clock):
            process.terminate()
            process.wait(timeout=30)
        gateway.terminate()
        gateway.wait(timeout=10)
        process_log.close()

    first: dict[str, float] = {}
    repeats = 0
    for line in log.read_text().splitlines():
        what, key, at = line.split("\t")
        if what == "new":
            first[key] = float(at)
        else:
            repeats += 1
    late = sorted(max(0.0, first[key] - due[key]) for key in due if key in first)
    within = sum(1 for seconds in late if seconds <= 60)
    states = dict(Message.objects.values_list("state").annotate(n=Count("pk")))
    return {
        "database": kind,
        "reminders": len(due),
        "kills": kills,
        "lost": len(set(due) - set(first)),
        "duplicates": len(first) - len(set(first) & set(due)),  # deliveries beyond one per planned reminder
        "repeat_requests_dropped_by_key": repeats,
        "not_sent_in_outbox": sum(n for state, n in states.items() if state != "sent"),
        "sent_within_60s_percent": round(100 * within / len(due), 2) if due else 0,
        "lateness_p50_s": round(harness.percentile(late, 50), 2) if late else None,
        "lateness_p99_s": round(harness.percentile(late, 99), 2) if late else None,
        "lateness_max_s": round(late[-1], 2) if late else None,
        "target:lost": "0",
        "target:duplicates": "0",
        "target:sent_within_60s_percent": ">= 99",
    }


if __name__ == "__main__":
    databases = tuple(os.environ.get("BENCH_DATABASES", "postgres,sqlite").split(","))
    harness.per_database("reminders", run_one, databases)
