"""Email through a real SMTP server (aiosmtpd): text and HTML parts, attachments, Message-ID, List-Unsubscribe on
marketing, and SMTP refusals (5xx bounce, 4xx retry)."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from kabinet.notifications import events, services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message, OptOut
from tests.factories import PatientFactory
from tests.fixtures import free_port

CONTEXT = {"subject": "Saturday hours", "text": "We are open <b>on Saturday</b>.", "clinic": {"name": "Alpha"}}


@pytest.fixture
def patient(org: Any, no_quiet_hours: Any) -> Any:
    return PatientFactory.create(
        organisation=org, email="anna@example.org", preferred_channel="email", marketing_consent=True
    )


def _email(patient: Any, key: str = "news:1", **kwargs: Any) -> Message:
    [message] = services.schedule(
        organisation=patient.organisation, event="message.custom", key=key, context=CONTEXT, patient=patient, **kwargs
    )
    return message


@pytest.mark.django_db
def test_email_has_text_and_html_parts_attachment_and_a_stable_message_id(patient, smtp_server) -> None:
    attachment = {"filename": "visit.ics", "mimetype": "text/calendar", "content": "BEGIN:VCALENDAR\r\nEND:VCALENDAR"}
    message = _email(patient, attachments=[attachment])
    assert dispatch_due().sent == 1
    [received] = smtp_server.messages
    assert smtp_server.recipients == [["anna@example.org"]]
    assert received["Subject"] == "Saturday hours"
    assert received["X-Kabinet-Message"] == str(message.pk)
    message.refresh_from_db()
    assert received["Message-ID"] == message.provider_id and message.state == "sent"
    parts = {part.get_content_type(): part for part in received.walk()}
    assert "text/plain" in parts and "text/html" in parts and "text/calendar" in parts
    text = parts["text/plain"].get_payload(decode=True).decode()
    html = parts["text/html"].get_payload(decode=True).decode()
    assert "We are open <b>on Saturday</b>." in text  # text is not escaped
    assert "&lt;b&gt;on Saturday&lt;/b&gt;" in html  # the HTML part is
    assert parts["text/calendar"].get_filename() == "visit.ics"
    assert "List-Unsubscribe" not in received  # a service message, not marketing


@pytest.mark.django_db
def test_marketing_email_carries_one_click_unsubscribe_that_records_the_opt_out(
    patient, smtp_server, client, monkeypatch
) -> None:
    marketing = events.EventType(
        key="test.marketing",
        label="Offer",
        variables=frozenset({"subject", "text", "clinic.name"}),
        wording={"en": events.Wording(subject="{{ subject }}", long="{{ text }}", short="{{ text }}")},
        marketing=True,
    )
    events.register(marketing)
    try:
        services.schedule(
            organisation=patient.organisation, event="test.marketing", key="offer:1", context=CONTEXT, patient=patient
        )
        dispatch_due()
    finally:
        events._registry.pop("test.marketing")
    [received] = smtp_server.messages
    header = "".join(received["List-Unsubscribe"].split())
    assert header.startswith("<http") and received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = header.strip("<>").split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200
    assert client.post(f"/{path}", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert OptOut.objects.filter(patient=patient, channel="email").count() == 1
    assert client.post(f"/{path[:-3]}xyz/").status_code == 404  # a forged token


class RefusingHandler:
    """An SMTP server that refuses some recipients: 550 (no such mailbox) or 451 (try later)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


@pytest.fixture
def refusing_smtp(settings: Any) -> Iterator[RefusingHandler]:
    handler = RefusingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield handler
    finally:
        controller.stop()


@pytest.mark.django_db
def test_smtp_refusals_bounce_or_retry_and_do_not_stop_the_batch(org, no_quiet_hours, refusing_smtp) -> None:
    gone = _email(PatientFactory.create(organisation=org, email="gone@example.org"), key="a")
    busy = _email(PatientFactory.create(organisation=org, email="busy@example.org"), key="b")
    fine = _email(PatientFactory.create(organisation=org, email="fine@example.org"), key="c")
    dispatch_due()
    gone.refresh_from_db()
    busy.refresh_from_db()
    fine.refresh_from_db()
    assert gone.state == "bounced" and "550" in gone.last_error
    assert busy.state == "queued" and busy.attempts == 1 and "451" in busy.last_error
    assert fine.state == "sent"
    assert len(refusing_smtp.messages) == 1


@pytest.mark.django_db
def test_mail_server_down_is_retried(patient, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    message = _email(patient)
    assert dispatch_due().retried == 1
    message.refresh_from_db()
    assert message.state == "queued" and message.error_code == "connect"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word (a hung mail server)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    listener.settimeout(0.1)

    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.django_db
def test_a_silent_mail_server_times_out_and_the_message_is_retried(patient, settings, silent_server) -> None:
    assert settings.EMAIL_TIMEOUT == settings.NOTIFICATIONS_PROVIDER_TIMEOUT
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent_server
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1
    message = _email(patient)
    assert dispatch_due().retried == 1
    message.refresh_from_db()
    assert message.state == "queued" and message.error_code == "connect"
