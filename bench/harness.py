"""Shared set-up for benchmarks: a fresh database (SQLite file or PostgreSQL), Django configured for it, a demo
clinic sized for the benchmark, and kabinet's real server processes to drive over HTTP.

Each benchmark runs as its own process (bench/run.py starts them), so Django is configured once per process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "kabinet_bench"


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    env_file = ROOT / ".env"
    for line in env_file.read_text().splitlines() if env_file.exists() else []:
        if line.startswith("SECRET_KEY="):
            return line.split("=", 1)[1]
    return "bench-only-secret-key-" + "x" * 40


def database_url(kind: str, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{ROOT / 'var' / f'bench-{name}.sqlite3'}"
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_BENCH_DB}_{name}"


def fresh_database(kind: str, name: str) -> str:
    """Drop and recreate the benchmark database; return its URL."""
    url = database_url(kind, name)
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        import psycopg

        db = url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db}"')
    return url


def server_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": _secret_key(),
            "DEBUG": "false",
            "KABINET_ENV_FILE": "/dev/null",
            "DJANGO_SETTINGS_MODULE": "kabinet.settings",
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


def setup_django(url: str) -> None:
    os.environ.update(server_env(url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_script(script: str, log: Path) -> tuple[subprocess.Popen[str], int]:
    """Run a local stand-in (an SMTP sink, an SMS gateway) from `script` on a free port; it prints "ready" once it
    listens, and logs what it receives to `log`. Returns the process and its port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port), str(log)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process, port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def start_server(kind: str, url: str, *, workers: int = 2, **settings: str) -> Server:
    """`asgi`: uvicorn (the embedded default); `wsgi`: gunicorn with sync workers (scaled-out HTTP). `settings` are
    extra environment variables for the server (e.g. REDIS_URL)."""
    port = free_port()
    venv = Path(sys.executable).parent
    if kind == "asgi":
        cmd = [
            str(venv / "uvicorn"),
            "kabinet.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ]
    else:
        cmd = [
            str(venv / "gunicorn"),
            "kabinet.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--log-level",
            "warning",
        ]
    process = subprocess.Popen(cmd, cwd=ROOT, env=server_env(url, **settings), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/healthz", timeout=2)
            return Server(process, base)
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}") from None
            time.sleep(0.3)
    raise RuntimeError("server did not start")


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stats() -> list[tuple[int, int, float, str]]:
    """(pid, process group, CPU seconds user+system, command line) of every process on the machine (Linux /proc)."""
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; fields[0] is the state
        rows.append((int(entry.name), int(fields[2]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS, cmdline))
    return rows


def cpu_seconds(*, process_group: int | None = None, cmdline_contains: str | None = None) -> float:
    """CPU time used so far by the live processes of a process group (a server started by start_server) or whose
    command line contains a string (PostgreSQL backends show their database's name there). Take it before and
    after a run: the difference is what those processes spent on it."""
    return sum(
        cpu
        for _pid, group, cpu, cmdline in _proc_stats()
        if (process_group is not None and group == process_group)
        or (cmdline_contains is not None and cmdline_contains in cmdline)
    )


@dataclass
class BenchClinic:
    org: Any
    location: Any
    doctors: list[Any]
    service: Any
    patients: list[Any]
    registrar: Any
    token: str
    days: list[date]


def build_clinic(*, doctors: int = 1, days: int = 1, patients: int = 10, start_day: date | None = None) -> BenchClinic:
    """An organisation with doctors working 08:00–20:00 every day of the period and a registrar with a token."""
    from kabinet.accounts.models import User
    from kabinet.accounts.services import api_token_create
    from kabinet.core.models import Location, Member, MemberRole, Organisation, Role
    from kabinet.patients.models import Patient
    from kabinet.scheduling.models import Service
    from kabinet.scheduling.services import shift_create

    org = Organisation.objects.create(name="Bench Clinic", slug=f"bench-{time.time_ns()}")
    location = Location.objects.create(organisation=org, name="Main", time_zone="Europe/Sofia")
    registrar_user = User.objects.create_user(email=f"registrar-{org.slug}@bench.example", password=None)
    registrar = Member.objects.create(organisation=org, user=registrar_user)
    MemberRole.objects.create(member=registrar, role=Role.REGISTRAR)
    service = Service.objects.create(
        organisation=org, name="Consultation", duration_minutes=30, grid_minutes=30, online_bookable=True
    )
    members = []
    first = start_day or date.today() + timedelta(days=1)
    period = [first + timedelta(days=i) for i in range(days)]
    for i in range(doctors):
        user = User.objects.create_user(email=f"doctor{i}-{org.slug}@bench.example", password=None)
        member = Member.objects.create(organisation=org, user=user)
        MemberRole.objects.create(member=member, role=Role.DOCTOR)
        member.locations.add(location)
        service.practitioners.add(member)
        for day in period:
            shift_create(
                actor=None,
                practitioner=member,
                location=location,
                day=day,
                start_time=dtime(8),
                end_time=dtime(20),
                breaks=[(dtime(13), dtime(13, 30))],
            )
        members.append(member)
    people = Patient.objects.bulk_create(
        [Patient(organisation=org, family_name=f"Bench{i}", given_name="Patient") for i in range(patients)]
    )
    _, token = api_token_create(user=registrar_user, name="bench")
    return BenchClinic(org, location, members, service, people, registrar_user, token, period)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "p50_ms": round(statistics.median(ms), 2) if ms else 0.0,
        "p95_ms": round(percentile(ms, 95), 2),
        "max_ms": round(max(ms), 2) if ms else 0.0,
    }


def write_result(name: str, figures: dict[str, Any], targets: dict[str, str], **extra: Any) -> dict[str, Any]:
    import platform

    RESULTS.mkdir(exist_ok=True)
    result = {
        "name": name,
        "figures": figures,
        "targets": targets,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            # 1, 5 and 15 minutes at the end of the run: above `cpus`, other work shared the machine
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def per_database(name: str, run_one: Any, databases: tuple[str, ...] = ("sqlite", "postgres")) -> None:
    """Run `run_one(kind) -> dict of figures` in a child process per database and merge into one result."""
    if len(sys.argv) > 2 and sys.argv[1] == "--db":
        figures = run_one(sys.argv[2])
        print(json.dumps(figures), flush=True)
        return
    merged: dict[str, Any] = {}
    targets: dict[str, str] = {}
    for kind in databases:
        out = subprocess.run([sys.executable, sys.argv[0], "--db", kind], cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"{name} on {kind} failed")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        for key, value in figures.items():
            if key.startswith("target:"):
                targets[f"{kind}.{key[7:]}"] = value
            else:
                merged[f"{kind}.{key}"] = value
    write_result(name, merged, targets)
    for key, value in merged.items():
        print(f"{name}.{key} = {value}")
