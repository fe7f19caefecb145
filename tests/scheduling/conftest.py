"""A small clinic with one doctor working tomorrow, for calendar tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import urlopen

import pytest

from kabinet.accounts.models import User
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients.models import Patient, Relationship
from kabinet.scheduling.models import Reason, Service, Shift
from kabinet.scheduling.services import shift_create
from tests.factories import LocationFactory, PatientFactory, UserFactory, member


@dataclass
class Clinic:
    org: Organisation
    location: Location
    doctor: Member
    doctor_user: User
    other_doctor: Member
    service: Service
    long_service: Service
    staff_only: Service
    shift: Shift
    day: date
    patient: Patient
    patient_user: User
    registrar: User
    operator: User
    cancel_reason: Reason
    no_show_reason: Reason

    def at(self, hour: int, minute: int = 0, day: date | None = None) -> datetime:
        return datetime.combine(day or self.day, time(hour, minute), tzinfo=self.location.zone)


@pytest.fixture
def clinic(org: Organisation, registrar: User) -> Clinic:
    location = LocationFactory.create(organisation=org, name="Sofia", time_zone="Europe/Sofia")
    doctor_user = UserFactory.create(email="doc@example.org", full_name="Dr Dana")
    doctor = member(doctor_user, org, Role.DOCTOR)
    doctor.locations.add(location)
    other_user = UserFactory.create(email="doc2@example.org", full_name="Dr Boris")
    other_doctor = member(other_user, org, Role.DOCTOR)
    other_doctor.locations.add(location)
    service = Service.objects.create(
        organisation=org, name="Consultation", duration_minutes=30, grid_minutes=15, online_bookable=True
    )
    long_service = Service.objects.create(
        organisation=org,
        name="Fillers",
        duration_minutes=60,
        grid_minutes=30,
        buffer_after_minutes=10,
        online_bookable=True,
    )
    staff_only = Service.objects.create(organisation=org, name="Thread lift", duration_minutes=30)
    for s in (service, long_service, staff_only):
        s.practitioners.set([doctor, other_doctor])
    day = date.today() + timedelta(days=2)
    shift = shift_create(
        actor=None,
        practitioner=doctor,
        location=location,
        day=day,
        start_time=time(9),
        end_time=time(14),
        breaks=[(time(11, 30), time(11, 45))],
    )
    shift_create(
        actor=None, practitioner=other_doctor, location=location, day=day, start_time=time(9), end_time=time(12)
    )
    patient_user = UserFactory.create(email="pat@example.org", full_name="Petya Patient")
    member(patient_user, org, Role.PATIENT)
    patient = PatientFactory.create(organisation=org, user=patient_user, family_name="Patient", given_name="Petya")
    operator = UserFactory.create(email="op@example.org")
    member(operator, org, Role.OPERATOR)
    return Clinic(
        org=org,
        location=location,
        doctor=doctor,
        doctor_user=doctor_user,
        other_doctor=other_doctor,
        service=service,
        long_service=long_service,
        staff_only=staff_only,
        shift=shift,
        day=day,
        patient=patient,
        patient_user=patient_user,
        registrar=registrar,
        operator=operator,
        cancel_reason=Reason.objects.create(organisation=org, kind=Reason.Kind.CANCEL, name="Patient asked"),
        no_show_reason=Reason.objects.create(organisation=org, kind=Reason.Kind.NO_SHOW, name="Did not come"),
    )


@pytest.fixture
def ward(clinic: Clinic) -> Patient:
    """A child whose parent is the clinic's patient user, with proxy rights."""
    child = PatientFactory.create(organisation=clinic.org, family_name="Patient", given_name="Kid")
    Relationship.objects.create(
        organisation=clinic.org, patient=child, relative=clinic.patient, kind=Relationship.Kind.PARENT, is_proxy=True
    )
    return child


# --- browser tests (test_browser_calendar.py) -------------------------------------------------------------------
# The calendar needs websockets, and pytest-django's live_server is WSGI only: the page is served by uvicorn in a
# subprocess over the same test database. Tests that use it are transactional, so what they create is committed
# and visible to the server, and what the server writes is visible to them.

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.hookimpl(trylast=True)  # after pytest-django's own reordering
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API leaves its event loop marked as running in the main thread
    until the session's browser closes, and tests after it would find an event loop where none should be."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def _async_unsafe_allowed() -> Iterator[None]:
    """Django refuses ORM calls while an event loop runs in the thread, which Playwright's sync API leaves behind."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], _async_unsafe_allowed: None) -> dict[str, Any]:
    executable = shutil.which("chromium")
    if executable is None:
        # Fail, never skip: a suite that silently loses its browser tests looks green while proving nothing.
        pytest.fail("chromium is not installed (apt-get install chromium); Playwright cannot download it here")
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


def _database_url(db: dict[str, Any]) -> str:
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{credentials}@{host}/{quote(db['NAME'], safe='')}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def asgi_server(
    django_db_setup: None, _async_unsafe_allowed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`uvicorn kabinet.asgi:application` on a free local port, over the test database; its URL."""
    from django.conf import settings
    from django.db import connections

    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connections["default"].settings_dict),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "true",  # static files straight from the apps' folders, no collectstatic
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_URL": "",  # one process: the in-memory channel layer carries the live updates
        "CONN_MAX_AGE": "0",  # no connection outlives a request, so the test database can be flushed and dropped
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server is a normal ASGI process with Django's checks
    log_path = tmp_path_factory.mktemp("asgi") / "server.log"
    with log_path.open("wb") as log:
        command = [sys.executable, "-m", "uvicorn", "kabinet.asgi:application", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--lifespan", "off", "--no-access-log", "--log-level", "warning"]
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, url, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    for _attempt in range(300):
        if process.poll() is not None:
            pytest.fail(f"the ASGI server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 (a local http URL we built)
                return
        except HTTPError:
            return  # it answers (even a 503 from the health check means it serves)
        except OSError:
            clock.sleep(0.1)
    pytest.fail(f"the ASGI server did not start:\n{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def browser_context_args(playwright: Any, device: str | None) -> dict[str, Any]:
    """English pages whatever the machine's locale; tests add their base URL, time zone or phone-sized viewport.

    Built here rather than on top of pytest-playwright's own `browser_context_args`: that one is session-wide, and
    computing it from this directory would hand this directory's base URL to tests/browser/ (or theirs to us)."""
    args: dict[str, Any] = dict(playwright.devices[device]) if device else {}
    return {**args, "locale": "en-US"}
