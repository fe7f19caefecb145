"""How messages get going: the clock enqueues the dispatcher, the worker runs it, the dedicated command does the
same; configuration of SMS_URL and VAPID is checked at start-up."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from kabinet.core import clock
from kabinet.notifications import providers, services
from kabinet.notifications.models import Message
from tests.factories import PatientFactory

CONTEXT = {"subject": "Hours", "text": "Open on Saturday.", "clinic": {"name": "Alpha"}}


def _queue_email(org: Any) -> Message:
    patient = PatientFactory.create(organisation=org, email="anna@example.org")
    [message] = services.schedule(organisation=org, event="message.custom", key="w1", context=CONTEXT, patient=patient)
    return message


@pytest.mark.django_db(transaction=True)
def test_the_clock_enqueues_the_dispatcher_and_the_worker_sends(org, no_quiet_hours, smtp_server) -> None:
    message = _queue_email(org)
    assert "notifications.dispatch" in clock.tick()
    assert DBTaskResult.objects.filter(task_path="kabinet.notifications.tasks.dispatch_outbox").count() == 1
    call_command("db_worker", batch=True, reload=False, stdout=io.StringIO(), stderr=io.StringIO())
    message.refresh_from_db()
    assert message.state == "sent" and len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_the_dispatch_command_sends_once(org, no_quiet_hours, smtp_server) -> None:
    message = _queue_email(org)
    out = io.StringIO()
    call_command("notifications_dispatch", once=True, stdout=out)
    assert "sent 1" in out.getvalue()
    message.refresh_from_db()
    assert message.state == "sent"


def test_vapid_key_command_prints_a_usable_pair() -> None:
    from py_vapid import Vapid

    out = io.StringIO()
    call_command("notifications_vapid_keys", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert Vapid.from_string(lines["VAPID_PRIVATE_KEY"]).public_key is not None
    assert len(lines["VAPID_PUBLIC_KEY"]) == 87  # 65 bytes, base64url without padding


@pytest.mark.parametrize(
    ("url", "kind", "target"),
    [
        ("kannel://kab:s%40cret@127.0.0.1:13013/?from=kabinet", "kannel", "http://127.0.0.1:13013/cgi-bin/sendsms"),
        ("https+json://api.example.com/v1/sms?x=1", "http", "https://api.example.com/v1/sms?x=1"),
        ("http+form://gw.local:8080/send", "http", "http://gw.local:8080/send"),
        ("console://", "console", ""),
    ],
)
def test_sms_url_forms(url: str, kind: str, target: str) -> None:
    config = providers.sms_config(url)
    assert config is not None and config.kind == kind and config.url == target
    if kind == "kannel":
        assert (config.username, config.password, config.options["from"]) == ("kab", "s@cret", "kabinet")


@pytest.mark.parametrize("url", ["smpp://x", "kannel://127.0.0.1:13013/", "http+json://", "nonsense"])
def test_malformed_sms_url_fails_loudly(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="SMS_URL"):
        providers.sms_config(url)


def test_half_a_vapid_key_pair_fails_loudly(settings: Any) -> None:
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = "abc", ""
    with pytest.raises(ImproperlyConfigured, match="VAPID"):
        providers.check_configuration()


def test_phone_numbers_are_checked_before_any_gateway_sees_them() -> None:
    assert providers.check_phone("+359888123456") == "+359888123456"
    for bad in ("0888123456", "+1", "+35988812345678901", "+999123456789"):
        with pytest.raises(providers.InvalidAddress):
            providers.check_phone(bad)
