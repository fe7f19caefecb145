"""Automatic notifications through the scheduling services: a booking confirms (email with .ics) and plans
reminders at the clinic's offsets; a move re-plans them, a cancellation cancels them; all in the patient's
language, and all in the same transaction as the change."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import InAppNotification, Message
from kabinet.scheduling import services as scheduling
from kabinet.scheduling.availability import SlotTaken
from tests.fixtures.clinic import Clinic

SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")


@pytest.fixture
def reachable(clinic: Clinic, settings: Any, no_quiet_hours: Any) -> Clinic:
    settings.SMS_URL = "console://"
    patient = clinic.patient
    patient.phone, patient.email, patient.preferred_channel = "+359888123456", "petya@example.org", "sms"
    patient.save()
    return clinic


def _stamp(moment: datetime) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


def _book(clinic: Clinic, hour: int = 10, actor: Any = None) -> Any:
    return scheduling.appointment_book(
        actor=actor or clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(hour),
    )


def _live(appointment: Any) -> dict[str, Message]:
    rows = Message.objects.filter(ref_type="scheduling.appointment", ref_id=str(appointment.pk)).exclude(
        state="cancelled"
    )
    return {m.idempotency_key: m for m in rows}


@pytest.mark.django_db
def test_booking_confirms_and_plans_reminders_at_the_clinics_offsets(reachable) -> None:
    appointment = _book(reachable)
    stamp = _stamp(appointment.start)
    live = _live(appointment)
    assert set(live) == {
        f"appt:{appointment.pk}:booked:{stamp}#sms",
        f"appt:{appointment.pk}:booked:{stamp}#inapp",
        f"appt:{appointment.pk}:reminder:1440:{stamp}#sms",
        f"appt:{appointment.pk}:reminder:1440:{stamp}#inapp",
        f"appt:{appointment.pk}:reminder:120:{stamp}#sms",
        f"appt:{appointment.pk}:reminder:120:{stamp}#inapp",
    }
    reminder = live[f"appt:{appointment.pk}:reminder:120:{stamp}#sms"]
    assert reminder.due_at == appointment.start - timedelta(hours=2) and reminder.expires_at == appointment.start
    assert "Consultation" in reminder.body and "10:00" in reminder.body  # in the location's zone
    confirmation = live[f"appt:{appointment.pk}:booked:{stamp}#sms"]
    assert confirmation.due_at <= timezone.now()
    assert confirmation.user_id == reachable.patient_user.pk


@pytest.mark.django_db
def test_email_confirmation_carries_the_ics_and_arrives_over_smtp(reachable, smtp_server) -> None:
    reachable.patient.preferred_channel = "email"
    reachable.patient.save()
    appointment = _book(reachable)
    report = dispatch_due()
    assert report.sent == 2  # the email and the in-app copy; reminders are not due yet
    [mail] = smtp_server.messages
    assert mail["Subject"].startswith("Your visit on")
    [ics] = [part for part in mail.walk() if part.get_content_type() == "text/calendar"]
    content = ics.get_payload(decode=True).decode()
    assert f"UID:appointment-{appointment.pk}-" in content and "Visit: Consultation" in content
    assert InAppNotification.objects.filter(user=reachable.patient_user).count() == 1


@pytest.mark.django_db
def test_moving_a_visit_cancels_old_reminders_plans_new_ones_and_tells_the_patient(reachable) -> None:
    appointment = _book(reachable)
    old = _stamp(appointment.start)
    moved = scheduling.appointment_move(actor=reachable.registrar, appointment=appointment, start=reachable.at(12))
    new = _stamp(moved.start)
    live = _live(moved)
    assert not [k for k in live if f"reminder:1440:{old}" in k or f"reminder:120:{old}" in k]
    assert f"appt:{moved.pk}:reminder:1440:{new}#sms" in live and f"appt:{moved.pk}:reminder:120:{new}#sms" in live
    notice = live[f"appt:{moved.pk}:moved:{new}#sms"]
    assert "12:00" in notice.body
    cancelled = Message.objects.filter(ref_id=str(moved.pk), state="cancelled", idempotency_key__contains=old)
    assert cancelled.count() == 6  # confirmation and two reminders, each on SMS and in-app
    # Moving back plans the original reminders again (a cancelled key is free to use).
    back = scheduling.appointment_move(actor=reachable.registrar, appointment=moved, start=reachable.at(10))
    assert f"appt:{back.pk}:reminder:120:{old}#sms" in _live(back)


@pytest.mark.django_db
def test_cancelling_a_visit_cancels_its_reminders_and_sends_a_cancellation(reachable) -> None:
    appointment = _book(reachable)
    scheduling.appointment_cancel(
        actor=reachable.registrar, appointment=appointment, reason_id=reachable.cancel_reason.pk
    )
    live = _live(appointment)
    assert set(live) == {f"appt:{appointment.pk}:cancelled#sms", f"appt:{appointment.pk}:cancelled#inapp"}
    assert "cancelled" in live[f"appt:{appointment.pk}:cancelled#sms"].body
    dispatch_due()
    assert Message.objects.filter(ref_id=str(appointment.pk), state="sent").count() == 1
    assert not Message.objects.filter(ref_id=str(appointment.pk), event="appointment.reminder", state="sent").exists()


@pytest.mark.django_db
def test_a_no_show_cancels_the_remaining_reminders(reachable) -> None:
    appointment = _book(reachable)
    scheduling.appointment_set_status(
        actor=reachable.registrar,
        appointment=appointment,
        status="no_show",
        reason_id=reachable.no_show_reason.pk,
    )
    assert not [k for k in _live(appointment) if ":reminder:" in k]


@pytest.mark.django_db
def test_messages_are_in_the_patients_language(reachable) -> None:
    reachable.patient.language = "ru"
    reachable.patient.save()
    appointment = _book(reachable)
    texts = [m.body for m in _live(appointment).values() if m.channel == "sms"]
    assert texts and all("визит" in t or "записаны" in t for t in texts), texts


@pytest.mark.django_db
def test_messages_roll_back_with_a_failed_booking(reachable) -> None:
    _book(reachable)
    before = Message.objects.count()
    with pytest.raises(SlotTaken):
        _book(reachable)  # the same doctor at the same time
    assert Message.objects.count() == before


@pytest.mark.django_db
def test_pending_online_bookings_notify_only_once_approved(reachable) -> None:
    from kabinet.scheduling.services import booking_policy

    policy = booking_policy(reachable.org.pk)
    policy.online_requires_approval = True
    policy.save()
    appointment = _book(reachable, actor=reachable.patient_user)
    assert appointment.status == "pending" and _live(appointment) == {}
    scheduling.appointment_set_status(actor=reachable.registrar, appointment=appointment, status="scheduled")
    assert any(":booked:" in k for k in _live(appointment))


@pytest.mark.django_db
def test_quiet_hours_hold_staff_news_but_not_the_patients_own_booking(reachable, settings) -> None:
    from kabinet.notifications.services import reminder_policy

    now_local = timezone.now().astimezone(SOFIA)
    policy = reminder_policy(reachable.org.pk)
    policy.quiet_hours_start = (now_local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    policy.quiet_hours_end = (now_local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    policy.reminder_offsets = []
    policy.save()
    by_staff = _book(reachable, hour=10)
    by_patient = _book(reachable, hour=12, actor=reachable.patient_user)
    staff_sms = next(m for m in _live(by_staff).values() if m.channel == "sms")
    patient_sms = next(m for m in _live(by_patient).values() if m.channel == "sms")
    assert staff_sms.due_at > timezone.now() + timedelta(minutes=30)
    assert patient_sms.due_at <= timezone.now()
    assert time(0) <= policy.quiet_hours_end  # (sanity: the window is a plain time range)
