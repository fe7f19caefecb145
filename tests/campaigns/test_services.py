"""Campaign use cases against a real SMTP server: consent and opt-outs at release and at send time, throttle, pause
and resume without duplicates, cancel, invalid addresses, statistics."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from kabinet.audit.models import AuditEvent
from kabinet.campaigns import selectors, services
from kabinet.campaigns.models import Campaign, CampaignRecipient
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.notifications import services as notification_services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message, OptOut, ReminderPolicy
from kabinet.patients import services as patient_services
from tests.campaigns.conftest import Clinic, run_until_done
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def _received(smtp_server: Any) -> Counter[str]:
    return Counter(address for recipients in smtp_server.recipients for address in recipients)


def test_start_freezes_the_segment_into_one_recipient_per_patient_and_channel(clinic: Clinic) -> None:
    campaign = clinic.campaign(channels=["email", "sms"])
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING and campaign.audience == 6
    assert CampaignRecipient.objects.filter(campaign=campaign, state="pending").count() == 12
    assert AuditEvent.objects.filter(action="campaign.started", object_id=str(campaign.pk)).exists()
    with pytest.raises(Conflict):
        services.campaign_start(actor=clinic.admin, campaign=campaign)


def test_everyone_who_agreed_gets_the_personal_email_exactly_once(clinic: Clinic, smtp_server: Any) -> None:
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)
    received = _received(smtp_server)
    assert sorted(received) == sorted(p.email for p in clinic.patients)
    assert set(received.values()) == {1}
    first = next(m for m in smtp_server.messages if m["To"] == clinic.patients[0].email)
    assert first["Subject"] == f"Spring check-up, {clinic.patients[0].given_name}"
    assert first["List-Unsubscribe"]
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED


def test_consent_withdrawn_mid_campaign_means_the_patient_gets_nothing(clinic: Clinic, smtp_server: Any) -> None:
    """Released to the outbox while the patient agreed, withdrawn before the dispatcher got to it: not sent."""
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    services.campaign_release(campaign_id=campaign.pk, budget=100)
    quitter = clinic.patients[2]
    patient_services.patient_update(actor=clinic.admin, patient=quitter, changes={"marketing_consent": False})
    run_until_done(campaign)
    assert quitter.email not in _received(smtp_server)
    assert len(smtp_server.messages) == 5
    message = Message.objects.get(patient=quitter, ref_type="campaign")
    assert message.state == Message.State.CANCELLED and message.error_code == "no_consent"
    stats = selectors.campaign_stats(campaign=campaign).figures
    assert stats["skipped"] == 1 and stats["sent"] == 5


def test_patients_without_consent_or_unsubscribed_are_skipped_at_release(clinic: Clinic, smtp_server: Any) -> None:
    no_consent, unsubscribed = clinic.patients[0], clinic.patients[1]
    patient_services.patient_update(actor=clinic.admin, patient=no_consent, changes={"marketing_consent": False})
    OptOut.objects.create(organisation=clinic.org, patient=unsubscribed, channel="email")
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)
    reasons = dict(
        CampaignRecipient.objects.filter(campaign=campaign, state="skipped").values_list("patient", "reason")
    )
    assert reasons == {no_consent.pk: "no_consent", unsubscribed.pk: "opted_out"}
    assert no_consent.email not in _received(smtp_server) and unsubscribed.email not in _received(smtp_server)
    assert selectors.campaign_stats(campaign=campaign).figures["skipped"] == 2


def test_unsubscribe_link_records_the_opt_out_and_later_campaigns_skip_the_patient(
    clinic: Clinic, smtp_server: Any, client: Any
) -> None:
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)
    patient = clinic.patients[3]
    mail = next(m for m in smtp_server.messages if m["To"] == patient.email)
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    link = next(word for word in text.split() if "/notifications/unsubscribe/" in word)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert client.post(path).status_code == 200
    assert OptOut.objects.filter(patient=patient, channel="email").exists()
    assert selectors.campaign_stats(campaign=campaign).figures["unsubscribed"] == 1

    smtp_server.messages.clear()
    smtp_server.recipients.clear()
    second = clinic.campaign(name="Summer")
    services.campaign_start(actor=clinic.admin, campaign=second)
    run_until_done(second)
    assert patient.email not in _received(smtp_server) and len(smtp_server.messages) == 5


def test_tracking_image_marks_the_message_opened(clinic: Clinic, smtp_server: Any, client: Any) -> None:
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)
    mail = smtp_server.messages[0]
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    src = html.split('<img src="', 1)[1].split('"', 1)[0]
    path = "/" + src.split("://", 1)[1].split("/", 1)[1]
    assert "/notifications/o/" in path and path.endswith(".gif")
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    client.get(path)  # a second load changes nothing
    message = Message.objects.get(pk=int(mail["X-Kabinet-Message"]))
    assert message.state == Message.State.READ and message.read_at is not None
    assert selectors.campaign_stats(campaign=campaign).figures["opened"] == 1
    assert client.get(path.replace(".gif", "x.gif")).status_code == 404


def test_throttle_releases_a_ticks_share_and_never_more_than_the_rate_a_minute(clinic: Clinic, settings: Any) -> None:
    settings.NOTIFICATIONS_TICK_SECONDS = 5
    campaign = clinic.campaign(rate_per_minute=24)  # 2 a tick of 5 seconds
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    now = timezone.now()
    assert services.campaign_release(campaign_id=campaign.pk, now=now).queued == 2
    assert services.campaign_release(campaign_id=campaign.pk, now=now + timedelta(seconds=5)).queued == 2
    campaign.rate_per_minute = 4
    campaign.save(update_fields=["rate_per_minute"])
    # 4 released within the last minute: the rate is used up until they age out of the window.
    assert services.campaign_release(campaign_id=campaign.pk, now=now + timedelta(seconds=10)).queued == 0
    assert services.campaign_release(campaign_id=campaign.pk, now=now + timedelta(seconds=61)).queued == 1


def test_sms_waits_for_the_end_of_quiet_hours_in_the_clinics_zone(clinic: Clinic, settings: Any) -> None:
    """Quiet hours 21:00-08:00 are the clinic's evening, not the server's: at 22:00 in Tokyo (13:00 UTC, the server's
    zone) the SMS waits until 08:00 Tokyo time."""
    settings.TIME_ZONE = "UTC"
    LocationFactory.create(organisation=clinic.org, time_zone="Asia/Tokyo")
    ReminderPolicy.objects.filter(organisation=clinic.org).update(quiet_hours_start=time(21), quiet_hours_end=time(8))
    campaign = clinic.campaign(channels=["sms"], subject="")
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    evening = datetime.combine(timezone.localdate() + timedelta(days=1), time(22), tzinfo=tokyo)
    assert services.campaign_release(campaign_id=campaign.pk, now=evening, budget=10).queued == len(clinic.patients)
    due = {m.next_attempt_at for m in Message.objects.filter(ref_type="campaign", ref_id=str(campaign.pk))}
    assert due == {datetime.combine(evening.date() + timedelta(days=1), time(8), tzinfo=tokyo)}


def test_a_future_start_releases_nothing_before_its_time(clinic: Clinic) -> None:
    start = timezone.now() + timedelta(hours=2)
    campaign = clinic.campaign(start_at=start)
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    assert services.campaign_release_due() == {}
    assert services.campaign_release_due(now=start + timedelta(seconds=1))[campaign.pk].queued > 0


def test_pause_releases_nothing_and_resume_sends_the_remainder_exactly_once(clinic: Clinic, smtp_server: Any) -> None:
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    services.campaign_release(campaign_id=campaign.pk, budget=2)
    dispatch_due()
    assert len(smtp_server.messages) == 2
    services.campaign_pause(actor=clinic.coordinator, campaign=campaign)
    for _ in range(3):
        assert services.campaign_release(campaign_id=campaign.pk, budget=100).queued == 0
        dispatch_due()
    assert len(smtp_server.messages) == 2
    assert selectors.campaign_stats(campaign=campaign).figures["pending"] == 4
    services.campaign_resume(actor=clinic.coordinator, campaign=campaign)
    run_until_done(campaign)
    received = _received(smtp_server)
    assert len(received) == 6 and set(received.values()) == {1}
    assert [
        e.action
        for e in AuditEvent.objects.filter(object_type="campaigns.campaign", object_id=str(campaign.pk)).order_by("pk")
    ] == [
        "campaign.created",
        "campaign.started",
        "campaign.paused",
        "campaign.resumed",
        "campaign.completed",
    ]


def test_cancel_cancels_queued_messages_and_unreleased_recipients(clinic: Clinic, smtp_server: Any) -> None:
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    services.campaign_release(campaign_id=campaign.pk, budget=3)
    services.campaign_cancel(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)
    assert smtp_server.messages == []
    stats = selectors.campaign_stats(campaign=campaign).figures
    assert stats["cancelled"] == 6 and stats["sent"] == 0 and stats["queued"] == 0
    assert set(Message.objects.filter(ref_type="campaign").values_list("state", flat=True)) == {"cancelled"}
    with pytest.raises(Conflict):
        services.campaign_resume(actor=clinic.admin, campaign=campaign)


def test_invalid_addresses_are_marked_invalid_and_never_sent(clinic: Clinic, smtp_server: Any, settings: Any) -> None:
    settings.SMS_URL = "console://"
    broken = clinic.patients[4]
    type(broken).objects.filter(pk=broken.pk).update(email="not-an-address", phone="+1234")
    campaign = clinic.campaign(channels=["email", "sms"])
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)
    assert set(Message.objects.filter(patient=broken, ref_type="campaign").values_list("state", flat=True)) == {
        "invalid"
    }
    assert "not-an-address" not in _received(smtp_server) and len(smtp_server.messages) == 5
    campaign.refresh_from_db()
    stats = selectors.campaign_stats(campaign=campaign).figures
    assert stats == {
        "audience": 6,
        "pending": 0,
        "queued": 0,
        "sent": 10,
        "delivered": 0,
        "opened": 0,
        "bounced": 0,
        "failed": 0,
        "invalid": 2,
        "skipped": 0,
        "unsubscribed": 0,
        "cancelled": 0,
    }


def test_only_administrators_and_coordinators_run_campaigns_and_text_is_checked(clinic: Clinic) -> None:
    with pytest.raises(NotAllowed):
        services.campaign_create(
            actor=clinic.doctor, organisation=clinic.org, name="x", segment=clinic.segment, channels=["email"],
            subject="s", body="b",
        )  # fmt: skip
    campaign = services.campaign_create(
        actor=clinic.coordinator, organisation=clinic.org, name="Ok", segment=clinic.segment, channels=["sms"],
        body="Hi {{ patient.first_name }}",
    )  # fmt: skip
    with pytest.raises(NotAllowed):
        services.campaign_pause(actor=clinic.doctor, campaign=campaign)
    with pytest.raises(Invalid) as refused:
        clinic.campaign(body="Hi {{ patient.password }}")
    assert "body" in refused.value.errors


def test_the_dispatcher_checks_opt_outs_of_any_marketing_message(clinic: Clinic, smtp_server: Any) -> None:
    patient = clinic.patients[0]
    [message] = notification_services.schedule(
        organisation=clinic.org,
        event="campaign.message",
        key="offer:1",
        context={"subject": "Offer", "text": "Hello", "clinic": {"name": "Alpha"}},
        patient=patient,
        channels=["email"],
    )
    OptOut.objects.create(organisation=clinic.org, patient=patient, channel="email")
    assert dispatch_due().withheld == 1
    message.refresh_from_db()
    assert message.state == "cancelled" and message.error_code == "opted_out" and smtp_server.messages == []
