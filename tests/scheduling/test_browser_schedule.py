"""The schedule page in headless Chromium against pytest-django's live server: a registrar drags over the month grid
to select three days of a doctor, applies the "Morning" template, and sees the shifts and the hour figures change.

Browser launch arguments and "browser tests run last" come from tests/fixtures/browser.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, Locator, Page, expect

from kabinet.accounts.models import User
from kabinet.core.models import Location, Organisation, Role
from kabinet.scheduling.models import HourNorm, Shift, ShiftTemplate
from tests.factories import LocationFactory, UserFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session", autouse=True)
def _orm_allowed_beside_playwright() -> None:
    """Playwright's sync API leaves an event loop marked as running in the main thread until the session ends;
    Django would refuse the ORM calls of these tests (and pytest-django's flushes after them) without this. Set
    when the first of these tests starts, not at import, so collecting this module changes nothing else."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(autouse=True)
def _no_channel_layer(settings: Any) -> None:
    """Schedule changes announce themselves after commit; nobody listens here (the page is served over WSGI)."""
    settings.CHANNEL_LAYERS = {}


@pytest.fixture
def month() -> date:
    """Next month: every day of it is selectable and in the future, whatever today is."""
    return (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)


@pytest.fixture
def setup(org: Organisation, registrar: User, month: date) -> dict[str, Any]:
    location = LocationFactory.create(organisation=org, name="Sofia", time_zone="Europe/Sofia")
    doctor_user = UserFactory.create(full_name="Dr Dana")
    doctor = member(doctor_user, org, Role.DOCTOR)
    other = member(UserFactory.create(full_name="Dr Boris"), org, Role.DOCTOR)
    ShiftTemplate.objects.create(
        organisation=org, name="Afternoon", start_time=time(13), end_time=time(19), breaks=[["16:00", "16:30"]]
    )
    ShiftTemplate.objects.create(
        organisation=org, name="Morning", start_time=time(9), end_time=time(14), breaks=[["11:30", "11:45"]]
    )
    HourNorm.objects.create(organisation=org, practitioner=doctor, month=month, norm_minutes=100 * 60)
    return {"location": location, "doctor": doctor, "other": other}


@pytest.fixture
def open_schedule(live_server: Any, new_context: Callable[..., BrowserContext]) -> Callable[..., Page]:
    """A page logged in as `user` (session cookie from Django's test client) showing the location's month."""

    def open_page(user: User, location: Location, month: date, **context_args: Any) -> Page:
        client = Client()
        client.force_login(user)
        context = new_context(**context_args)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/calendar/schedule/?location={location.pk}&month={month:%Y-%m}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Schedules")
        return page

    return open_page


def cell(page: Page, practitioner_id: int, day: date) -> Locator:
    return page.locator(f'#schedule-grid td.cell[data-practitioner="{practitioner_id}"][data-day="{day:%Y-%m-%d}"]')


def figure(page: Page, practitioner_id: int, name: str) -> Locator:
    return page.locator(f'table.norms tr[data-practitioner="{practitioner_id}"] td[data-field="{name}"]')


def centre(locator: Locator) -> tuple[float, float]:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_registrar_drags_over_three_days_applies_morning_and_sees_shifts_and_hours(
    setup: dict[str, Any], registrar: User, month: date, open_schedule: Callable[..., Page]
) -> None:
    doctor, other = setup["doctor"], setup["other"]
    days = [month + timedelta(days=9), month + timedelta(days=10), month + timedelta(days=11)]
    page = open_schedule(registrar, setup["location"], month)
    expect(figure(page, doctor.pk, "planned")).to_have_text("0:00")
    expect(figure(page, doctor.pk, "balance")).to_have_text("−100:00")

    page.mouse.move(*centre(cell(page, doctor.pk, days[0])))
    page.mouse.down()
    page.mouse.move(*centre(cell(page, doctor.pk, days[1])), steps=4)
    page.mouse.move(*centre(cell(page, doctor.pk, days[2])), steps=4)
    page.mouse.up()

    for day in days:
        expect(cell(page, doctor.pk, day)).to_have_attribute("aria-selected", "true")
    expect(cell(page, doctor.pk, days[0] - timedelta(days=1))).to_have_attribute("aria-selected", "false")
    expect(cell(page, other.pk, days[1])).to_have_attribute("aria-selected", "false")
    expect(page.locator("#selection-status")).to_have_text("Selected days: 3.")

    page.locator("#schedule-template").select_option(label="Morning 09:00–14:00")
    page.get_by_role("button", name="Apply to selected days").click()

    for day in days:
        expect(cell(page, doctor.pk, day).locator(".shift")).to_have_text("9:0014:00")
    expect(page.locator(".schedule-done")).to_contain_text("Saved.")
    # 3 × (5 h − 15 min) = 14:15 planned against a 100-hour norm.
    expect(figure(page, doctor.pk, "planned")).to_have_text("14:15")
    expect(figure(page, doctor.pk, "balance")).to_have_text("−85:45")
    expect(figure(page, other.pk, "planned")).to_have_text("0:00")
    # The selection survives the refreshed grid, ready for the next action.
    expect(cell(page, doctor.pk, days[2])).to_have_attribute("aria-selected", "true")
    assert Shift.objects.filter(practitioner=doctor).count() == 3
    assert Shift.objects.filter(practitioner=other).count() == 0


def test_a_finger_drag_selects_across_doctors_and_days(
    setup: dict[str, Any], registrar: User, month: date, open_schedule: Callable[..., Page]
) -> None:
    doctor, other = setup["doctor"], setup["other"]
    page = open_schedule(registrar, setup["location"], month, has_touch=True)
    start, end = cell(page, other.pk, month + timedelta(days=2)), cell(page, doctor.pk, month + timedelta(days=3))
    (x1, y1), (x2, y2) = centre(start), centre(end)
    cdp = page.context.new_cdp_session(page)

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x1, "y": y1}]})
    for step in range(1, 6):
        point = {"x": x1 + (x2 - x1) * step / 5, "y": y1 + (y2 - y1) * step / 5}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    expect(page.locator("#selection-status")).to_have_text("Selected days: 4.")
    for practitioner in (doctor, other):
        for offset in (2, 3):
            expect(cell(page, practitioner.pk, month + timedelta(days=offset))).to_have_attribute(
                "aria-selected", "true"
            )
