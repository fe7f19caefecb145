"""Quick sign-up with only a phone: the code goes out by SMS through the outbox to a real HTTP gateway, and the
person activates with phone + code and books."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from kabinet.accounts.models import User
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message
from kabinet.patients.models import Patient
from kabinet.portal.services import SIGNUP_SMS_LIMIT_PER_HOUR

pytestmark = pytest.mark.django_db

PHONE = "+359 88 765 4321"


@pytest.fixture
def sms_gateway(settings: Any, http_sink: Any) -> Any:
    settings.SMS_URL = http_sink.url.replace("http://", "http+json://") + "/sms"
    return http_sink


def _choice(clinic: Any) -> dict[str, Any]:
    return {
        "location": clinic.location.pk,
        "service": clinic.service.pk,
        "practitioner": clinic.doctor.pk,
        "date": clinic.day.isoformat(),
        "start": clinic.at(10).isoformat(),
        "with": clinic.doctor.pk,
    }


def _signup(client: Client, clinic: Any, **fields: str) -> Any:
    data = {"action": "signup", "signup-given_name": "Vera", "signup-family_name": "Новикова", **fields}
    return client.post(f"/book/{clinic.org.slug}/", {**_choice(clinic), **data}, REMOTE_ADDR="10.9.0.1")


def test_a_visitor_with_only_a_phone_gets_the_code_by_sms_and_books(clinic, sms_gateway) -> None:
    client = Client()
    response = _signup(client, clinic, **{"signup-email": "", "signup-phone": PHONE})
    assert response.status_code == 200
    assert "We have sent a code by SMS" in response.content.decode()
    user = User.objects.get(phone="+359887654321")
    assert user.email is None and user.needs_activation
    patient = Patient.objects.get(organisation=clinic.org, user=user)
    assert patient.phone == "+359887654321"

    assert dispatch_due().sent == 1
    [request] = sms_gateway.requests
    payload = json.loads(request.body)
    assert payload["to"] == "+359887654321"
    code = re.search(r"sign-up code is (\w+)", payload["text"])
    assert code is not None

    response = client.post(
        f"/book/{clinic.org.slug}/",
        {
            **_choice(clinic),
            "action": "activate",
            "activate-login": PHONE,
            "activate-code": code.group(1),
            "activate-new_password": "a-long-new-password-1",
        },
    )
    assert response.status_code == 302
    response = client.post(f"/book/{clinic.org.slug}/", {**_choice(clinic), "action": "confirm"})
    assert response.status_code == 302, response.content.decode()[:1000]
    assert clinic.org.patients.get(user=user).appointments.count() == 1


def test_without_sms_the_visitor_is_asked_for_an_email_and_nothing_is_kept(clinic, settings) -> None:
    settings.SMS_URL = ""
    response = _signup(Client(), clinic, **{"signup-email": "", "signup-phone": PHONE})
    assert response.status_code == 422
    assert "Enter your email instead" in response.content.decode()
    assert not User.objects.filter(phone="+359887654321").exists()
    assert not Patient.objects.filter(phone="+359887654321").exists()
    assert not Message.objects.exists()


def test_neither_email_nor_phone_is_refused(clinic) -> None:
    response = _signup(Client(), clinic, **{"signup-email": "", "signup-phone": ""})
    assert response.status_code in (400, 422)
    assert "Enter your email or your mobile phone" in response.content.decode()
    assert not User.objects.filter(full_name__contains="Vera").exists()


def test_codes_by_sms_to_one_number_are_limited(clinic, sms_gateway) -> None:
    for attempt in range(SIGNUP_SMS_LIMIT_PER_HOUR):
        assert _signup(Client(), clinic, **{"signup-email": "", "signup-phone": PHONE}).status_code == 200, attempt
    response = _signup(Client(), clinic, **{"signup-email": "", "signup-phone": PHONE})
    assert response.status_code == 429
    assert Message.objects.filter(event="account.signup_code").count() == SIGNUP_SMS_LIMIT_PER_HOUR
