"""Fault injection: kabinet's processes are SIGKILLed in the middle of their work and started again, and nothing that
was promised is lost or happens twice.

- A web server killed in a burst of bookings, right after one of them committed and before its answer left: every
  client that retries with its Idempotency-Key ends with the answer it would have had without the crash — one
  booking per slot, the winner told 201 (with its own row), the loser 409 — and no slot is booked twice.
- A task worker killed while it sends reminders, or a campaign, through a gateway that drops duplicates by key:
  every message arrives, each under one key; nothing is lost.
- An outbox dispatcher killed while it sends email (SMTP cannot drop duplicates): no reminder arrives twice, and the
  one whose fate the crash hid is marked `outcome_unknown` in the outbox — visible, never silent (see
  kabinet/notifications/dispatch.py for these guarantees).

The processes run over the test database (tests/fixtures/processes.py); the tests are transactional.
"""

from __future__ import annotations

import asyncio
import threading
import time as clock
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.message import Message as Email
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from kabinet.accounts.services import api_token_create
from kabinet.campaigns.services import campaign_create, campaign_start
from kabinet.core.models import Role
from kabinet.notifications.models import Message, ReminderPolicy
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import Patient, Segment, Tag
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book, shift_create
from tests.factories import PatientFactory, UserFactory, member
from tests.fixtures import free_port
from tests.fixtures.clinic import Clinic
from tests.fixtures.http import HttpSink, serve
from tests.fixtures.mail import SmtpInbox
from tests.fixtures.processes import KabinetProcess, manage_command, uvicorn_command

pytestmark = pytest.mark.django_db(transaction=True)

# A lease well past the provider timeout, short enough for the test: a killed worker's claims come back after it.
FAST_OUTBOX = {
    "NOTIFICATIONS_TICK_SECONDS": "1",
    "NOTIFICATIONS_LEASE_SECONDS": "5",
    "NOTIFICATIONS_PROVIDER_TIMEOUT": "2",
    "NOTIFICATIONS_BATCH": "10",
}


def wait_until(predicate: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = clock.monotonic() + seconds
    while not predicate():
        if clock.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        clock.sleep(0.05)


# -- bookings ------------------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One client's booking of one slot, retried with the same key until the server gives an answer."""

    key: str
    slot: tuple[int, datetime]
    body: dict[str, Any]
    status: int | None = None
    answer: dict[str, Any] = field(default_factory=dict)
    retries: int = 0


@dataclass
class Burst:
    """Clients booking through a front proxy (nginx's part): it answers 502 while the server is down."""

    base: str
    token: str
    attempts: list[Attempt]
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def book(self, attempt: Attempt) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": attempt.key}
        deadline = clock.monotonic() + 60
        while clock.monotonic() < deadline:
            try:
                url = f"{self.base}/api/v1/appointments"
                response = httpx.post(url, json=attempt.body, headers=headers, timeout=15)
            except httpx.TransportError:
                response = None
            if response is None or response.status_code == 502:  # no answer: the client retries, same key
                attempt.retries += 1
                clock.sleep(0.05)
                continue
            attempt.status, attempt.answer = response.status_code, response.json()
            with self.lock:
                self.answered += 1
            return

    def run(self, clients: int) -> None:
        queue = list(reversed(self.attempts))
        lock = threading.Lock()

        def client() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    attempt = queue.pop()
                self.book(attempt)

        self.threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=120)


@dataclass
class KillingProxy:
    """Forwards HTTP to the server; once `armed()` says so, it SIGKILLs the server the moment a booking has been
    committed (the server answered 201) and drops that answer: the worst moment for a client to lose its server."""

    server: KabinetProcess
    upstream: str
    armed: Callable[[], bool]
    url: str = ""
    killed_key: str = ""
    restarted: threading.Event = field(default_factory=threading.Event)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes] | None:
        """The upstream's status and body; 502 when it is down; None when the answer is to be dropped."""
        try:
            response = httpx.request(method, self.upstream + path, headers=headers, content=body, timeout=15)
        except httpx.TransportError:
            return 502, b'{"code": "bad_gateway"}'
        if response.status_code == 201 and not self.killed_key and self.armed():
            self.killed_key = headers.get("Idempotency-Key", "?")
            self.server.kill()
            threading.Thread(target=self._restart).start()
            return None
        return response.status_code, response.content

    def _restart(self) -> None:
        clock.sleep(0.5)  # clients meet a dead server for a while
        self.server.start()
        self.server.wait_serving(self.upstream)
        self.restarted.set()


@pytest.fixture
def long_day(clinic: Clinic) -> list[tuple[Any, Any]]:
    """Both doctors work 08:00-20:00 the day after the clinic's day: 48 half-hour slots."""
    day = clinic.day + timedelta(days=1)
    for doctor in (clinic.doctor, clinic.other_doctor):
        shift_create(
            actor=None, practitioner=doctor, location=clinic.location, day=day, start_time=time(8), end_time=time(20)
        )
    doctors = (clinic.doctor, clinic.other_doctor)
    return [(doctor, clinic.at(8, 0, day) + timedelta(minutes=30 * i)) for doctor in doctors for i in range(24)]


def _serve(proxy: KillingProxy) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}}
            answer = proxy.forward(self.command, self.path, headers, body)
            if answer is None:
                self.close_connection = True
                return
            status, payload = answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            return None

    front, _thread = serve(Handler)
    proxy.url = f"http://127.0.0.1:{front.server_port}"
    return front


def test_a_web_server_killed_in_a_booking_burst_loses_and_doubles_nothing(
    clinic: Clinic, long_day: list[tuple[Any, Any]], kabinet_process: Callable[..., KabinetProcess]
) -> None:
    _, token = api_token_create(user=clinic.registrar, name="front desk")
    attempts = []
    for n, (doctor, start) in enumerate(long_day):
        for rival in ("a", "b"):  # two clients want every slot, each for their own patient
            patient = PatientFactory.create(organisation=clinic.org)
            body = {
                "patient": patient.pk,
                "practitioner": doctor.pk,
                "service": clinic.service.pk,
                "start": start.isoformat(),
                "location": clinic.location.pk,
            }
            attempts.append(Attempt(key=f"slot-{n}-{rival}", slot=(doctor.pk, start), body=body))
    port = free_port()
    server = kabinet_process(uvicorn_command(port))
    server.wait_serving(f"http://127.0.0.1:{port}")
    burst = Burst(base="", token=token, attempts=attempts)
    proxy = KillingProxy(server, f"http://127.0.0.1:{port}", armed=lambda: burst.answered >= len(attempts) // 3)
    front = _serve(proxy)
    try:
        burst.base = proxy.url
        burst.run(clients=8)
        burst.join()
    finally:
        front.shutdown()
        front.server_close()

    assert proxy.killed_key and proxy.restarted.is_set() and server.starts == 2
    assert sum(a.retries for a in attempts) > 0
    statuses = Counter(a.status for a in attempts)
    assert set(statuses) <= {201, 409}, f"every client gets a final answer, no 5xx: {statuses}"
    winners = {}
    for slot in {a.slot for a in attempts}:
        rivals = [a for a in attempts if a.slot == slot]
        assert sorted(a.status or 0 for a in rivals) == [201, 409], f"{slot}: one winner, one loser"
        [winner] = [a for a in rivals if a.status == 201]
        [loser] = [a for a in rivals if a.status == 409]
        assert loser.answer["code"] == "slot_taken"
        winners[winner.answer["id"]] = winner
    # The client whose booking committed as the server died is told it has it, not that the slot is taken.
    assert next(a for a in attempts if a.key == proxy.killed_key).status == 201
    booked = Appointment.objects.filter(start__date__gte=clinic.day + timedelta(days=1))
    assert booked.count() == len(long_day)  # nothing lost, nothing doubled
    for row in booked:
        winner = winners[row.pk]  # the row is the one its winner was told about
        assert (row.practitioner_id, row.start, row.patient_id) == (*winner.slot, winner.body["patient"])


# -- messages ------------------------------------------------------------------------------------------------------


def kill_mid_dispatch(process: KabinetProcess, progressed: Callable[[], bool], attempts: int = 5) -> None:
    """SIGKILL the sending process once a third of the messages went out, at a moment a message is being sent.

    Between two messages (or two batches) nothing is "sending"; a kill that lands there tests nothing, so the
    process is started again and killed at the next chance. Such a kill leaves nothing in flight, so it does not
    change what the test may find afterwards."""
    for _ in range(attempts):
        wait_until(progressed, 60, "a third of the messages")
        wait_until(lambda: Message.objects.filter(state="sending").exists(), 30, "a message being sent")
        process.kill()
        if Message.objects.filter(state="sending").exists():
            return
        process.start()
    pytest.fail("the kill never landed in the middle of a batch")


def _reminders_due_now(clinic: Clinic, count: int, **contact: str) -> list[Message]:
    """`count` patients each booked for a visit; their confirmations and reminders are made due now."""
    ReminderPolicy.objects.update_or_create(
        organisation=clinic.org, defaults={"quiet_hours_start": None, "quiet_hours_end": None}
    )
    day = clinic.day + timedelta(days=1)
    shift_create(
        actor=None, practitioner=clinic.doctor, location=clinic.location, day=day, start_time=time(8), end_time=time(20)
    )
    for n in range(count):
        patient: Patient = PatientFactory.create(
            organisation=clinic.org, **{k: v.format(n=n) for k, v in contact.items()}
        )
        appointment_book(
            actor=clinic.registrar,
            patient=patient,
            practitioner=clinic.doctor,
            service=clinic.service,
            start=clinic.at(8, 0, day) + timedelta(minutes=30 * (n % 24)),
        )
        if n % 24 == 23:
            day += timedelta(days=1)
            shift_create(
                actor=None,
                practitioner=clinic.doctor,
                location=clinic.location,
                day=day,
                start_time=time(8),
                end_time=time(20),
            )
    Message.objects.filter(state="queued").update(next_attempt_at=timezone.now())
    messages = list(Message.objects.filter(state="queued"))
    assert len(messages) >= count
    return messages


def _campaign_running(clinic: Clinic, count: int) -> int:
    """A campaign to `count` consenting patients, started: the clock's release task puts it in the outbox in
    shares, the worker sends it. Returns the number of messages it will make."""
    admin = UserFactory.create()
    member(admin, clinic.org, Role.ADMIN)
    # No quiet hours: a campaign SMS released at night would otherwise wait for the morning (time-of-day flakiness).
    ReminderPolicy.objects.update_or_create(
        organisation=clinic.org, defaults={"quiet_hours_start": None, "quiet_hours_end": None}
    )
    patients = [
        PatientFactory.create(organisation=clinic.org, phone=f"+35988810{n:04d}", marketing_consent=True)
        for n in range(count)
    ]
    tag = Tag.objects.create(organisation=clinic.org, name="spring")
    for patient in patients:
        patient.tags.add(tag)
    segment = Segment.objects.create(
        organisation=clinic.org, name="Spring", criteria=PatientCriteria(tag=tag.pk).as_json()
    )
    campaign = campaign_create(
        actor=admin,
        organisation=clinic.org,
        name="Spring check-up",
        segment=segment,
        channels=["sms"],
        body="Book your spring check-up.",
        rate_per_minute=600,
    )
    campaign_start(actor=admin, campaign=campaign)
    return count


@pytest.mark.parametrize("work", ["reminders", "campaign"])
def test_a_task_worker_killed_while_sending_loses_nothing(
    work: str, clinic: Clinic, settings: Any, http_sink: HttpSink, kabinet_process: Callable[..., KabinetProcess]
) -> None:
    """The embedded default: the clock enqueues the outbox (and campaign release) tasks, db_worker runs them; the
    gateway drops duplicates by Idempotency-Key, as commercial SMS gateways do."""
    sms = {
        "SMS_URL": http_sink.url.replace("http://", "http+json://") + "/sms",
        "SMS_HTTP_IDEMPOTENCY_HEADER": "Idempotency-Key",
    }
    for name, value in sms.items():
        setattr(settings, name, value)
    if work == "reminders":
        expected = len(_reminders_due_now(clinic, 30, phone="+35988800{n:04d}", preferred_channel="sms"))
    else:
        expected = _campaign_running(clinic, 40)
    http_sink.delay = 0.05  # a gateway that takes its time, so the kill lands mid-dispatch
    kabinet_process(manage_command("clock", "--interval", "0.5"), **FAST_OUTBOX, **sms)
    worker = kabinet_process(manage_command("db_worker", "--no-reload", "--interval", "0.2"), **FAST_OUTBOX, **sms)

    kill_mid_dispatch(worker, lambda: len(http_sink.requests) >= expected // 3)
    assert len(http_sink.requests) < expected
    worker.start()
    wait_until(lambda: Message.objects.filter(state="sent").count() == expected, 60, "every message sent")

    messages = list(Message.objects.all())
    assert {m.state for m in messages} == {"sent"} and {m.channel for m in messages} == {"sms"}
    keys = Counter(r.headers["Idempotency-Key"] for r in http_sink.requests)
    assert set(keys) == {m.idempotency_key for m in messages}  # every message reached the gateway
    again = [key for key, n in keys.items() if n > 1]
    assert len(again) <= 1, "only the message in flight at the kill may be handed over twice, under the same key"
    for key in again:
        assert len({r.body for r in http_sink.requests if r.headers["Idempotency-Key"] == key}) == 1


class SlowInbox(SmtpInbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def test_a_dispatcher_killed_while_sending_email_sends_none_twice_and_hides_no_loss(
    clinic: Clinic, settings: Any, kabinet_process: Callable[..., KabinetProcess]
) -> None:
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        messages = _reminders_due_now(clinic, 30, email="patient{n}@example.org", preferred_channel="email")
        assert {m.channel for m in messages} == {"email"}
        mail = {"EMAIL_URL": f"smtp://127.0.0.1:{controller.port}"}
        dispatcher = kabinet_process(
            manage_command("notifications_dispatch", "--interval", "0.2"), **FAST_OUTBOX, **mail
        )
        kill_mid_dispatch(dispatcher, lambda: len(inbox.messages) >= len(messages) // 3)
        dispatcher.start()
        wait_until(lambda: not Message.objects.filter(state__in=("queued", "sending")).exists(), 60, "the outbox")
    finally:
        controller.stop()

    received = Counter(_key(email) for email in inbox.messages)
    assert max(received.values()) == 1, "no email arrives twice"
    outcome = {m.idempotency_key: (m.state, m.error_code) for m in Message.objects.all()}
    unknown = [key for key, (state, _) in outcome.items() if state == "failed"]
    assert all(outcome[key] == ("failed", "outcome_unknown") for key in unknown)
    assert len(unknown) <= 1, "only the message in flight at the kill may have an unknown outcome"
    for key, (state, _) in outcome.items():
        if state == "sent":
            assert received[key] == 1  # what the outbox calls sent, arrived
        else:
            assert key in unknown  # what did not arrive is visible as such
    assert sum(received.values()) >= len(messages) - 1


def _key(email: Email) -> str:
    """The outbox row an email came from: its Message-ID is derived from the row's idempotency key."""
    return Message.objects.get(pk=int(email["X-Kabinet-Message"])).idempotency_key
