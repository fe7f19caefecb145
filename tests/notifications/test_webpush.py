"""Web push against a local push service that verifies the VAPID JWT and decrypts the aes128gcm payload; the
PWA's subscription endpoint; gone subscriptions are switched off."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kabinet.notifications import services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message, PushSubscription
from tests.factories import PatientFactory, UserFactory

CONTEXT = {"subject": "Saturday", "text": "Open on Saturday.", "clinic": {"name": "Alpha"}}


@pytest.fixture
def push_patient(org: Any, no_quiet_hours: Any) -> Any:
    user = UserFactory.create(email="pushy@example.org")
    return PatientFactory.create(
        organisation=org, user=user, phone="+359888123456", preferred_channel="push", language="ru"
    )


def _push(patient: Any, key: str = "p1") -> Message:
    messages = services.schedule(
        organisation=patient.organisation,
        event="message.custom",
        key=key,
        context=CONTEXT,
        patient=patient,
        in_app_copy=False,
        link="/my/",
    )
    [message] = messages
    return message


@pytest.mark.django_db
def test_push_is_encrypted_signed_and_decrypted_by_the_device(push_patient, push_service, login_client) -> None:
    phone = push_service.device("phone")
    laptop = push_service.device("laptop")
    client = login_client(push_patient.user)
    for device in (phone, laptop):
        response = client.post(
            "/notifications/push/subscribe/", json.dumps(device.info()), content_type="application/json"
        )
        assert response.status_code == 201
    message = _push(push_patient)
    assert message.channel == "push"
    assert dispatch_due().sent == 1, push_service.refusals
    assert push_service.refusals == []
    assert {r["device"] for r in push_service.received} == {"phone", "laptop"}
    payload = push_service.received[0]["payload"]
    assert payload == {"title": "Saturday", "body": "Open on Saturday.", "url": "/my/", "tag": f"message-{message.pk}"}
    headers = push_service.received[0]["headers"]
    assert headers["urgency"] == "normal" and len(headers["topic"]) == 32 and int(headers["ttl"]) > 0
    assert push_service.received[0]["claims"]["sub"] == "mailto:ops@example.org"
    message.refresh_from_db()
    assert message.state == "sent"


@pytest.mark.django_db
def test_a_gone_subscription_is_switched_off_and_the_message_is_invalid(push_patient, push_service) -> None:
    device = push_service.device("old")
    push_service.status_for["old"] = 410
    services.push_subscribe(user=push_patient.user, info=device.info())
    message = _push(push_patient)
    dispatch_due()
    message.refresh_from_db()
    assert message.state == "invalid"
    assert not PushSubscription.objects.get(endpoint=device.endpoint).is_active


@pytest.mark.django_db
def test_push_service_errors_are_retried(push_patient, push_service) -> None:
    device = push_service.device("flaky")
    push_service.status_for["flaky"] = 503
    services.push_subscribe(user=push_patient.user, info=device.info())
    message = _push(push_patient)
    assert dispatch_due().retried == 1
    message.refresh_from_db()
    assert message.state == "queued" and "503" in message.last_error


@pytest.mark.django_db
def test_subscribe_endpoint_needs_a_login_and_a_real_subscription(client, login_client, push_patient, vapid) -> None:
    info = {"endpoint": "https://push.example/abc", "keys": {"p256dh": "BKey", "auth": "secret"}}
    anonymous = client.post("/notifications/push/subscribe/", json.dumps(info), content_type="application/json")
    assert anonymous.status_code == 302
    logged_in = login_client(push_patient.user)
    bad = logged_in.post(
        "/notifications/push/subscribe/", json.dumps({"endpoint": "x"}), content_type="application/json"
    )
    assert bad.status_code == 422
    ok = logged_in.post("/notifications/push/subscribe/", json.dumps(info), content_type="application/json")
    assert ok.status_code == 201
    gone = logged_in.post(
        "/notifications/push/unsubscribe/", json.dumps({"endpoint": info["endpoint"]}), content_type="application/json"
    )
    assert gone.json() == {"unsubscribed": 1}
    assert not PushSubscription.objects.get(endpoint=info["endpoint"]).is_active


@pytest.mark.django_db
def test_service_worker_shows_pushes_and_opens_their_page(client) -> None:
    body = client.get("/my/sw.js").content.decode()
    assert 'addEventListener("push"' in body and "showNotification" in body
    assert 'addEventListener("notificationclick"' in body and "openWindow" in body
