"""Scheduling outbox messages: channel choice with fallback, invalid addresses, idempotency, language, quiet hours,
cancellation by prefix, and the patient's timeline."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from kabinet.notifications import rendering, services
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import Message, PushSubscription, ReminderPolicy
from kabinet.patients.models import TimelineEntry
from tests.factories import PatientFactory, UserFactory, member

SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")
CONTEXT = {"subject": "Saturday hours", "text": "We are open on Saturday.", "clinic": {"name": "Alpha Clinic"}}


@pytest.fixture(autouse=True)
def _sms_on(settings: Any) -> None:
    settings.SMS_URL = "console://"


def _send(patient: Any, key: str = "news:1", **kwargs: Any) -> list[Message]:
    return services.schedule(
        organisation=patient.organisation, event="message.custom", key=key, context=CONTEXT, patient=patient, **kwargs
    )


@pytest.mark.django_db
def test_preferred_channel_is_used_and_missing_addresses_fall_back(org, no_quiet_hours) -> None:
    sms_first = PatientFactory.create(organisation=org, phone="+359888123456", email="a@example.org")
    [message] = _send(sms_first)
    assert message.channel == "sms" and message.address == "+359888123456"  # push has no subscription: next is SMS

    email_lover = PatientFactory.create(
        organisation=org, phone="+359888123457", email="b@example.org", preferred_channel="email"
    )
    assert [m.channel for m in _send(email_lover, key="news:2")] == ["email"]

    no_phone = PatientFactory.create(organisation=org, email="c@example.org", preferred_channel="sms")
    assert [m.channel for m in _send(no_phone, key="news:3")] == ["email"]

    unreachable = PatientFactory.create(organisation=org)
    assert _send(unreachable, key="news:4") == []


@pytest.mark.django_db
def test_push_is_first_when_the_patient_has_a_subscribed_device(org, vapid, no_quiet_hours) -> None:
    user = UserFactory.create()
    patient = PatientFactory.create(organisation=org, user=user, phone="+359888123456", preferred_channel="push")
    PushSubscription.objects.create(user=user, endpoint="https://push.example/1", p256dh="k", auth="a")
    channels = [m.channel for m in _send(patient)]
    assert channels == ["push", "inapp"]  # plus the copy in the portal's bell for a patient with an account


@pytest.mark.django_db
def test_sms_channel_is_skipped_when_no_gateway_is_configured(org, settings, no_quiet_hours) -> None:
    settings.SMS_URL = ""
    patient = PatientFactory.create(organisation=org, phone="+359888123456", email="a@example.org")
    assert [m.channel for m in _send(patient)] == ["email"]


@pytest.mark.django_db
def test_malformed_phone_is_marked_invalid_never_sent_and_email_takes_over(org, smtp_server, no_quiet_hours) -> None:
    patient = PatientFactory.create(organisation=org, phone="+3598", email="a@example.org", preferred_channel="sms")
    invalid, email = _send(patient)
    assert (invalid.channel, invalid.state, invalid.error_code) == ("sms", "invalid", "invalid_address")
    assert email.channel == "email" and email.state == "queued"
    dispatch_due()
    invalid.refresh_from_db()
    assert invalid.state == "invalid" and invalid.attempts == 0
    assert len(smtp_server.messages) == 1
    entry = TimelineEntry.objects.get(patient=patient, ref_id=str(invalid.pk))
    assert entry.kind == "sms" and entry.data["status"] == "invalid"


@pytest.mark.django_db
def test_the_same_key_never_makes_a_second_message(org, no_quiet_hours) -> None:
    patient = PatientFactory.create(organisation=org, phone="+359888123456")
    first = _send(patient)
    again = _send(patient)
    assert [m.pk for m in again] == [m.pk for m in first]
    assert Message.objects.count() == 1
    with pytest.raises(ValueError, match="#"):
        _send(patient, key="bad#key")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [("ru", "Здравствуйте"), ("bg", "Здравейте"), ("en", "Hello"), ("", "Hello")],
)
def test_message_is_written_in_the_patients_language(org, no_quiet_hours, language, expected) -> None:
    patient = PatientFactory.create(organisation=org, email="a@example.org", language=language, given_name="Ana")
    start = datetime.combine(timezone.localdate() + timedelta(days=3), time(10, 30), tzinfo=SOFIA)
    context = {
        "patient": {"name": "Ana X", "first_name": "Ana"},
        "doctor": {"name": "Dr Who"},
        "service": {"name": rendering.Translated({"en": "Consultation", "ru": "Консультация"})},
        "location": {"name": "Central", "address": ""},
        "clinic": {"name": "Alpha"},
        "links": {"portal": "http://x/my/"},
        "time": start,
    }
    [message] = services.schedule(
        organisation=org,
        event="appointment.reminder",
        key="r",
        context=context,
        patient=patient,
        time_zone="Europe/Sofia",
    )
    assert message.language == (language or "en")
    assert expected in message.body
    assert "10:30" in message.body  # the visit's time in the location's zone, not UTC
    if language == "ru":
        assert "Консультация" in message.body and "Напоминание" in message.subject


@pytest.mark.django_db
def test_organisation_default_language_applies_when_the_patient_has_none(org, no_quiet_hours) -> None:
    org.default_language = "bg"
    org.save()
    patient = PatientFactory.create(organisation=org, email="a@example.org", language="")
    [message] = services.schedule(
        organisation=org,
        event="appointment.cancelled",
        key="c",
        context={"time": timezone.now() + timedelta(days=1), "clinic": {"name": "Alpha"}},
        patient=patient,
    )
    assert message.language == "bg" and "отменено" in message.subject


def _policy(org: Any, start: time, end: time) -> ReminderPolicy:
    policy = services.reminder_policy(org.pk)
    policy.quiet_hours_start, policy.quiet_hours_end = start, end
    policy.save()
    return policy


@pytest.mark.django_db
def test_sms_due_in_quiet_hours_waits_for_their_end_but_email_does_not(org) -> None:
    _policy(org, time(21), time(8))
    patient = PatientFactory.create(organisation=org, phone="+359888123456", email="a@example.org")
    late_evening = datetime.combine(timezone.localdate() + timedelta(days=5), time(23, 15), tzinfo=SOFIA)
    [sms] = _send(patient, due_at=late_evening, time_zone="Europe/Sofia")
    assert sms.channel == "sms"
    assert sms.due_at == datetime.combine(late_evening.date() + timedelta(days=1), time(8), tzinfo=SOFIA)
    assert "quiet hours" in sms.events.get().detail

    patient.preferred_channel = "email"
    patient.save()
    [email] = _send(patient, key="news:2", due_at=late_evening, time_zone="Europe/Sofia")
    assert email.channel == "email" and email.due_at == late_evening


@pytest.mark.django_db
def test_a_reminder_that_would_come_after_the_visit_goes_out_before_the_quiet_hours(org) -> None:
    _policy(org, time(21), time(8))
    patient = PatientFactory.create(organisation=org, phone="+359888123456")
    visit = datetime.combine(timezone.localdate() + timedelta(days=5), time(8), tzinfo=SOFIA)
    [sms] = _send(patient, due_at=visit - timedelta(hours=2), expires_at=visit, time_zone="Europe/Sofia")
    assert sms.due_at == datetime.combine(visit.date() - timedelta(days=1), time(20, 55), tzinfo=SOFIA)


@pytest.mark.django_db
def test_quiet_hours_can_be_waived_for_a_message_the_patient_waits_for(org) -> None:
    now_local = timezone.now().astimezone(SOFIA)
    _policy(org, (now_local - timedelta(hours=1)).time(), (now_local + timedelta(hours=1)).time())
    patient = PatientFactory.create(organisation=org, phone="+359888123456")
    [held] = _send(patient, time_zone="Europe/Sofia")
    [waived] = _send(patient, key="news:2", time_zone="Europe/Sofia", quiet_hours=False)
    assert held.due_at > timezone.now() + timedelta(minutes=30)
    assert waived.due_at <= timezone.now()


@pytest.mark.django_db
def test_cancel_by_prefix_cancels_queued_messages_and_frees_their_keys(org, no_quiet_hours) -> None:
    patient = PatientFactory.create(organisation=org, phone="+359888123456")
    later = timezone.now() + timedelta(days=1)
    _send(patient, key="appt:1:reminder:60:x", due_at=later)
    _send(patient, key="appt:1:reminder:1440:x", due_at=later)
    other = _send(patient, key="appt:10:reminder:60:x", due_at=later)
    assert services.cancel(organisation_id=org.pk, prefix="appt:1:reminder:", reason="moved") == 2
    assert Message.objects.filter(state="cancelled").count() == 2
    assert Message.objects.get(pk=other[0].pk).state == "queued"  # appt:10 is not appt:1
    [again] = _send(patient, key="appt:1:reminder:60:x", due_at=later)
    assert again.state == "queued" and again.idempotency_key == "appt:1:reminder:60:x#sms"


@pytest.mark.django_db
def test_the_prefix_search_of_keys_has_exactly_one_pattern_index_on_postgresql() -> None:
    """cancel(prefix=...) is a LIKE 'prefix%'. PostgreSQL serves it from the varchar_pattern_ops index that the
    unique key brings; a second such index (there was one) only slows every insert into the outbox."""
    if connection.vendor != "postgresql":
        pytest.skip("operator classes are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [Message._meta.db_table, "%(idempotency_key varchar_pattern_ops)%"],
        )
        assert len(cursor.fetchall()) == 1


@pytest.mark.django_db
def test_a_message_due_after_it_stops_making_sense_is_not_written(org, no_quiet_hours) -> None:
    patient = PatientFactory.create(organisation=org, phone="+359888123456")
    now = timezone.now()
    assert _send(patient, due_at=now + timedelta(hours=2), expires_at=now + timedelta(hours=1)) == []


@pytest.mark.django_db
def test_staff_user_gets_an_in_app_notice_in_their_language(org, make_user, no_quiet_hours) -> None:
    doctor = make_user("doctor", organisation=org, language="ru")
    member(doctor, org, "doctor")
    [note] = services.schedule(
        organisation=org, event="message.custom", key="staff:1", context=CONTEXT, user=doctor, channels=["inapp"]
    )
    assert note.channel == "inapp" and note.language == "ru" and note.address == str(doctor.pk)
