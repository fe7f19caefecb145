"""SMS through a real Kannel (bearerbox + smsbox + fake SMSC) with its delivery reports reaching the live server,
and the delivery-report endpoint's checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from kabinet.notifications import providers, services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message
from kabinet.notifications.providers.kannel import coding_for
from tests.factories import PatientFactory

CONTEXT = {"subject": "Hours", "clinic": {"name": "Alpha"}}


def _sms(org: Any, text: str, key: str, phone: str = "+359888123456") -> Message:
    patient = PatientFactory.create(organisation=org, phone=phone, language="en")
    [message] = services.schedule(
        organisation=org, event="message.custom", key=key, context={**CONTEXT, "text": text}, patient=patient
    )
    return message


@pytest.fixture
def kannel_sms(settings: Any, kannel: Any, live_server: Any, no_quiet_hours: Any) -> Any:
    settings.SMS_URL = kannel.sms_url
    settings.SITE_URL = live_server.url  # where Kannel calls the dlr-url
    settings.SMS_DLR_TOKEN = "dlr-secret-for-tests"
    return kannel


@pytest.mark.django_db(transaction=True)
def test_sms_goes_through_kannel_and_its_delivery_report_marks_it_delivered(org, kannel_sms, wait_for) -> None:
    message = _sms(org, "Your visit is tomorrow at 10:30", "k1")
    report = dispatch_due()
    assert report.sent == 1, kannel_sms.logs()
    message.refresh_from_db()
    assert message.provider == "kannel" and message.provider_id == f"kannel:{message.pk}"
    assert message.state in ("sent", "delivered")  # the report may come back before the worker records "sent"

    def delivered() -> Message | None:
        message.refresh_from_db()
        return message if message.state == "delivered" else None

    wait_for(delivered, seconds=15)
    assert message.delivered_at is not None
    details = [e.detail for e in message.events.all()]
    assert any("kannel report: type 1" in d for d in details), details
    assert "+359888123456 text Your visit is tomorrow at 10:30" in kannel_sms.smsc_received().replace("kabinet ", "")


@pytest.mark.django_db(transaction=True)
def test_cyrillic_sms_goes_as_ucs2(org, kannel_sms, wait_for) -> None:
    assert coding_for("Привет") == 2 and coding_for("Hello @ 10:30") == 0
    _sms(org, "Напоминание: визит завтра", "k2", phone="+359888123457")
    assert dispatch_due().sent == 1
    wait_for(lambda: "+359888123457 ucs-2" in kannel_sms.smsc_received(), seconds=15)


@pytest.mark.django_db(transaction=True)
def test_kannel_refuses_a_wrong_password_and_the_message_is_rejected(org, kannel_sms, settings) -> None:
    settings.SMS_URL = kannel_sms.sms_url.replace("sendsms-secret", "wrong")
    message = _sms(org, "hello", "k3")
    assert dispatch_due().failed == 1
    message.refresh_from_db()
    assert message.state == "rejected" and "Authorization failed" in message.last_error


@pytest.mark.django_db
def test_delivery_report_endpoint_checks_the_token_and_ignores_unknown_messages(org, client, settings) -> None:
    settings.SMS_URL = "console://"
    settings.SMS_DLR_TOKEN = "right-token"
    message = _sms(org, "hello", "k4")
    Message.objects.filter(pk=message.pk).update(state="sent", provider="kannel")
    wrong = client.get(f"/notifications/dlr/kannel/wrong-token/?message={message.pk}&type=1")
    assert wrong.status_code == 403
    unknown = client.get("/notifications/dlr/kannel/right-token/?message=987654&type=1")
    assert unknown.status_code == 200
    malformed = client.get("/notifications/dlr/kannel/right-token/?message=abc&type=%d")
    assert malformed.status_code == 200
    failed = client.get(f"/notifications/dlr/kannel/right-token/?message={message.pk}&type=16&answer={quote('NACK')}")
    assert failed.status_code == 200
    message.refresh_from_db()
    assert message.state == "rejected" and "NACK" in message.last_error


@pytest.mark.django_db
def test_without_a_configured_token_one_derived_from_the_secret_key_is_used(settings) -> None:
    settings.SMS_DLR_TOKEN = ""
    token = providers.dlr_token()
    assert len(token) > 20 and token == providers.dlr_token()
