"""The send-once protocol under a kill at every one of its steps, and what a batch costs in queries.

A dispatcher run over a few messages (email, which cannot drop duplicates, and an in-app notice) is a sequence of
steps: every SQL statement it executes and, around each SMTP hand-over, "about to send" and "the server answered".
The run is repeated once per step with the sender killed just before that step — the exception unwinds like a
SIGKILL does for the database: whatever its open transaction wrote is rolled back, nothing after the step runs —
and then a second dispatcher takes over once the leases expired. Whatever the step, nothing is lost silently,
nothing arrives twice, and at most one message ends `outcome_unknown` (tests/test_fault_injection.py kills real
processes at random moments; this one covers every moment).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.core.mail.backends.smtp import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kabinet.notifications import services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import InAppNotification, Message
from kabinet.patients.models import TimelineEntry
from tests.factories import PatientFactory, UserFactory

CONTEXT = {"subject": "Hours", "text": "Open on Saturday.", "clinic": {"name": "Alpha"}}


class Killed(BaseException):
    """The sender dies here (a BaseException: nothing in kabinet catches it, as nothing survives a SIGKILL)."""


@dataclass
class Steps:
    """Counts the steps of a run and kills the sender before step `kill_at` (1-based; None: never)."""

    kill_at: int | None = None
    seen: list[str] = field(default_factory=list)

    def step(self, name: str) -> None:
        self.seen.append(name)
        if len(self.seen) == self.kill_at:
            raise Killed(name)

    def sql(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.step("sql " + " ".join(sql.split()[:3]))
        return execute(sql, params, many, context)


STEPS = Steps()


class CountingSmtpBackend(EmailBackend):
    """Django's SMTP backend with the two send steps around the real hand-over to the server."""

    def send_messages(self, email_messages: Any) -> int:
        STEPS.step("smtp about to send")
        sent = super().send_messages(email_messages)
        STEPS.step("smtp answered")
        return int(sent)


@pytest.fixture
def outbox(org: Any, smtp_server: Any, settings: Any, no_quiet_hours: Any) -> Iterator[Any]:
    settings.EMAIL_BACKEND = f"{__name__}.CountingSmtpBackend"
    yield smtp_server
    STEPS.kill_at, STEPS.seen = None, []


_runs = itertools.count()


def _messages(org: Any) -> list[Message]:
    """Three emails and an in-app notice, due now, each to its own patient."""
    run = next(_runs)
    messages = []
    for n in range(3):
        patient = PatientFactory.create(organisation=org, email=f"p{run}-{n}@example.org")
        messages += services.schedule(
            organisation=org, event="message.custom", key=f"k{run}-{n}", context=CONTEXT, patient=patient,
            channels=["email"],
        )  # fmt: skip
    user = UserFactory.create()
    patient = PatientFactory.create(organisation=org, user=user)
    messages += services.schedule(
        organisation=org, event="message.custom", key=f"k{run}-app", context=CONTEXT, patient=patient,
        channels=["inapp"],
    )  # fmt: skip
    assert [m.channel for m in messages] == ["email", "email", "email", "inapp"]
    return messages


def _run(kill_at: int | None) -> bool:
    """Dispatch everything due in batches of two, killed before step `kill_at`; whether the kill happened."""
    STEPS.kill_at, STEPS.seen = kill_at, []
    try:
        with connection.execute_wrapper(STEPS.sql):
            while dispatch_due(batch=2, worker="first").claimed:
                pass
    except Killed:
        return True
    finally:
        STEPS.kill_at = None
    return False


def _take_over() -> None:
    """A second dispatcher, once the first one's leases ran out."""
    Message.objects.filter(state="sending").update(lease_until=timezone.now() - timedelta(seconds=1))
    while dispatch_due(batch=2, worker="second").claimed:
        pass


@pytest.mark.django_db
def test_a_sender_killed_at_any_step_loses_nothing_silently_and_sends_nothing_twice(org: Any, outbox: Any) -> None:
    _messages(org)
    assert not _run(kill_at=None)
    steps = list(STEPS.seen)
    assert steps.count("smtp about to send") == 3 and steps.count("smtp answered") == 3
    assert len(steps) > 20, steps

    for kill_at, step in enumerate(steps, start=1):
        messages = _messages(org)
        ids = {m.pk for m in messages}
        assert _run(kill_at), f"no kill at step {kill_at} ({step})"
        _take_over()

        where = f"killed before step {kill_at} of {len(steps)} ({step})"
        received = Counter(int(e["X-Kabinet-Message"]) for e in outbox.messages if int(e["X-Kabinet-Message"]) in ids)
        assert all(n == 1 for n in received.values()), f"{where}: an email arrived twice: {received}"
        rows = {m.pk: m for m in Message.objects.filter(pk__in=ids)}
        unknown = [m for m in rows.values() if m.state == "failed"]
        assert all(m.error_code == "outcome_unknown" for m in unknown), where
        assert len(unknown) <= 1, f"{where}: more than one message of unknown fate"
        for message in rows.values():
            assert message.state in ("sent", "delivered", "failed"), f"{where}: message left {message.state}"
            if message.channel == "email":
                # What arrived is sent or unknown; what did not arrive is visibly unknown, never "sent" nor lost.
                assert received[message.pk] == 1 or message.state == "failed", f"{where}: lost message"
                assert message.state == "failed" or received[message.pk] == 1, f"{where}: sent without arriving"
            else:  # in-app delivery is a row written with the outcome: exactly once, whatever the step
                assert message.state == "delivered", where
                assert InAppNotification.objects.filter(message=message).count() == 1, where
            if message.state != "failed" and message.channel == "email":
                # The status history and the patient's timeline agree with the row.
                assert [e.state for e in message.events.order_by("pk")][-1] == "sent", where
                entry = TimelineEntry.objects.filter(pk=message.timeline_entry_id or 0).first()
                assert entry is not None and entry.data["status"] == "sent", where


# --- queries: per batch and per message ---------------------------------------------------------------------------


def _queries_to_dispatch(org: Any, count: int, batch: int) -> int:
    for n in range(count):
        patient = PatientFactory.create(organisation=org, email=f"q{next(_runs)}-{n}@example.org")
        services.schedule(
            organisation=org, event="message.custom", key=f"q{patient.pk}", context=CONTEXT, patient=patient,
            channels=["email"],
        )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        sent = 0
        while report := dispatch_due(batch=batch):
            sent += report.sent
            if not report.claimed:
                break
    assert sent == count
    return len(queries)


@pytest.mark.django_db
def test_a_batch_costs_a_fixed_number_of_queries_and_each_message_five(org: Any, outbox: Any) -> None:
    """Counted in a test, where every transaction is a SAVEPOINT … RELEASE pair inside the test's own (BEGIN …
    COMMIT in production). Each message: one transaction with its hand-off mark and, of the message before it,
    the outcome, the history row, the timeline entry and the entry's link — five statements. Each batch: the lease
    recovery (one SELECT), the claim (SELECT, UPDATE, the history rows in one INSERT), the claimed rows read with
    their organisation and patient, and the transaction that records the last outcome. A round that finds nothing
    due: the recovery and an empty claim."""
    per_message = 5 + 2
    per_batch = (1 + 2) + (3 + 2) + 1 + 2
    idle = (1 + 2) + (1 + 2)
    assert _queries_to_dispatch(org, 1, batch=10) == idle + per_batch + 1 * per_message
    assert _queries_to_dispatch(org, 10, batch=10) == idle + per_batch + 10 * per_message
    assert _queries_to_dispatch(org, 20, batch=10) == idle + 2 * per_batch + 20 * per_message
    assert _queries_to_dispatch(org, 20, batch=5) == idle + 4 * per_batch + 20 * per_message
