"""Front-desk pages: the board, the worklists with their outcome buttons (htmx partials), the waiting list, reports
and CSV, the next visit with its card; who sees what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kabinet.accounts.models import User
from kabinet.audit.models import AuditEvent
from kabinet.frontdesk.models import FrontDeskPolicy, RecallRule, Refusal, WaitlistEntry, WorklistItem
from kabinet.frontdesk.services.worklists import confirmations_generate
from kabinet.notifications.models import Message
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_set_status
from tests.frontdesk.conftest import Desk

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


@pytest.fixture
def item(desk: Desk) -> WorklistItem:
    desk.book(desk.petya, 9)
    confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)
    return WorklistItem.objects.get()


def test_the_board_shows_the_days_progress(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    client = login_client(desk.registrar)
    page = client.get(f"/frontdesk/?date={desk.call_day}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Confirmation calls" in text and "Next to call" in text and "Patient Petya" in text
    assert 'hx-trigger="refresh"' in text and "every 20s" not in text  # refreshed live (board.js), not polled
    assert f'data-organisation="{desk.org.pk}"' in text and "frontdesk/board.js" in text
    panel = client.get(f"/frontdesk/board/?date={desk.call_day}")
    assert panel.status_code == 200
    assert 'data-total="1"' in panel.content.decode()


def test_the_lists_reload_their_live_part_only(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    client = login_client(desk.registrar)
    for url in ("/frontdesk/confirmations/", "/frontdesk/waitlist/"):
        page = client.get(f"{url}?date={desk.call_day}").content.decode()
        assert 'id="fd-live"' in page and "frontdesk/board.js" in page
        assert f'hx-get="{url}?date={desk.call_day}&amp;panel=1"' in page
        panel = client.get(f"{url}?date={desk.call_day}&panel=1").content.decode()
        assert "<html" not in panel and 'class="fd-list"' in panel
    panel = client.get(f"/frontdesk/confirmations/?date={desk.call_day}&panel=1").content.decode()
    assert f'id="item-{item.pk}"' in panel
    waiting = client.get(f"/frontdesk/waitlist/?date={desk.call_day}&panel=1").content.decode()
    assert "Put a patient on the waiting list" not in waiting  # the form being typed in stays as it is


def test_the_confirmation_list_has_keyboard_outcome_buttons(
    desk: Desk, item: WorklistItem, login_client: Login
) -> None:
    page = login_client(desk.registrar).get(f"/frontdesk/confirmations/?date={desk.call_day}")
    text = page.content.decode()
    assert f'id="item-{item.pk}"' in text
    for key in ('data-key="c"', 'data-key="n"', 'data-key="w"', 'data-key="b"', 'data-key="x"'):
        assert key in text
    assert "frontdesk/worklist.js" in text


def test_doctors_see_the_lists_without_buttons_and_patients_not_at_all(
    desk: Desk, item: WorklistItem, login_client: Login
) -> None:
    page = login_client(desk.doctor_user).get(f"/frontdesk/confirmations/?date={desk.call_day}")
    assert page.status_code == 200
    assert "Patient Petya" in page.content.decode()
    assert 'data-key="c"' not in page.content.decode()
    assert (
        login_client(desk.doctor_user)
        .post(f"/frontdesk/items/{item.pk}/attempt/", {"outcome": "confirmed"})
        .status_code
        == 403
    )
    assert login_client(desk.clinic.patient_user).get("/frontdesk/").status_code == 403
    assert (
        login_client(desk.outsider).post(f"/frontdesk/items/{item.pk}/attempt/", {"outcome": "confirmed"}).status_code
        == 404
    )
    assert Client().get("/frontdesk/").status_code == 302  # to the login page


def test_an_outcome_through_htmx_returns_the_updated_row(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    client = login_client(desk.operator)
    response = client.post(
        f"/frontdesk/items/{item.pk}/attempt/", {"outcome": "no_answer", "note": "busy"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert text.lstrip().startswith("<article") and f'id="item-{item.pk}"' in text
    assert "no answer" in text and "busy" in text
    item.refresh_from_db()
    assert item.attempts == 1


def test_a_closed_row_answers_with_the_reason(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    client = login_client(desk.operator)
    client.post(f"/frontdesk/items/{item.pk}/attempt/", {"outcome": "confirmed"}, headers={"HX-Request": "true"})
    again = client.post(
        f"/frontdesk/items/{item.pk}/attempt/", {"outcome": "no_answer"}, headers={"HX-Request": "true"}
    )
    assert "already closed" in again.content.decode()
    plain = client.post(f"/frontdesk/items/{item.pk}/attempt/", {"outcome": "no_answer"})
    assert plain.status_code == 302  # without JavaScript: back to the list, with the message


def test_cancel_with_refusal_from_the_page(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    response = login_client(desk.registrar).post(
        f"/frontdesk/items/{item.pk}/attempt/",
        {
            "outcome": "cancelled",
            "follow_up": "refusal",
            "cancel_reason": desk.clinic.cancel_reason.pk,
            "refusal_reason": desk.refusal_reason.pk,
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert Refusal.objects.count() == 1
    assert Patient.objects.get(pk=desk.petya.pk).status == "refusal"


def test_call_back_time_is_read_in_the_locations_zone(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    login_client(desk.operator).post(
        f"/frontdesk/items/{item.pk}/attempt/",
        {"outcome": "call_back", "callback_at": f"{desk.visit_day}T08:15"},
        headers={"HX-Request": "true"},
    )
    item.refresh_from_db()
    assert item.next_call_at == desk.at(desk.visit_day, 8, 15)


def test_the_waiting_list_page_adds_and_removes_entries(desk: Desk, login_client: Login) -> None:
    client = login_client(desk.registrar)
    page = client.get(f"/frontdesk/waitlist/?patient={desk.anna.pk}")
    assert page.status_code == 200
    assert "Ivanova Anna" in page.content.decode()
    choices = client.get("/frontdesk/waitlist/patients/?q=Ivanova")
    assert f'value="{desk.anna.pk}"' in choices.content.decode()
    added = client.post(
        "/frontdesk/waitlist/add/",
        {
            "patient": desk.anna.pk,
            "service": desk.clinic.service.pk,
            "practitioners": [desk.clinic.doctor.pk],
            "weekdays": ["0", "2"],
            "time_from": "09:00",
            "note": "mornings",
        },
    )
    assert added.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.weekdays, entry.note) == (desk.anna, [0, 2], "mornings")
    assert "mornings" in client.get("/frontdesk/waitlist/").content.decode()
    invalid = client.post("/frontdesk/waitlist/add/", {"service": desk.clinic.service.pk})
    assert invalid.status_code == 422
    client.post(f"/frontdesk/waitlist/{entry.pk}/remove/")
    entry.refresh_from_db()
    assert entry.state == "removed"


def test_the_recall_page_lists_rules_and_due_calls(desk: Desk, login_client: Login) -> None:
    RecallRule.objects.create(organisation=desk.org, service=desk.clinic.service, after_days=1, name="Next-day call")
    page = login_client(desk.registrar).get("/frontdesk/recall/")
    assert page.status_code == 200
    assert "Next-day call" in page.content.decode()


def test_reports_and_their_csv(desk: Desk, login_client: Login) -> None:
    no_show = desk.book(desk.petya, 9)
    desk.book(desk.anna, 10)
    appointment_set_status(
        actor=desk.registrar,
        appointment=no_show,
        status=Appointment.Status.NO_SHOW,
        reason_id=desk.clinic.no_show_reason.pk,
    )
    Refusal.objects.create(organisation=desk.org, patient=desk.ivan, reason=desk.refusal_reason, note="x")
    Patient.objects.filter(pk=desk.ivan.pk).update(status="refusal", status_reason="Too expensive")
    client = login_client(desk.registrar)
    span = f"start={desk.call_day}&end={desk.visit_day + timedelta(days=1)}"

    page = client.get(f"/frontdesk/reports/?report=no_shows&by=doctor&{span}")
    text = page.content.decode()
    assert page.status_code == 200 and "Dr Dana" in text and "50.0" in text
    by_service = client.get(f"/frontdesk/reports/?report=no_shows&by=service&{span}").content.decode()
    assert "Consultation" in by_service
    csv = client.get(f"/frontdesk/reports/?report=no_shows&{span}&format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("date,time,patient")
    assert "Patient Petya" in lines[1] and "Did not come" in lines[1]

    refusals = client.get(f"/frontdesk/reports/?report=refusals&start={timezone.localdate()}").content.decode()
    assert "Too expensive" in refusals
    outside = client.get("/frontdesk/reports/?report=outside&format=csv").content.decode("utf-8-sig")
    assert "Petrov Ivan" in outside and "refusal" in outside
    assert AuditEvent.objects.filter(action="frontdesk.report_exported").count() == 2
    bad = client.get("/frontdesk/reports/?report=no_shows&start=2030-01-10&end=2030-01-01")
    assert bad.status_code == 200 and "before the start" in bad.content.decode()


def test_next_visit_in_two_clicks_with_the_card(desk: Desk, login_client: Login, sms: None) -> None:
    visit = desk.book(desk.petya, 9)
    client = login_client(desk.registrar)
    page = client.get(f"/frontdesk/visits/{visit.pk}/next/?weeks=0")
    assert page.status_code == 200
    text = page.content.decode()
    start = text.split('name="start" value="')[1].split('"')[0]
    booked = client.post(f"/frontdesk/visits/{visit.pk}/next/", {"start": start})
    assert booked.status_code == 302
    new = Appointment.objects.exclude(pk=visit.pk).get()
    assert (new.patient, new.practitioner, new.service) == (desk.petya, desk.clinic.doctor, desk.clinic.service)
    after = client.get(booked["Location"]).content.decode()
    assert f"/frontdesk/visits/{new.pk}/card.pdf" in after

    pdf = client.get(f"/frontdesk/visits/{new.pk}/card.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    client.post(f"/frontdesk/visits/{new.pk}/card/sms/")
    card = Message.objects.get(event="frontdesk.visit_card")
    assert (card.channel, card.patient) == ("sms", desk.petya)
    assert login_client(desk.outsider).get(f"/frontdesk/visits/{new.pk}/next/").status_code == 404


def test_the_calendar_hands_the_arrival_to_the_front_desk(desk: Desk, login_client: Login) -> None:
    page = login_client(desk.registrar).get("/calendar/")
    assert b'"arrive": "appointments/{id}/arrive"' in page.content
    assert b"visit-prompts" in page.content


def test_administrators_set_the_rules_reasons_and_recall_rules(desk: Desk, login_client: Login) -> None:
    client = login_client(desk.admin)
    assert client.get("/frontdesk/settings/").status_code == 200
    assert login_client(desk.registrar).get("/frontdesk/settings/").status_code == 403
    saved = client.post(
        "/frontdesk/settings/",
        {
            "form": "policy",
            "call_windows": '[["10:00", "13:00", 1], ["17:00", "19:00", 2]]',
            "retry_gap_minutes": 30,
            "sms_when_unreachable": "on",
            "late_notify_from_minutes": 5,
            "late_reschedule_from_minutes": 20,
            "recheck_details_after_months": 6,
            "passive_after_months": 18,
            "offer_valid_hours": 12,
            "offers_per_slot": 3,
            "next_visit_weeks": 2,
        },
    )
    assert saved.status_code == 302
    policy = FrontDeskPolicy.objects.get(organisation=desk.org)
    assert (policy.late_reschedule_from_minutes, policy.offer_by_message, policy.call_windows[0][0]) == (
        20,
        False,
        "10:00",
    )
    assert AuditEvent.objects.filter(action="frontdesk.policy_changed").count() == 1
    bad = client.post(
        "/frontdesk/settings/",
        {
            "form": "policy",
            "call_windows": '[["16:00", "11:00", 2]]',
            "retry_gap_minutes": 30,
            "late_notify_from_minutes": 1,
            "late_reschedule_from_minutes": 15,
            "recheck_details_after_months": 6,
            "passive_after_months": 12,
            "offer_valid_hours": 24,
            "offers_per_slot": 5,
            "next_visit_weeks": 4,
        },
    )
    assert bad.status_code == 422

    client.post("/frontdesk/settings/", {"form": "reason", "name": "Fear of needles", "name_ru": "Боится уколов"})
    assert client.post("/frontdesk/settings/", {"form": "reason", "name": "Fear of needles"}).status_code == 422
    reason = desk.org.refusal_reasons.get(name="Fear of needles")
    client.post("/frontdesk/settings/", {"form": "reason_active", "id": reason.pk, "active": "0"})
    reason.refresh_from_db()
    assert not reason.is_active
    client.post(
        "/frontdesk/settings/",
        {"form": "rule", "service": desk.clinic.service.pk, "kind": "visit", "after_days": 90, "name": "Control"},
    )
    assert RecallRule.objects.get(organisation=desk.org).after_days == 90
