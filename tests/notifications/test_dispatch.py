"""The dispatcher: claims and leases, crash recovery without double sends, retries with back-off, permanent
failures, expiry, and parallel dispatchers that never send a message twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from kabinet.notifications import services
from kabinet.notifications.dispatch import backoff, claim, dispatch_due, recover
from kabinet.notifications.models import Message
from tests.factories import PatientFactory

CONTEXT = {"subject": "Hours", "text": "Open on Saturday.", "clinic": {"name": "Alpha"}}


def _sms(patient: Any, key: str, **kwargs: Any) -> Message:
    [message] = services.schedule(
        organisation=patient.organisation, event="message.custom", key=key, context=CONTEXT, patient=patient, **kwargs
    )
    return message


@pytest.fixture
def gateway(settings: Any, http_sink: Any) -> Any:
    """The generic HTTP SMS provider pointed at the local sink (JSON body)."""
    settings.SMS_URL = http_sink.url.replace("http://", "http+json://") + "/sms"
    settings.SMS_HTTP_AUTH_HEADER = "Authorization: Bearer test-token"
    settings.NOTIFICATIONS_RETRY_SECONDS = 60
    return http_sink


@pytest.fixture
def patient(org: Any, no_quiet_hours: Any) -> Any:
    return PatientFactory.create(organisation=org, phone="+359888123456", email="p@example.org")


def _time_travel(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_claim_marks_rows_sending_with_a_lease_and_a_second_claim_gets_none(patient, gateway) -> None:
    message = _sms(patient, "k1")
    claimed, _ = claim(batch=10, worker="w1")
    assert [m.pk for m in claimed] == [message.pk]
    message.refresh_from_db()
    assert message.state == "sending" and message.worker == "w1" and message.claim_token is not None
    assert message.lease_until is not None and message.lease_until > timezone.now()
    assert message.handed_at is None
    assert claim(batch=10, worker="w2")[0] == []


@pytest.mark.django_db
def test_future_messages_wait_for_their_time(patient, gateway) -> None:
    _sms(patient, "later", due_at=timezone.now() + timedelta(hours=1))
    assert dispatch_due().claimed == 0
    assert gateway.requests == []


@pytest.mark.django_db
def test_sent_message_records_provider_id_history_and_the_request_carries_text_and_auth(patient, gateway) -> None:
    message = _sms(patient, "k1")
    report = dispatch_due()
    assert report.sent == 1
    message.refresh_from_db()
    assert (message.state, message.provider, message.provider_id, message.attempts) == ("sent", "http", "gw-1", 1)
    assert message.sent_at is not None and message.claim_token is None
    assert [e.state for e in message.events.all()] == ["queued", "sending", "sent"]
    [request] = gateway.requests
    body = json.loads(request.body)
    assert body["to"] == "+359888123456" and body["text"] == "Open on Saturday." and body["reference"] == "k1#sms"
    assert request.headers["Authorization"] == "Bearer test-token"


@pytest.mark.django_db
def test_a_worker_that_died_before_hand_off_loses_nothing(patient, gateway) -> None:
    message = _sms(patient, "k1")
    claim(batch=10, worker="dead")  # the worker dies here: claimed, never handed to the provider
    Message.objects.filter(pk=message.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    report = dispatch_due(worker="alive")
    assert report.requeued == 1 and report.sent == 1
    message.refresh_from_db()
    assert message.state == "sent" and message.attempts == 1
    assert len(gateway.requests) == 1


@pytest.mark.django_db
def test_a_worker_that_died_after_hand_off_is_not_resent_by_a_non_deduplicating_provider(patient, gateway) -> None:
    message = _sms(patient, "k1")
    claim(batch=10, worker="dead")
    # The hand-off mark committed, then the process was killed (before or after the gateway got the request).
    Message.objects.filter(pk=message.pk).update(
        handed_at=timezone.now(), attempts=1, provider="http", lease_until=timezone.now() - timedelta(seconds=1)
    )
    report = dispatch_due(worker="alive")
    assert report.unknown == 1 and report.sent == 0
    message.refresh_from_db()
    assert message.state == "failed" and message.error_code == "outcome_unknown"
    assert "not sent again" in message.last_error
    assert gateway.requests == []  # never sent twice; the loss is visible in the outbox
    assert dispatch_due().claimed == 0


@pytest.mark.django_db
def test_a_deduplicating_gateway_gets_the_uncertain_message_again_with_the_same_key(patient, gateway, settings) -> None:
    settings.SMS_HTTP_IDEMPOTENCY_HEADER = "Idempotency-Key"
    message = _sms(patient, "k1")
    claim(batch=10, worker="dead")
    Message.objects.filter(pk=message.pk).update(
        handed_at=timezone.now(), attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    report = dispatch_due(worker="alive")
    assert report.requeued == 1 and report.sent == 1
    [request] = gateway.requests
    assert request.headers["Idempotency-Key"] == "k1#sms"
    message.refresh_from_db()
    assert message.state == "sent" and message.attempts == 2


@pytest.mark.django_db
def test_a_worker_whose_lease_was_taken_back_does_not_send(patient, gateway) -> None:
    message = _sms(patient, "k1")
    [claimed], _ = claim(batch=10, worker="slow")
    Message.objects.filter(pk=message.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    recover(worker="other")  # back to queued with the claim cleared
    from kabinet.notifications import providers
    from kabinet.notifications.dispatch import Report, deliver

    report = Report()
    deliver(claimed, providers.for_channel("sms"), worker="slow", report=report)  # the slow worker wakes up
    assert report.lost_lease == 1 and gateway.requests == []
    message.refresh_from_db()
    assert message.state == "queued"


@pytest.mark.django_db
def test_temporary_errors_are_retried_with_exponential_backoff_then_sent(patient, gateway) -> None:
    gateway.answer(503, "busy")
    gateway.answer(500, "oops")
    message = _sms(patient, "k1")
    before = timezone.now()
    assert dispatch_due().retried == 1
    message.refresh_from_db()
    assert message.state == "queued" and message.attempts == 1 and "503" in message.last_error
    assert message.next_attempt_at is not None
    assert message.next_attempt_at >= before + timedelta(seconds=60)
    assert dispatch_due().claimed == 0  # not before its time
    _time_travel(message)
    before = timezone.now()
    dispatch_due()
    message.refresh_from_db()
    assert message.attempts == 2 and message.next_attempt_at >= before + timedelta(seconds=120)
    _time_travel(message)
    dispatch_due()
    message.refresh_from_db()
    assert message.state == "sent" and message.attempts == 3 and message.last_error == ""
    assert len(gateway.requests) == 3
    assert backoff(1) == timedelta(seconds=60) and backoff(4) == timedelta(seconds=480)


@pytest.mark.django_db
def test_retry_after_from_the_gateway_is_respected(patient, gateway) -> None:
    gateway.answer(429, "slow down", {"Retry-After": "900"})
    message = _sms(patient, "k1")
    before = timezone.now()
    dispatch_due()
    message.refresh_from_db()
    assert message.next_attempt_at is not None and message.next_attempt_at >= before + timedelta(seconds=900)


@pytest.mark.django_db
def test_a_4xx_is_final_with_the_gateways_message(patient, gateway) -> None:
    gateway.answer(400, '{"error": "sender id not registered"}')
    message = _sms(patient, "k1")
    assert dispatch_due().failed == 1
    message.refresh_from_db()
    assert message.state == "rejected" and message.error_code == "http_400"
    assert "sender id not registered" in message.last_error and message.failed_at is not None
    assert TimelineEntryTitle.of(message).endswith("rejected")


@pytest.mark.django_db
def test_giving_up_after_the_maximum_attempts(patient, gateway, settings) -> None:
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    gateway.answer(503, "down")
    gateway.answer(503, "still down")
    message = _sms(patient, "k1")
    dispatch_due()
    _time_travel(message)
    dispatch_due()
    message.refresh_from_db()
    assert message.state == "failed" and "gave up after 2 attempts" in message.last_error


@pytest.mark.django_db
def test_an_unreachable_gateway_is_a_temporary_error(patient, settings) -> None:
    from tests.fixtures import free_port

    settings.SMS_URL = f"kannel://u:p@127.0.0.1:{free_port()}/"
    message = _sms(patient, "k1")
    assert dispatch_due().retried == 1
    message.refresh_from_db()
    assert message.state == "queued" and message.error_code == "connect"


@pytest.mark.django_db
def test_no_answer_in_time_is_an_unknown_outcome_and_not_resent(patient, gateway, settings) -> None:
    settings.NOTIFICATIONS_PROVIDER_TIMEOUT = 1
    gateway.delay = 1.5
    message = _sms(patient, "k1")
    report = dispatch_due()
    assert report.unknown == 1
    message.refresh_from_db()
    assert message.state == "failed" and message.error_code == "outcome_unknown"


@pytest.mark.django_db
def test_expired_messages_are_cancelled_not_sent(patient, gateway) -> None:
    message = _sms(patient, "k1", expires_at=timezone.now() + timedelta(minutes=5))
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert dispatch_due().expired == 1
    message.refresh_from_db()
    assert message.state == "cancelled" and message.error_code == "expired"
    assert message.idempotency_key == f"k1#sms~cancelled-{message.pk}"  # the key is free again
    assert gateway.requests == []


@pytest.mark.django_db
def test_a_delivery_report_that_beats_the_result_keeps_delivered(patient, gateway) -> None:
    message = _sms(patient, "k1")
    [claimed], _ = claim(batch=1, worker="w")
    Message.objects.filter(pk=message.pk).update(handed_at=timezone.now(), provider="http")
    services.delivery_report(message_id=message.pk, provider="http", state="delivered", detail="DLR 1")
    from kabinet.notifications.dispatch import Report, _record_sent
    from kabinet.notifications.providers import Sent

    claimed.provider = "http"
    _record_sent(claimed, Sent(provider_id="gw-9"), "w", Report())
    message.refresh_from_db()
    assert message.state == "delivered" and message.provider_id == "gw-9" and message.sent_at is not None


@pytest.mark.django_db
def test_a_late_report_resolves_an_unknown_outcome_and_never_moves_backwards(patient, gateway) -> None:
    message = _sms(patient, "k1")
    Message.objects.filter(pk=message.pk).update(
        state="failed", error_code="outcome_unknown", provider="kannel", next_attempt_at=None
    )
    services.delivery_report(message_id=message.pk, provider="kannel", state="delivered", detail="1")
    message.refresh_from_db()
    assert message.state == "delivered" and message.error_code == ""
    services.delivery_report(message_id=message.pk, provider="kannel", state="sent", detail="8 after 1")
    message.refresh_from_db()
    assert message.state == "delivered"
    assert services.delivery_report(message_id=999999, provider="kannel", state="delivered") is None


class TimelineEntryTitle:
    @staticmethod
    def of(message: Message) -> str:
        """The title of the message's entry on the patient's timeline."""
        from kabinet.patients.models import TimelineEntry

        message.refresh_from_db()
        assert message.timeline_entry_id is not None
        return TimelineEntry.objects.get(pk=message.timeline_entry_id).title


# --- parallel dispatchers ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_dispatchers_send_every_message_exactly_once(org, gateway) -> None:
    services.reminder_policy(org.pk)
    policy = services.reminder_policy(org.pk)
    policy.quiet_hours_start = policy.quiet_hours_end = None
    policy.save()
    patient = PatientFactory.create(organisation=org, phone="+359888123456")
    total = 120
    for n in range(total):
        _sms(patient, f"bulk:{n}")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(name: str) -> None:
        try:
            start.wait()
            while dispatch_due(batch=7, worker=name).claimed:
                pass
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(f"w{n}-{uuid.uuid4().hex[:4]}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    references = Counter(json.loads(r.body)["reference"] for r in gateway.requests)
    assert len(references) == total and set(references.values()) == {1}, references.most_common(3)
    assert Message.objects.filter(state="sent").count() == total
    workers = {w for (w,) in Message.objects.values_list("events__worker").filter(events__state="sending")}
    assert len(workers) > 1, f"one dispatcher did everything on {connection.vendor}; the test proves nothing"


@pytest.mark.django_db(transaction=True)
def test_senders_share_a_batch_each_with_its_own_connections_and_send_every_message_once(
    org, no_quiet_hours, settings
) -> None:
    from aiosmtpd.controller import Controller

    from tests.fixtures import free_port
    from tests.fixtures.mail import SmtpInbox

    class Inbox(SmtpInbox):
        peers: set[Any] = set()

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.peers.add(session.peer)
            return await super().handle_DATA(server, session, envelope)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    try:
        messages = []
        for n in range(12):
            patient = PatientFactory.create(organisation=org, email=f"s{n}@example.org")
            messages += services.schedule(
                organisation=org, event="message.custom", key=f"s{n}", context=CONTEXT, patient=patient,
                channels=["email"],
            )  # fmt: skip
        report = dispatch_due(batch=12, senders=3)
    finally:
        controller.stop()
    assert report.sent == 12 and report.claimed == 12
    received = Counter(int(e["X-Kabinet-Message"]) for e in inbox.messages)
    assert set(received) == {m.pk for m in messages} and set(received.values()) == {1}
    assert len(inbox.peers) == 3  # one SMTP connection per sender
    for message in Message.objects.filter(pk__in=received):
        assert message.state == "sent" and message.timeline_entry_id is not None
        assert [e.state for e in message.events.order_by("pk")] == ["queued", "sending", "sent"]
