"""A registrar's morning in headless Chromium against uvicorn over the test database: the confirmation list with
three outcomes (one from the keyboard), a cancellation whose freed time is offered to the waiting list and taken by
the patient through the link in the message, and an arrival from the calendar with a late warning. And a second
registrar's board that follows the outcomes live, without a reload."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from kabinet.core.models import Role
from kabinet.frontdesk.models import Arrival, WaitlistEntry, WaitlistOffer, WorklistItem
from kabinet.frontdesk.services import waitlist
from kabinet.frontdesk.services.worklists import confirmations_generate
from kabinet.notifications.models import Message
from kabinet.scheduling.models import Appointment
from tests.browser.helpers import log_in
from tests.factories import LocationFactory, PatientFactory
from tests.frontdesk.conftest import Desk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_channel_layer_in_the_test_process(settings: Any) -> None:
    """Rows made here through services would announce themselves on this process's channel layer, from a thread where
    Playwright keeps an event loop; the pages listen to the server process anyway."""
    settings.CHANNEL_LAYERS = {}


def working_zone(now: datetime) -> str:
    """A fixed-offset zone where it is now between 10:00 and 17:00, so the calendar (08:00-20:00) shows a visit
    that started a few minutes ago whatever the hour the suite runs at."""
    for offset in range(-12, 15):
        if 10 <= (now + timedelta(hours=offset)).hour < 17:
            return f"Etc/GMT{-offset:+d}" if offset else "UTC"
    raise AssertionError("no zone found")


def test_a_registrars_morning(desk: Desk, browser_page: Callable[..., Page], asgi_server: str, password: str) -> None:
    clinic = desk.clinic
    petya, anna, ivan = desk.book(desk.petya, 9), desk.book(desk.anna, 10), desk.book(desk.ivan, 11)
    maria = PatientFactory.create(
        organisation=desk.org, family_name="Ivanova", given_name="Maria", email="maria@example.net", language="en"
    )
    waitlist.waitlist_add(
        actor=desk.registrar, patient=maria, service=clinic.service, practitioners=[clinic.doctor], note="any time"
    )
    page = browser_page()
    log_in(page, desk.registrar.email or "", password)

    # The confirmation calls of the day, brought up to date on demand.
    page.goto(f"/frontdesk/confirmations/?date={desk.call_day}")
    expect(page.locator(".fd-item")).to_have_count(0)
    page.get_by_role("button", name="Bring the list up to date").click()
    rows = page.locator(".fd-item")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Patient Petya")

    # 1. Petya confirms: C on the focused row.
    first = page.locator(f"#item-{WorklistItem.objects.get(appointment=petya).pk}")
    first.focus()
    page.keyboard.press("c")
    expect(first.locator("[data-role=status]")).to_have_text(re.compile("confirmed"))
    expect(first.locator("[data-role=visit-status]")).to_have_text("confirmed")

    # 2. Anna does not answer: J moves to her row, N logs it; the row says when to call again.
    second = page.locator(f"#item-{WorklistItem.objects.get(appointment=anna).pk}")
    expect(first).to_be_focused()
    page.keyboard.press("j")
    expect(second).to_be_focused()
    page.keyboard.press("n")
    expect(second.locator("[data-role=status]")).to_contain_text("no answer")
    expect(second.locator(".fd-attempts")).to_contain_text("no answer")

    # 3. Ivan cancels and goes on the waiting list (with a call-back date).
    third = page.locator(f"#item-{WorklistItem.objects.get(appointment=ivan).pk}")
    third.get_by_text("Cancels the visit…").click()
    third.get_by_label("Put on the waiting list").check()
    third.get_by_label("Call back on").fill((desk.visit_day + timedelta(days=7)).isoformat())
    third.get_by_label("Cancellation reason (waiting list or refusal)").select_option(label="Patient asked")
    third.get_by_role("button", name="Save").click()
    expect(third.locator("[data-role=status]")).to_have_text(re.compile("cancelled · put on the waiting list"))

    ivan.refresh_from_db()
    petya.refresh_from_db()
    assert (petya.status, ivan.status) == ("confirmed", "cancelled")
    assert WaitlistEntry.objects.filter(patient=desk.ivan, state="waiting").exists()

    # The board counts the outcomes.
    page.goto(f"/frontdesk/?date={desk.call_day}")
    board = page.locator("#board-confirmations")
    expect(board.locator(".fd-done")).to_have_text("2")
    expect(board.locator('[data-outcome="confirmed"]')).to_contain_text("1")
    expect(board.locator('[data-outcome="cancelled"]')).to_contain_text("1")
    expect(board.locator('[data-outcome="no_answer"]')).to_contain_text("1")

    # Ivan's 11:00 went to Maria, who waits for it: a call for staff and an email with the booking link.
    offer = WaitlistOffer.objects.get(entry__patient=maria)
    assert offer.start == clinic.at(11)
    page.goto(f"/frontdesk/waitlist/?date={timezone.localdate(offer.created_at, clinic.location.zone)}")
    expect(page.locator(".fd-item", has_text="Ivanova Maria")).to_contain_text("Freed time offered")
    message = Message.objects.get(event="frontdesk.waitlist_offer", patient=maria)
    link = re.search(r"https?://\S+/my/offers/\S+/", message.body)
    assert link is not None
    path = "/my/offers/" + link.group(0).split("/my/offers/")[1]

    # Maria opens the link on her phone (no login) and takes the time in one click.
    phone = browser_page(viewport={"width": 390, "height": 800})
    phone.goto(path)
    expect(phone.get_by_role("heading", name="A time has become free")).to_be_visible()
    expect(phone.locator("#fd-offer")).to_contain_text("Consultation")
    assert not Appointment.objects.filter(patient=maria).exists()  # opening the link books nothing
    phone.get_by_role("button", name="Book this time").click()
    expect(phone.get_by_role("status")).to_contain_text("You are booked")
    booked = Appointment.objects.get(patient=maria)
    assert (booked.start, booked.practitioner, booked.status) == (clinic.at(11), clinic.doctor, "scheduled")
    assert WaitlistEntry.objects.get(patient=maria).state == "booked"
    phone.reload()  # a second visit says so and offers nothing more
    expect(phone.get_by_role("button", name="Book this time")).to_have_count(0)

    # An arrival from the calendar: the patient came seven minutes after the visit's start.
    now = timezone.now()
    zone_name = working_zone(now)
    branch = LocationFactory.create(organisation=desk.org, name="Branch", time_zone=zone_name)
    clinic.other_doctor.locations.add(branch)
    start = (now - timedelta(minutes=7)).replace(second=0, microsecond=0)
    late = Appointment.objects.create(
        organisation=desk.org,
        location=branch,
        practitioner=clinic.other_doctor,
        patient=desk.anna,
        service=clinic.service,
        start=start,
        end=start + timedelta(minutes=30),
        busy_start=start,
        busy_end=start + timedelta(minutes=30),
        status=Appointment.Status.CONFIRMED,
    )
    local_day = timezone.localtime(start, branch.zone).date()
    page.goto(f"/calendar/?location={branch.pk}&date={local_day}")
    expect(page.locator("#calendar-page")).to_have_attribute("data-state", "ready")
    page.locator(f'#ec [data-appointment-id="{late.pk}"]').click()
    panel = page.locator("#visit-dialog")
    panel.get_by_role("button", name="Arrived").click()
    prompts = panel.locator("#visit-prompts")
    expect(prompts).to_be_visible()
    expect(prompts.locator('[data-prompt="late"]')).to_contain_text(re.compile(r"\d+ minutes late"))
    expect(prompts).to_contain_text("The doctor has been told")
    expect(panel.locator("[data-field=status]")).to_have_text("arrived")
    # Checkout: the panel links to the next visit (same doctor and service).
    next_visit = panel.get_by_role("button", name="Next visit…")
    expect(next_visit).to_have_attribute("href", f"/frontdesk/visits/{late.pk}/next/")

    arrival = Arrival.objects.get(appointment=late)
    assert arrival.lateness == "late" and 7 <= arrival.late_minutes < 10
    late.refresh_from_db()
    assert late.status == Appointment.Status.ARRIVED
    notice = Message.objects.get(event="frontdesk.patient_late")
    assert (notice.channel, notice.user) == ("inapp", clinic.other_doctor.user)


def test_a_second_registrars_board_follows_the_outcomes_live(
    desk: Desk, browser_page: Callable[..., Page], make_user: Callable[..., Any], password: str
) -> None:
    desk.book(desk.petya, 9)
    desk.book(desk.anna, 10)
    confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)
    colleague = make_user(Role.REGISTRAR, organisation=desk.org, email="rita@example.org", full_name="Rita Registrar")

    watcher = browser_page()
    log_in(watcher, colleague.email or "", password)
    watcher.goto(f"/frontdesk/?date={desk.call_day}")
    board = watcher.locator("#fd-board")
    expect(board).to_have_attribute("data-live", f"frontdesk:{desk.org.pk}")  # subscribed over /ws/
    expect(board.locator("#board-confirmations .fd-done")).to_have_text("0")
    watcher.evaluate("window.sameDocument = true")  # gone if the page reloads

    caller = browser_page()
    log_in(caller, desk.registrar.email or "", password)
    caller.goto(f"/frontdesk/confirmations/?date={desk.call_day}")
    petya = caller.locator(f"#item-{WorklistItem.objects.get(appointment__patient=desk.petya).pk}")
    petya.get_by_role("button", name="Confirmed").click()
    expect(petya.locator("[data-role=status]")).to_have_text(re.compile("confirmed"))

    # Well within the fallback poll (30 s): the socket brought it.
    confirmations = board.locator("#board-confirmations")
    expect(confirmations.locator(".fd-done")).to_have_text("1", timeout=4000)
    expect(confirmations.locator('[data-outcome="confirmed"]')).to_contain_text("1")

    anna = caller.locator(f"#item-{WorklistItem.objects.get(appointment__patient=desk.anna).pk}")
    anna.get_by_role("button", name="No answer").click()
    expect(anna.locator("[data-role=status]")).to_contain_text("no answer")
    expect(confirmations.locator('[data-outcome="no_answer"]')).to_contain_text("1", timeout=4000)
    assert watcher.evaluate("window.sameDocument") is True


def test_a_second_registrars_call_list_follows_live_but_not_under_an_open_form(
    desk: Desk, browser_page: Callable[..., Page], make_user: Callable[..., Any], password: str
) -> None:
    desk.book(desk.petya, 9)
    desk.book(desk.anna, 10)
    confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)
    petya_id = WorklistItem.objects.get(appointment__patient=desk.petya).pk
    anna_id = WorklistItem.objects.get(appointment__patient=desk.anna).pk
    colleague = make_user(Role.REGISTRAR, organisation=desk.org, email="rita@example.org", full_name="Rita Registrar")

    watcher = browser_page()
    log_in(watcher, colleague.email or "", password)
    watcher.goto(f"/frontdesk/confirmations/?date={desk.call_day}")
    expect(watcher.locator("#fd-live")).to_have_attribute("data-live", f"frontdesk:{desk.org.pk}")
    watcher.evaluate("window.sameDocument = true")  # gone if the page reloads
    watched_petya = watcher.locator(f"#item-{petya_id}")
    expect(watched_petya).to_have_attribute("data-state", "open")

    caller = browser_page()
    log_in(caller, desk.registrar.email or "", password)
    caller.goto(f"/frontdesk/confirmations/?date={desk.call_day}")
    caller.locator(f"#item-{petya_id}").get_by_role("button", name="Confirmed").click()
    # Well within the fallback poll (30 s): the socket brought it.
    expect(watched_petya).to_have_attribute("data-outcome", "confirmed", timeout=4000)

    # The watcher starts writing a call-back time on Anna's row: a change meanwhile waits until they leave the list.
    watched_anna = watcher.locator(f"#item-{anna_id}")
    watched_anna.locator("details[data-key=b] summary").click()
    caller.locator(f"#item-{anna_id}").get_by_role("button", name="No answer").click()
    expect(caller.locator(f"#item-{anna_id}")).to_have_attribute("data-outcome", "no_answer")
    watcher.wait_for_timeout(2000)
    expect(watched_anna).not_to_have_attribute("data-outcome", "no_answer")
    watched_anna.locator("details[data-key=b] summary").click()  # closed without saving
    watcher.get_by_role("heading", level=1).click()  # and away from the list
    expect(watched_anna).to_have_attribute("data-outcome", "no_answer", timeout=4000)
    assert watcher.evaluate("window.sameDocument") is True
