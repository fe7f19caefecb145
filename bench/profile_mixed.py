"""CPU and queries per request of the mixed workload, in one process: where a gunicorn worker's time goes.

Not a benchmark (no figures in bench/results): a tool for finding the fixed cost of a request. It replays
bench_mixed's request mix through kabinet's WSGI application (the same callable gunicorn runs, no HTTP, no client),
one request at a time, and prints for each kind the median CPU time (time.process_time), the median wall time and
the number of SQL statements.

    .venv/bin/python bench/profile_mixed.py build          # a bench database like bench_mixed's (~1 min), once
    .venv/bin/python bench/profile_mixed.py run [N]        # N requests of the mix (default 600)
    .venv/bin/python bench/profile_mixed.py run 600 --profile var/mixed.prof   # and a cProfile of them

The database is PostgreSQL `kabinet_bench_mixed_profile` (harness.database_url); `build` writes what `run` needs
to var/profile_mixed.json. Each run books fresh slots, so a database lasts for a few thousand bookings.
"""

from __future__ import annotations

import cProfile
import io
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness
from bench.bench_mixed import BOOKED, DAYS, DOCTORS, PATIENTS, _prepare, request_mix

NAME = "mixed_profile"
STATE = harness.ROOT / "var" / "profile_mixed.json"


def build() -> None:
    url = harness.fresh_database("postgres", NAME)
    harness.setup_django(url)
    clinic = harness.build_clinic(doctors=DOCTORS, days=DAYS, patients=PATIENTS)
    free = _prepare(clinic, random.Random(3))
    STATE.parent.mkdir(exist_ok=True)
    state = {
        "token": clinic.token,
        "patients": [p.pk for p in clinic.patients],
        "days": [d.isoformat() for d in clinic.days[1:]],
        "location": clinic.location.pk,
        "service": clinic.service.pk,
        "free": [(pid, start.isoformat()) for pid, start in free],
    }
    STATE.write_text(json.dumps(state))
    print(f"built {NAME}: {len(free)} free slots after {BOOKED} booked")


def _environ(method: str, path: str, kwargs: dict[str, Any], token: str) -> dict[str, Any]:
    body = b""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "profile"}
    if "json" in kwargs:
        body = json.dumps(kwargs["json"]).encode()
        headers["CONTENT_TYPE"] = "application/json"
    for name, value in kwargs.get("headers", {}).items():
        headers["HTTP_" + name.upper().replace("-", "_")] = value
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": urlencode(kwargs.get("params", {})),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "SERVER_PROTOCOL": "HTTP/1.1",
        **headers,
    }


def run(count: int, profile_path: str | None) -> None:
    harness.setup_django(harness.database_url("postgres", NAME))
    from zoneinfo import ZoneInfo

    from django.db import connection

    from kabinet.scheduling.models import Appointment
    from kabinet.wsgi import application

    state = json.loads(STATE.read_text())
    taken = set(Appointment.objects.values_list("practitioner_id", "start"))
    free = [(pid, datetime.fromisoformat(s)) for pid, s in state["free"]]
    free = [(pid, s) for pid, s in free if (pid, s) not in taken]
    request = request_mix(
        free=iter(free),
        patient_ids=state["patients"],
        days=[date.fromisoformat(d) for d in state["days"]],
        zone=ZoneInfo("Europe/Sofia"),
        location=state["location"],
        service=state["service"],
        rng=random.Random(11),
    )
    queries = 0

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    sql: dict[str, list[int]] = defaultdict(list)
    errors: list[str] = []
    profiler = cProfile.Profile(time.process_time) if profile_path else None  # CPU, not waits

    def call(kind: str, method: str, path: str, kwargs: dict[str, Any], measure: bool) -> None:
        nonlocal queries
        statuses: list[str] = []
        queries = 0
        c0, w0 = time.process_time(), time.perf_counter()
        if profiler and measure:
            profiler.enable()

        def start_response(status: str, headers: Any, *args: Any) -> Any:
            statuses.append(status)

        body = b"".join(application(_environ(method, path, kwargs, state["token"]), start_response))
        if profiler and measure:
            profiler.disable()
        c1, w1 = time.process_time(), time.perf_counter()
        if int(statuses[0].split()[0]) >= 400:
            errors.append(f"{kind} {statuses[0]} {body[:200]!r}")
        if measure:
            cpu[kind].append(c1 - c0)
            wall[kind].append(w1 - w0)
            sql[kind].append(queries)

    with connection.execute_wrapper(counting):
        for i in range(count + 50):  # the first 50 warm up
            kind, calls = request()
            for method, path, kwargs in calls:
                label = "timeline" if path.endswith("/timeline") else kind
                call(label, method, path, kwargs, i >= 50)
    total_cpu = sum(sum(v) for v in cpu.values())
    total_n = sum(len(v) for v in cpu.values())
    print(f"{'kind':<14}{'n':>5}{'cpu ms':>9}{'wall ms':>9}{'queries':>9}")
    for kind in sorted(cpu):
        print(
            f"{kind:<14}{len(cpu[kind]):>5}{statistics.median(cpu[kind]) * 1000:>9.2f}"
            f"{statistics.median(wall[kind]) * 1000:>9.2f}{statistics.median(sql[kind]):>9}"
        )
    print(f"mean CPU per request: {total_cpu / total_n * 1000:.2f} ms over {total_n} requests; errors {len(errors)}")
    for error in errors[:5]:
        print("  ", error)
    if profiler and profile_path:
        profiler.dump_stats(profile_path)
        print(f"profile written to {profile_path}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        build()
    elif sys.argv[1:2] == ["run"]:
        args = sys.argv[2:]
        path = args[args.index("--profile") + 1] if "--profile" in args else None
        numbers = [a for a in args if a.isdigit()]
        run(int(numbers[0]) if numbers else 600, path)
    else:
        raise SystemExit(__doc__)
