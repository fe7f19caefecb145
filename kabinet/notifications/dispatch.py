"""The outbox dispatcher: claim due messages, hand each to its provider, record the outcome.

Send-once semantics (what "a killed worker loses nothing and a retry never sends twice" means here):

1. Claim. In one short transaction a dispatcher takes up to `batch` due `queued` rows — on PostgreSQL with
   `SELECT … FOR UPDATE SKIP LOCKED`, on SQLite inside the BEGIN IMMEDIATE write lock — and marks them `sending`
   with a lease: worker id, a fresh claim token and `lease_until`. Parallel dispatchers never claim the same row.
2. Hand-off mark. Just before calling the provider the dispatcher commits `handed_at` (and counts the attempt) with
   an UPDATE conditioned on its claim token. If the token no longer matches (the lease was taken back), it does not
   send. So `handed_at IS NULL` proves the provider was never called for this attempt.
3. Send, outside any transaction, with the provider's timeout (well below the lease).
4. Record the outcome, again conditioned on the claim token: sent/delivered, retry with exponential back-off
   (temporary errors, until NOTIFICATIONS_MAX_ATTEMPTS), or a final failure with its reason. The outcome of a
   message is recorded in the same transaction as the hand-off mark of the next message of the batch (the last
   one's in a closing transaction): one commit per message, and still never a second message handed over before
   the first one's outcome is recorded (`Sender`).
5. Recovery. A row still `sending` after its lease expired belongs to a worker that died (or hung):
   - not handed over → back to `queued` at once; nothing was sent, nothing is lost;
   - handed over, provider dedupes (in-app; the generic HTTP gateway with SMS_HTTP_IDEMPOTENCY_HEADER) → retried
     with the same idempotency key, which the provider uses to drop a duplicate;
   - handed over, provider cannot dedupe (SMTP, Kannel, web push) → NOT re-sent: `failed` with error code
     `outcome_unknown`, visible in the outbox. A later delivery report (Kannel DLR) still turns it into
     sent/delivered. A provider call that ends in a broken connection or a read timeout is treated the same way.

Marketing messages are checked once more just before the hand-offs of their batch (`withhold_marketing`): a patient
who withdrew consent or unsubscribed after the message was written gets nothing; the row ends `cancelled` with the
reason.

So: exactly once for deduplicating providers; at most once for the others, where the only loss is the message
whose worker died between its hand-off mark and the commit that records the provider's answer — a window of one
provider call, one message per sender (a dispatcher has NOTIFICATIONS_SENDERS of them, one by default) — and
that loss is visible, never silent. In-app notices are delivered inside the transaction that records them.

A batch reads what its timeline entries need (organisation and patient) with the claim, keeps one connection per
provider, and sends its live updates together (`realtime.batched`): the statements per message are the hand-off
mark, the outcome, its history row, its timeline entry and the entry's link.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from kabinet.core import realtime
from kabinet.notifications import providers
from kabinet.notifications.models import Message, MessageEvent
from kabinet.notifications.providers import OutcomeUnknown, Permanent, Provider, SendError, Sent, Temporary
from kabinet.notifications.services import history_add, marketing_refusals, message_set, released_key

logger = logging.getLogger(__name__)
State = Message.State


@dataclass
class Report:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    requeued: int = 0
    unknown: int = 0
    expired: int = 0
    lost_lease: int = 0
    withheld: int = 0
    ids: list[int] = field(default_factory=list)

    def add(self, other: Report) -> None:
        names = ("claimed", "sent", "retried", "failed", "requeued", "unknown", "expired", "lost_lease", "withheld")
        for name in names:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ids.extend(other.ids)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def backoff(attempts: int) -> timedelta:
    """60 s, 120 s, 240 s … (NOTIFICATIONS_RETRY_SECONDS doubled per attempt), at most six hours."""
    seconds = settings.NOTIFICATIONS_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, 6 * 3600))


def _lease() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)


def _for_update(queryset: Any) -> Any:
    # SQLite has no row locks: there the IMMEDIATE transaction holds the database's write lock from BEGIN.
    if connection.vendor == "postgresql":
        return queryset.select_for_update(skip_locked=True)
    return queryset


_CLEARED: dict[str, Any] = {"worker": "", "claim_token": None, "lease_until": None, "handed_at": None}


def claim(*, batch: int, worker: str, now: datetime | None = None) -> tuple[list[Message], Report]:
    """Take up to `batch` due messages for this worker (see the module docstring, step 1)."""
    report = Report()
    now = now or timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        due = _for_update(
            Message.objects.filter(state=State.QUEUED, next_attempt_at__lte=now).order_by("next_attempt_at", "pk")
        )
        rows = list(due.values_list("pk", "expires_at")[:batch])
        if not rows:
            return [], report
        expired = [pk for pk, expires_at in rows if expires_at is not None and expires_at <= now]
        taken = [pk for pk, expires_at in rows if pk not in expired]
        if expired:
            Message.objects.filter(pk__in=expired).update(
                state=State.CANCELLED,
                cancelled_at=now,
                next_attempt_at=None,
                error_code="expired",
                idempotency_key=released_key(),
            )
            for message in Message.objects.filter(pk__in=expired):
                history_add(message, State.CANCELLED, "expired before it could be sent", worker=worker, at=now)
            report.expired = len(expired)
        if taken:
            Message.objects.filter(pk__in=taken, state=State.QUEUED).update(
                state=State.SENDING,
                worker=worker,
                claim_token=token,
                lease_until=now + _lease(),
                handed_at=None,
                sending_at=now,
            )
            MessageEvent.objects.bulk_create(
                [MessageEvent(message_id=pk, state=State.SENDING, at=now, worker=worker) for pk in taken]
            )
    # With their organisation and patient: what the timeline entries of their outcomes need, read once per batch.
    ours = Message.objects.filter(pk__in=taken, claim_token=token).select_related("organisation", "patient")
    claimed = list(ours.order_by("next_attempt_at", "pk"))
    report.claimed = len(claimed)
    return claimed, report


def recover(*, worker: str, now: datetime | None = None, limit: int = 500) -> Report:
    """Deal with `sending` rows whose lease has expired (see the module docstring, step 5)."""
    report = Report()
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            _for_update(Message.objects.filter(state=State.SENDING, lease_until__lt=now)).order_by("lease_until")[
                :limit
            ]
        )
        dedupes: dict[str, bool] = {}
        for message in stale:
            rows = Message.objects.filter(pk=message.pk, state=State.SENDING, claim_token=message.claim_token)
            if message.handed_at is None:
                rows.update(state=State.QUEUED, next_attempt_at=now, **_CLEARED)
                history_add(message, State.QUEUED, f"lease of {message.worker} expired before hand-off", worker=worker)
                report.requeued += 1
                continue
            if message.channel not in dedupes:
                provider = providers.for_channel(message.channel)
                dedupes[message.channel] = bool(provider and provider.dedupes)
                if provider:
                    provider.close()
            if dedupes[message.channel] and message.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
                rows.update(state=State.QUEUED, next_attempt_at=now, **_CLEARED)
                history_add(
                    message,
                    State.QUEUED,
                    f"lease of {message.worker} expired after hand-off; retried, the provider drops duplicates",
                    worker=worker,
                )
                report.requeued += 1
            else:
                detail = (
                    f"{message.worker} stopped while handing the message to {message.provider or message.channel}; "
                    "the provider may have it, so it is not sent again"
                )
                rows.update(
                    state=State.FAILED, failed_at=now, error_code="outcome_unknown", last_error=detail, **_CLEARED
                )
                history_add(message, State.FAILED, detail, worker=worker)
                report.unknown += 1
    return report


def _ours(message: Message) -> Any:
    """The message's row while it is still `sending` under this claim (the condition of every write of ours)."""
    return Message.objects.filter(pk=message.pk, state=State.SENDING, claim_token=message.claim_token)


def _hand_off(message: Message, provider: Provider, now: datetime) -> bool:
    handed = message_set(
        message.pk,
        {"handed_at": now, "provider": provider.name},
        sql=[(f"{connection.ops.quote_name('attempts')} = {connection.ops.quote_name('attempts')} + %s", 1)],
        claim_token=message.claim_token,
    )
    message.attempts += 1
    message.provider = provider.name
    return handed


def _record_sent(message: Message, result: Sent, worker: str, report: Report) -> None:
    now = timezone.now()
    state: str = State.DELIVERED if result.delivered else State.SENT
    fields: dict[str, Any] = {"provider": message.provider, "provider_id": result.provider_id}
    fields.update(next_attempt_at=None, **_CLEARED)
    done = {"state": state, "last_error": "", "error_code": "", **({"delivered_at": now} if result.delivered else {})}
    sent_at = connection.ops.quote_name("sent_at")
    first_sent = (
        f"{sent_at} = COALESCE({sent_at}, %s)",
        Message._meta.get_field("sent_at").get_db_prep_save(now, connection),
    )
    # The common path: still ours and still sending, so one conditional UPDATE says it all.
    if not message_set(message.pk, {**fields, **done}, sql=[first_sent], claim_token=message.claim_token):
        current = Message.objects.select_for_update().filter(pk=message.pk).first()
        if current is None:
            return
        if current.claim_token != message.claim_token:
            if current.state == State.FAILED and current.error_code == "outcome_unknown":
                pass  # our lease was taken back as "outcome unknown": the provider's answer settles it
            else:
                logger.warning("message %s: result after losing the lease (now %s)", message.pk, current.state)
                report.lost_lease += 1
                return
        if current.state == State.FAILED:
            fields.update(done)
        else:
            state = ""  # a delivery report came first (sent/delivered/rejected): keep its state and its reason
        message_set(message.pk, fields, sql=[first_sent])
    if state:
        history_add(message, state, result.detail or f"{message.provider} accepted it", worker=worker, at=now)
    report.sent += 1
    report.ids.append(message.pk)


def _record_failure(message: Message, error: SendError, *, dedupes: bool, worker: str, report: Report) -> None:
    now = timezone.now()
    rows = _ours(message)
    retry = isinstance(error, Temporary) or (isinstance(error, OutcomeUnknown) and dedupes)
    if retry and message.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
        delay = backoff(message.attempts)
        wait = getattr(error, "retry_after", None)
        if wait:
            delay = max(delay, timedelta(seconds=wait))
        if rows.update(
            state=State.QUEUED,
            next_attempt_at=now + delay,
            last_error=error.detail,
            error_code=error.code,
            **_CLEARED,
        ):
            history_add(
                message, State.QUEUED, f"attempt {message.attempts}: {error.detail}; retry in {delay}", worker=worker
            )
            report.retried += 1
        return
    if isinstance(error, Permanent):
        state, detail, code = error.state, error.detail, error.code
    elif isinstance(error, OutcomeUnknown) and not dedupes:
        state, code = State.FAILED, "outcome_unknown"
        detail = f"{error.detail}; the provider may have it, so it is not sent again"
    else:
        state, code = State.FAILED, error.code
        detail = f"gave up after {message.attempts} attempts: {error.detail}"
    if rows.update(state=state, failed_at=now, last_error=detail, error_code=code, next_attempt_at=None, **_CLEARED):
        history_add(message, state, detail, worker=worker, at=now)
        if code == "outcome_unknown":
            report.unknown += 1
        else:
            report.failed += 1


def _record(message: Message, outcome: Sent | SendError, *, dedupes: bool, worker: str, report: Report) -> None:
    if isinstance(outcome, Sent):
        _record_sent(message, outcome, worker, report)
    else:
        _record_failure(message, outcome, dedupes=dedupes, worker=worker, report=report)


@dataclass
class _Answer:
    """A provider's answer for a handed-over message, not yet recorded."""

    message: Message
    outcome: Sent | SendError
    dedupes: bool


class Sender:
    """Hands a claimed batch to the providers message by message (see the module docstring, steps 2–4).

    The provider's answer for one message is recorded in the transaction that marks the next one handed over, so
    each message costs one commit; `finish` records the last answer. At any moment at most one message of this
    sender is handed over without its outcome recorded: a sender killed at any point leaves at most one message
    whose fate recovery cannot know."""

    def __init__(self, *, worker: str, report: Report) -> None:
        self.worker = worker
        self.report = report
        self.unrecorded: _Answer | None = None

    def _record_previous(self) -> None:
        """Record the answer still held (inside the caller's transaction)."""
        if self.unrecorded is not None:
            answer, self.unrecorded = self.unrecorded, None
            _record(answer.message, answer.outcome, dedupes=answer.dedupes, worker=self.worker, report=self.report)

    def deliver(self, message: Message, provider: Provider | None) -> None:
        """Hand one claimed message to its provider; its outcome is recorded with the next hand-off (or `finish`)."""
        if provider is None:
            off = Permanent(f"the {message.channel} channel is not configured", state=State.FAILED, code="channel_off")
            with transaction.atomic():
                self._record_previous()
                _record_failure(message, off, dedupes=False, worker=self.worker, report=self.report)
            return
        if provider.transactional:  # delivery is a write in this transaction: mark, send and record at once
            with transaction.atomic():
                self._record_previous()
                if not _hand_off(message, provider, timezone.now()):
                    self.report.lost_lease += 1
                    return
                outcome: Sent | SendError
                try:
                    outcome = provider.send(message)
                except SendError as error:
                    outcome = error
                _record(message, outcome, dedupes=True, worker=self.worker, report=self.report)
            return
        with transaction.atomic():
            self._record_previous()
            handed = _hand_off(message, provider, timezone.now())
        if not handed:
            self.report.lost_lease += 1
            return
        try:
            outcome = provider.send(message)
        except SendError as error:
            outcome = error
        except Exception as exc:  # a bug after the hand-off: the provider may or may not have it
            logger.exception("provider %s failed on message %s", provider.name, message.pk)
            outcome = OutcomeUnknown(f"unexpected error: {exc!r}")
        self.unrecorded = _Answer(message, outcome, provider.dedupes)

    def finish(self) -> None:
        """Record the last answer."""
        if self.unrecorded is not None:
            with transaction.atomic():
                self._record_previous()


def deliver(message: Message, provider: Provider | None, *, worker: str, report: Report) -> None:
    """Hand one claimed message to its provider and record what happened (a batch of one)."""
    sender = Sender(worker=worker, report=report)
    sender.deliver(message, provider)
    sender.finish()


def withhold_marketing(claimed: list[Message], *, worker: str, report: Report) -> list[Message]:
    """Cancel the claimed marketing messages whose patient withdrew consent or opted out since they were written;
    return the others. Runs after the claim and before any hand-off, so a withdrawal counts until the last moment."""
    refusals = marketing_refusals(claimed)
    if not refusals:
        return claimed
    now = timezone.now()
    kept = []
    for message in claimed:
        if message.pk not in refusals:
            kept.append(message)
            continue
        code, detail = refusals[message.pk]
        with transaction.atomic():
            if _ours(message).update(
                state=State.CANCELLED,
                cancelled_at=now,
                next_attempt_at=None,
                error_code=code,
                last_error=detail,
                idempotency_key=released_key(),
                **_CLEARED,
            ):
                history_add(message, State.CANCELLED, detail, worker=worker, at=now)
                report.withheld += 1
    return kept


def _send_share(claimed: list[Message], *, worker: str, report: Report) -> None:
    """One sender's part of a batch: its own provider connections, its live updates sent together."""
    by_channel: dict[str, Provider | None] = {}
    sender = Sender(worker=worker, report=report)
    try:
        with realtime.batched():
            for message in claimed:
                if message.channel not in by_channel:
                    by_channel[message.channel] = providers.for_channel(message.channel)
                sender.deliver(message, by_channel[message.channel])
            sender.finish()
    finally:
        for provider in by_channel.values():
            if provider is not None:
                provider.close()


def _send_in_parallel(claimed: list[Message], senders: int, *, worker: str, report: Report) -> None:
    """Deal the batch out to `senders` threads, each with its own database connection and `Sender`."""
    shares = [claimed[n::senders] for n in range(senders)]
    reports = [Report() for _ in shares]
    errors: list[BaseException] = []

    def run(share: list[Message], share_report: Report) -> None:
        try:
            _send_share(share, worker=worker, report=share_report)
        except BaseException as exc:  # raised again in the dispatcher's own thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in zip(shares, reports, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for share_report in reports:
        report.add(share_report)
    if errors:
        raise errors[0]


def dispatch_due(*, batch: int | None = None, worker: str | None = None, senders: int | None = None) -> Report:
    """One round: recover expired leases, claim up to `batch` due messages, send them (with `senders` threads,
    NOTIFICATIONS_SENDERS by default)."""
    worker = worker or worker_id()
    report = recover(worker=worker)
    claimed, claim_report = claim(batch=batch or settings.NOTIFICATIONS_BATCH, worker=worker)
    report.add(claim_report)
    claimed = withhold_marketing(claimed, worker=worker, report=report)
    senders = min(senders or settings.NOTIFICATIONS_SENDERS, len(claimed))
    if senders > 1:
        _send_in_parallel(claimed, senders, worker=worker, report=report)
    else:
        _send_share(claimed, worker=worker, report=report)
    return report


def dispatch_until_idle(*, seconds: float, batch: int | None = None, worker: str | None = None) -> Report:
    """Rounds until nothing is due or `seconds` have passed (what the periodic task and the command run)."""
    total = Report()
    deadline = timezone.now() + timedelta(seconds=seconds)
    while True:
        report = dispatch_due(batch=batch, worker=worker)
        total.add(report)
        if report.claimed == 0 or timezone.now() >= deadline:
            return total
