"""Messages to chosen patients (issue #6 item 5): from the patient list's checkboxes or the card's button, preview,
send once per form (a double submit sends nothing twice), invalid addresses never sent, other clinics' patients
refused, audited."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kabinet.audit.models import AuditEvent
from kabinet.core.models import Role
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chosen(org: Any, no_quiet_hours: Any) -> list[Any]:
    return [
        PatientFactory.create(
            organisation=org, family_name="Aleksandrova", given_name="Vera", email="vera@example.org"
        ),
        PatientFactory.create(organisation=org, family_name="Borisov", given_name="Ivo", email="ivo@example.org"),
        PatientFactory.create(organisation=org, family_name="Cvetkova", given_name="Mila", email="not an address"),
    ]


def _form(client: Any, patients: list[Any]) -> tuple[str, str]:
    page = client.post("/notifications/send/", {"patients": [p.pk for p in patients]})
    assert page.status_code == 200
    html = page.content.decode()
    key = re.search(r'name="send_key" value="([^"]+)"', html)
    assert key
    return html, key.group(1)


def _send(client: Any, patients: list[Any], key: str, **fields: Any) -> Any:
    data = {
        "patients": [p.pk for p in patients],
        "send_key": key,
        "channels": ["email"],
        "event": "message.custom",
        "subject": "Hello {{ patient.first_name }}",
        "text": "Dear {{ patient.first_name }}, the clinic is open on Saturday.",
        "send": "1",
        "next": "/patients/",
    }
    data.update(fields)
    return client.post("/notifications/send/", data)


def test_the_patient_list_and_card_offer_send_message_to_the_desk(chosen, registrar, login_client) -> None:
    client = login_client(registrar)
    listing = client.get("/patients/").content.decode()
    assert 'form="patient-actions"' in listing and 'formaction="/notifications/send/"' in listing
    card = client.get(f"/patients/{chosen[0].pk}/").content.decode()
    assert 'action="/notifications/send/"' in card and f'name="patients" value="{chosen[0].pk}"' in card


def test_send_to_chosen_patients_once_even_when_submitted_twice(chosen, registrar, login_client, smtp_server) -> None:
    client = login_client(registrar)
    html, key = _form(client, chosen)
    assert "Aleksandrova" in html and "Borisov" in html and "Cvetkova" in html
    response = _send(client, chosen, key)
    assert response.status_code == 302 and response["Location"] == "/patients/"
    assert _send(client, chosen, key).status_code == 302  # the double submit
    messages = Message.objects.filter(ref_type="chosen", ref_id=key)
    assert messages.count() == 3
    invalid = messages.get(patient=chosen[2])
    assert invalid.state == Message.State.INVALID and invalid.error_code == "invalid_address"
    dispatch_due()
    assert sorted(r[0] for r in smtp_server.recipients) == ["ivo@example.org", "vera@example.org"]
    vera = next(m for m in smtp_server.messages if m["To"] == "vera@example.org")
    assert vera["Subject"] == "Hello Vera" and "List-Unsubscribe" not in vera
    invalid.refresh_from_db()
    assert invalid.state == Message.State.INVALID and invalid.attempts == 0
    audit = AuditEvent.objects.filter(action="notifications.message_to_patient")
    assert set(audit.values_list("patient_id", flat=True)) == {p.pk for p in chosen} and audit.count() == 3


def test_preview_shows_the_message_for_the_first_patient(chosen, registrar, login_client) -> None:
    client = login_client(registrar)
    _form(client, chosen[:2])
    preview = client.post(
        "/notifications/send/preview/",
        {
            "patients": [chosen[0].pk, chosen[1].pk],
            "channels": ["email"],
            "event": "message.custom",
            "subject": "Hi {{ patient.first_name }}",
            "text": "See you, {{ patient.name }}",
        },
    ).content.decode()
    assert "Hi Vera" in preview and "See you, Aleksandrova Vera" in preview and "vera@example.org" in preview
    refused = client.post(
        "/notifications/send/preview/",
        {"patients": [chosen[0].pk], "channels": ["email"], "event": "message.custom", "text": "{{ patient.pin }}"},
    ).content.decode()
    assert "Unknown variables: patient.pin" in refused
    assert not Message.objects.exists()


def test_sms_and_email_together_and_a_patient_without_a_phone_gets_only_email(
    chosen, registrar, login_client, settings
) -> None:
    settings.SMS_URL = "console://"
    type(chosen[0]).objects.filter(pk=chosen[0].pk).update(phone="+359888123456")
    client = login_client(registrar)
    _html, key = _form(client, chosen[:2])
    _send(client, chosen[:2], key, channels=["email", "sms"])
    rows = set(Message.objects.filter(ref_id=key).values_list("patient_id", "channel"))
    assert rows == {(chosen[0].pk, "email"), (chosen[0].pk, "sms"), (chosen[1].pk, "email")}


def test_another_clinics_patient_is_not_found_and_nothing_is_sent(chosen, registrar, login_client, other_org) -> None:
    stranger = PatientFactory.create(organisation=other_org, family_name="Outsiderova")
    client = login_client(registrar)
    assert client.post("/notifications/send/", {"patients": [chosen[0].pk, stranger.pk]}).status_code == 404
    response = _send(client, [chosen[0], stranger], "abcdefghijklmnop")
    assert response.status_code == 404 and "Outsiderova" not in response.content.decode()
    assert not Message.objects.exists()


def test_doctors_may_not_send_and_the_list_does_not_offer_it(chosen, make_user, org, login_client) -> None:
    doctor = make_user(Role.DOCTOR, organisation=org, email="doc@example.org")
    client = login_client(doctor)
    assert client.post("/notifications/send/", {"patients": [chosen[0].pk]}).status_code == 403
    assert _send(client, chosen[:1], "abcdefghijklmnop").status_code == 403
    assert 'formaction="/notifications/send/"' not in client.get("/patients/").content.decode()
    assert not Message.objects.exists()


def test_no_personal_data_in_urls_and_a_page_without_patients_explains_what_to_do(registrar, login_client) -> None:
    page = login_client(registrar).get("/notifications/send/")
    assert page.status_code == 200 and "Choose patients first" in page.content.decode()
