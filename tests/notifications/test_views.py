"""Staff outbox pages and API (administrators and registrars of the organisation only), the bell and the in-app
inbox of any signed-in user."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kabinet.notifications import services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import InAppNotification, Message
from tests.factories import PatientFactory

CONTEXT = {"subject": "Saturday", "text": "Open on Saturday.", "clinic": {"name": "Alpha"}}


@pytest.fixture
def sent(org: Any, settings: Any, no_quiet_hours: Any) -> Message:
    settings.SMS_URL = "console://"
    patient = PatientFactory.create(organisation=org, phone="+359888123456", family_name="Petrova")
    [message] = services.schedule(organisation=org, event="message.custom", key="v1", context=CONTEXT, patient=patient)
    dispatch_due()
    message.refresh_from_db()
    return message


@pytest.mark.django_db
def test_admins_and_registrars_see_the_outbox_with_filters_and_history(sent, admin_user, registrar, login_client):
    for user in (admin_user, registrar):
        page = login_client(user).get("/notifications/outbox/")
        assert page.status_code == 200 and "Petrova" in page.content.decode()
    client = login_client(registrar)
    assert "Petrova" not in client.get("/notifications/outbox/", {"state": "failed"}).content.decode()
    assert "Petrova" in client.get("/notifications/outbox/", {"channel": "sms", "state": "sent"}).content.decode()
    detail = client.get(f"/notifications/outbox/{sent.pk}/").content.decode()
    assert "Open on Saturday." in detail and "console accepted it" in detail
    assert detail.count("<tr>") >= 3  # queued, sending, sent


@pytest.mark.django_db
def test_other_roles_and_other_clinics_are_refused(sent, org, make_user, outsider, login_client) -> None:
    doctor = make_user("doctor", organisation=org)
    assert login_client(doctor).get("/notifications/outbox/").status_code == 403
    assert login_client(doctor).get(f"/notifications/outbox/{sent.pk}/").status_code == 403
    other = login_client(outsider)
    assert "Petrova" not in other.get("/notifications/outbox/").content.decode()
    assert other.get(f"/notifications/outbox/{sent.pk}/").status_code == 404
    assert login_client(doctor).get("/api/v1/outbox").status_code == 403
    assert other.get(f"/api/v1/outbox/{sent.pk}").status_code == 404


@pytest.mark.django_db
def test_outbox_api_lists_and_shows_history(sent, registrar, login_client) -> None:
    client = login_client(registrar)
    listing = client.get("/api/v1/outbox", {"state": "sent"})
    assert listing.status_code == 200 and listing["X-Total-Count"] == "1"
    assert listing.json()[0]["id"] == sent.pk
    detail = client.get(f"/api/v1/outbox/{sent.pk}").json()
    assert [e["state"] for e in detail["events"]] == ["queued", "sending", "sent"]
    assert client.get("/api/v1/outbox", {"state": "bogus"}).status_code == 422


@pytest.mark.django_db
def test_in_app_notifications_show_in_the_bell_and_reading_marks_the_message_read(
    org, make_user, login_client, no_quiet_hours
) -> None:
    user = make_user("registrar", organisation=org)
    [message] = services.schedule(
        organisation=org, event="message.custom", key="n1", context=CONTEXT, user=user, channels=["inapp"]
    )
    dispatch_due()
    message.refresh_from_db()
    assert message.state == "delivered"
    client = login_client(user)
    page = client.get("/notifications/inbox/").content.decode()
    assert "Saturday" in page and re.search(r"data-bell-count[^>]*>1<", page)
    note = InAppNotification.objects.get(user=user)
    assert client.get("/api/v1/notifications", {"unread": True}).json()[0]["id"] == note.pk
    assert client.post(f"/notifications/inbox/{note.pk}/read/").status_code == 302
    message.refresh_from_db()
    assert message.state == "read" and message.read_at is not None
    assert client.get("/api/v1/notifications")["X-Unread-Count"] == "0"


@pytest.mark.django_db
def test_nobody_reads_someone_elses_notifications(org, make_user, login_client, no_quiet_hours) -> None:
    alice, bob = make_user("registrar", organisation=org), make_user("registrar", organisation=org)
    services.schedule(
        organisation=org, event="message.custom", key="n1", context=CONTEXT, user=alice, channels=["inapp"]
    )
    dispatch_due()
    note = InAppNotification.objects.get(user=alice)
    assert login_client(bob).post(f"/notifications/inbox/{note.pk}/read/").status_code == 404
    assert login_client(bob).post(f"/api/v1/notifications/{note.pk}/read").status_code == 404
    note.refresh_from_db()
    assert note.read_at is None
    assert "Saturday" not in login_client(bob).get("/notifications/inbox/").content.decode()


@pytest.mark.django_db
def test_bell_and_outbox_link_are_on_staff_pages(sent, admin_user, login_client, make_user, org) -> None:
    page = login_client(admin_user).get("/").content.decode()
    assert "data-bell-count" in page and "/notifications/outbox/" in page and "/notifications/templates/" in page
    doctor = make_user("doctor", organisation=org)
    doctor_page = login_client(doctor).get("/").content.decode()
    assert "data-bell-count" in doctor_page and "/notifications/outbox/" not in doctor_page
