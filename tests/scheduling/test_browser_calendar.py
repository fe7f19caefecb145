"""The staff calendar in headless Chromium against uvicorn (websockets included) over the test database.

The clinic (tests/scheduling/conftest.py) is in Europe/Sofia: Dr Dana works 09:00-14:00 with a break at 11:30, Dr Boris
09:00-12:00, two days from today. The registrar's browser runs in New York, so the times only come out right when the
page converts between the location's zone and the browser's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, FloatRect, Locator, Page, Route, expect

from kabinet.accounts.models import User
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book
from tests.fixtures.clinic import Clinic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_YORK = "America/New_York"


@pytest.fixture(autouse=True)
def _no_channel_layer_in_the_test_process(settings: Any) -> None:
    """Rows the tests make through services would announce themselves on this process's channel layer, from a thread
    where Playwright keeps an event loop; the pages listen to the server process anyway."""
    settings.CHANNEL_LAYERS = {}


@pytest.fixture
def staff_page(
    new_context: Callable[..., BrowserContext], asgi_server: str, password: str
) -> Iterator[Callable[..., Page]]:
    """A logged-in page in a fresh browser context for a staff user: staff_page(user, timezone_id=..., viewport=...).
    A script error on any of these pages fails the test."""
    errors: list[str] = []

    def open_page(user: User, **context_args: Any) -> Page:
        page = new_context(base_url=asgi_server, **context_args).new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/accounts/login/")
        page.get_by_label("Email or phone").fill(user.email or "")
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
        return page

    yield open_page
    assert errors == []


def open_day(page: Page, clinic: Clinic, **params: str) -> Locator:
    query = "&".join(f"{k}={v}" for k, v in {"location": clinic.location.pk, "date": clinic.day, **params}.items())
    page.goto(f"/calendar/?{query}")
    root = page.locator("#calendar-page")
    expect(root).to_have_attribute("data-live", f"calendar:{clinic.location.pk}")
    settled(page)
    return root


def settled(page: Page) -> None:
    """Wait until the calendar shows the latest data: no fetch, drag or write under way."""
    expect(page.locator("#calendar-page")).to_have_attribute("data-state", "ready")


def point_in_column(page: Page, doctor: str, hour: int, minute: int = 0) -> tuple[float, float]:
    """Screen coordinates inside `doctor`'s column a little after hh:mm (labels mark every half hour)."""
    label = page.locator(f'.ec-body .ec-sidebar time[datetime$="T{hour:02d}:{minute:02d}:00"]').locator("..")
    label.scroll_into_view_if_needed()
    head = page.locator(".ec-col-head", has_text=doctor).bounding_box()
    y = label.bounding_box()
    assert head and y
    return head["x"] + head["width"] / 2, y["y"] + 14


def visit(page: Page, appointment_id: int) -> Locator:
    return page.locator(f'#ec [data-appointment-id="{appointment_id}"]')


def centred_box(locator: Locator) -> FloatRect:
    """The element's box once it is in the middle of the screen, away from the edges where dragging scrolls."""
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")
    box = locator.bounding_box()
    assert box
    return box


def drag(page: Page, source: tuple[float, float], target: tuple[float, float]) -> None:
    page.mouse.move(*source)
    page.mouse.down()
    page.mouse.move(*target, steps=15)
    page.mouse.up()


@pytest.fixture
def booked(clinic: Clinic) -> Appointment:
    """Petya with Dr Dana at 10:00-10:30, booked by the registrar."""
    return appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(10),
        location=clinic.location,
    )


def test_registrar_books_a_visit_by_clicking_a_free_time(clinic: Clinic, staff_page: Callable[..., Page]) -> None:
    page = staff_page(clinic.registrar, timezone_id=NEW_YORK)
    open_day(page, clinic)
    expect(page.locator("#cal-empty")).to_contain_text("No visits in this period")

    page.mouse.click(*point_in_column(page, "Dr Dana", 10))
    dialog = page.locator("#book-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#book-when")).to_contain_text("Dr Dana")
    expect(dialog.get_by_label("Starts at")).to_have_value("10:00")
    dialog.get_by_label("Find a patient").fill("Pety")
    dialog.get_by_role("button", name=re.compile("Patient Petya")).click()
    expect(dialog.locator("#book-chosen")).to_contain_text("Patient Petya")
    dialog.get_by_label("Service").select_option(label="Consultation")
    dialog.get_by_label("Note (optional)").fill("First visit")
    dialog.get_by_role("button", name="Book", exact=True).click()

    expect(dialog).to_be_hidden()
    appointment = Appointment.objects.get()
    shown = visit(page, appointment.pk)
    expect(shown).to_contain_text("Patient Petya")
    expect(shown).to_contain_text("10:00")
    expect(page.locator("#cal-empty")).to_be_hidden()
    assert appointment.start == clinic.at(10)  # Sofia's 10:00, although the browser is in New York
    assert (appointment.practitioner, appointment.service) == (clinic.doctor, clinic.service)
    assert (appointment.note, appointment.created_by) == ("First visit", clinic.registrar)


def test_registrar_books_with_the_keyboard_only(clinic: Clinic, staff_page: Callable[..., Page]) -> None:
    """N opens the booking dialog for the shown day; doctor, date, patient, time and service are all reachable and
    chosen from the keyboard, and Enter books."""
    page = staff_page(clinic.registrar)
    open_day(page, clinic)
    page.keyboard.press("n")
    dialog = page.locator("#book-dialog")
    expect(dialog).to_be_visible()
    doctor = dialog.get_by_label("Doctor")
    expect(doctor).to_be_focused()
    expect(dialog.get_by_label("Date", exact=True)).to_have_value(clinic.day.isoformat())
    doctor.select_option(label="Dr Boris")
    expect(dialog.locator("#book-when")).to_contain_text("Dr Boris")
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Date", exact=True)).to_be_focused()
    dialog.get_by_label("Find a patient").focus()
    page.keyboard.type("Pety")
    result = dialog.get_by_role("button", name=re.compile("Patient Petya"))
    result.focus()
    page.keyboard.press("Enter")
    expect(dialog.locator("#book-chosen")).to_contain_text("Patient Petya")
    expect(dialog.get_by_label("Service")).to_have_value(str(clinic.service.pk))  # the doctor's first service
    dialog.get_by_label("Starts at").focus()
    page.keyboard.type("1030")
    page.keyboard.press("Enter")  # submits the form, like a click on "Book"

    expect(dialog).to_be_hidden()
    appointment = Appointment.objects.get()
    expect(visit(page, appointment.pk)).to_contain_text("Patient Petya")
    assert (appointment.start, appointment.practitioner) == (clinic.at(10, 30), clinic.other_doctor)


def test_the_new_visit_button_and_shortcut_stay_quiet_while_typing(
    clinic: Clinic, staff_page: Callable[..., Page]
) -> None:
    page = staff_page(clinic.registrar)
    open_day(page, clinic)
    page.get_by_label("Go to date").focus()
    page.keyboard.press("n")
    expect(page.locator("#book-dialog")).to_be_hidden()
    page.get_by_role("button", name="New visit").click()
    expect(page.locator("#book-dialog")).to_be_visible()


def test_quick_new_patient_and_a_time_taken_meanwhile_is_explained(
    clinic: Clinic, staff_page: Callable[..., Page]
) -> None:
    page = staff_page(clinic.registrar)
    open_day(page, clinic)
    page.mouse.click(*point_in_column(page, "Dr Boris", 9, 30))
    dialog = page.locator("#book-dialog")
    dialog.get_by_label("Find a patient").fill("Zz")
    expect(dialog.locator("#book-search-hint")).to_contain_text("No patient found")
    dialog.get_by_text("New patient").click()
    dialog.get_by_label("Family name").fill("Ivanova")
    dialog.get_by_label("Given name").fill("Maria")
    dialog.get_by_label("Phone").fill("+359888123456")
    dialog.get_by_role("button", name="Create patient").click()
    expect(dialog.locator("#book-chosen")).to_contain_text("Ivanova Maria")

    # Another registrar takes the time while this dialog is open.
    appointment_book(
        actor=clinic.operator,
        patient=clinic.patient,
        practitioner=clinic.other_doctor,
        service=clinic.service,
        start=clinic.at(9, 30),
        location=clinic.location,
    )
    dialog.get_by_role("button", name="Book", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("This time has just been taken")
    expect(dialog).to_be_visible()

    dialog.get_by_label("Starts at").fill("10:30")
    dialog.get_by_role("button", name="Book", exact=True).click()
    expect(dialog).to_be_hidden()
    mine = Appointment.objects.get(patient__family_name="Ivanova")
    expect(visit(page, mine.pk)).to_contain_text("Ivanova Maria")
    assert (mine.start, mine.practitioner) == (clinic.at(10, 30), clinic.other_doctor)


def test_registrar_drags_a_visit_to_another_doctor_resizes_it_and_confirms_it(
    clinic: Clinic, booked: Appointment, staff_page: Callable[..., Page]
) -> None:
    page = staff_page(clinic.registrar, timezone_id=NEW_YORK)
    open_day(page, clinic)
    shown = visit(page, booked.pk)
    expect(shown).to_contain_text("Patient Petya")
    boris_x = point_in_column(page, "Dr Boris", 10)[0]
    box = centred_box(shown)
    per_minute = box["height"] / 30  # the visit is 30 minutes long

    # Drag from Dr Dana at 10:00 to Dr Boris at 10:30.
    grab = (box["x"] + box["width"] / 2, box["y"] + 4)

    drag(page, grab, (boris_x, grab[1] + 30 * per_minute + 2))
    expect(page.locator("#cal-message")).to_contain_text("The visit was moved")
    settled(page)
    expect(shown).to_contain_text("10:30")
    booked.refresh_from_db()
    assert (booked.practitioner, booked.start, booked.end) == (clinic.other_doctor, clinic.at(10, 30), clinic.at(11))

    # Drag the bottom edge 15 minutes down: 10:30-11:15.
    edge = centred_box(shown.locator(".ec-resizer"))
    start = (edge["x"] + edge["width"] / 2, edge["y"] + edge["height"] / 2)
    drag(page, start, (start[0], start[1] + 15 * per_minute))
    expect(page.locator("#cal-message")).to_contain_text("The visit length was changed")
    settled(page)
    expect(shown).to_contain_text("11:15")
    booked.refresh_from_db()
    assert booked.end == clinic.at(11, 15)

    # A move the rules refuse (past the end of Dr Boris's shift at 12:00) snaps back and says why.
    box = centred_box(shown)
    grab = (box["x"] + box["width"] / 2, box["y"] + 4)
    drag(page, grab, (grab[0], grab[1] + 60 * per_minute + 2))
    expect(page.locator("#cal-message")).to_contain_text("The visit was not moved")
    expect(page.locator("#cal-message")).to_contain_text("does not work at this location at that time")
    settled(page)
    expect(shown).to_contain_text("10:30")
    booked.refresh_from_db()
    assert booked.start == clinic.at(10, 30)

    # Confirm through the visit panel.
    shown.click()
    panel = page.locator("#visit-dialog")
    expect(panel.locator("[data-field=doctor]")).to_have_text("Dr Boris")
    expect(panel.locator("[data-field=status]")).to_have_text("scheduled")
    panel.get_by_role("button", name="Confirm").click()
    expect(panel.locator("[data-field=status]")).to_have_text("confirmed")
    expect(panel.get_by_role("button", name="Confirm")).to_have_count(0)
    expect(shown).to_have_attribute("data-status", "confirmed")
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.CONFIRMED


def test_a_late_read_of_the_visit_does_not_erase_the_note_being_typed(
    clinic: Clinic, booked: Appointment, staff_page: Callable[..., Page]
) -> None:
    """The panel opens at once from the calendar's copy and then reads the visit afresh; on a slow line that read
    comes back after the registrar has started typing, and must not put the old note back."""
    page = staff_page(clinic.registrar)
    open_day(page, clinic, status="any")
    held: list[Route] = []
    page.route(
        re.compile(rf"/appointments/{booked.pk}$"),
        lambda route: held.append(route) if route.request.method == "GET" else route.continue_(),
    )
    visit(page, booked.pk).click()
    panel = page.locator("#visit-dialog")
    panel.get_by_text("Edit note").click()
    panel.get_by_label("Note", exact=True).fill("Bring the test results")
    page.wait_for_function("() => true")  # let the route handler run
    assert len(held) == 1
    held[0].continue_()
    expect(panel.locator("[data-field=patient]")).not_to_be_empty()
    page.wait_for_load_state("networkidle")
    expect(panel.get_by_label("Note", exact=True)).to_have_value("Bring the test results")
    page.unroute(re.compile(rf"/appointments/{booked.pk}$"))
    panel.get_by_role("button", name="Save note").click()
    expect(panel.locator("[data-field=note]")).to_have_text("Bring the test results")
    booked.refresh_from_db()
    assert booked.note == "Bring the test results"


def test_the_panel_edits_the_note_moves_by_form_and_asks_for_a_no_show_reason(
    clinic: Clinic, booked: Appointment, staff_page: Callable[..., Page]
) -> None:
    page = staff_page(clinic.registrar)
    open_day(page, clinic, status="any")
    visit(page, booked.pk).click()
    panel = page.locator("#visit-dialog")
    panel.get_by_text("Edit note").click()
    panel.get_by_label("Note", exact=True).fill("Bring the test results")
    panel.get_by_role("button", name="Save note").click()
    expect(panel.locator("[data-field=note]")).to_have_text("Bring the test results")

    # The panel's move form, for keyboards and phones: the same PATCH as dragging.
    panel.get_by_text("Move to another time or doctor").click()
    panel.get_by_label("Starts").fill(f"{clinic.day.isoformat()}T11:00")
    panel.get_by_label("Doctor", exact=True).select_option(label="Dr Boris")
    panel.get_by_role("button", name="Move", exact=True).click()
    expect(panel.locator("[data-field=time]")).to_contain_text("11:00–11:30")
    expect(panel.locator("[data-field=doctor]")).to_have_text("Dr Boris")

    panel.get_by_role("button", name="No-show").click()
    expect(panel.get_by_label("Why did the patient not come?")).to_have_value(str(clinic.no_show_reason.pk))
    panel.get_by_label("Details (optional)").fill("Phone off")
    panel.locator("#visit-reason").get_by_role("button", name="No-show").click()
    expect(panel.locator("[data-field=status]")).to_have_text("no-show")
    expect(visit(page, booked.pk)).to_have_attribute("data-status", "no_show")
    booked.refresh_from_db()
    assert (booked.status, booked.reason, booked.reason_note) == ("no_show", clinic.no_show_reason, "Phone off")
    assert (booked.note, booked.practitioner, booked.start) == (
        "Bring the test results",
        clinic.other_doctor,
        clinic.at(11),
    )


def test_a_second_calendar_follows_bookings_and_cancellations_live(
    clinic: Clinic, staff_page: Callable[..., Page]
) -> None:
    registrar = staff_page(clinic.registrar, timezone_id=NEW_YORK)
    operator = staff_page(clinic.operator)
    open_day(registrar, clinic)
    open_day(operator, clinic)
    operator.evaluate("window.sameDocument = true")  # gone if the page reloads

    registrar.mouse.click(*point_in_column(registrar, "Dr Dana", 12))
    dialog = registrar.locator("#book-dialog")
    dialog.get_by_label("Find a patient").fill("Petya")
    dialog.get_by_role("button", name=re.compile("Patient Petya")).click()
    dialog.get_by_label("Service").select_option(label="Consultation")
    dialog.get_by_role("button", name="Book", exact=True).click()
    expect(dialog).to_be_hidden()

    appointment = Appointment.objects.get()
    expect(visit(operator, appointment.pk)).to_contain_text("Patient Petya")
    expect(visit(operator, appointment.pk)).to_contain_text("12:00")

    visit(registrar, appointment.pk).click()
    panel = registrar.locator("#visit-dialog")
    panel.get_by_role("button", name="Cancel visit").click()
    panel.get_by_label("Why is the visit cancelled?").select_option(label="Patient asked")
    panel.locator("#visit-reason").get_by_role("button", name="Cancel visit").click()
    expect(panel.locator("[data-field=status]")).to_have_text("cancelled")

    expect(visit(operator, appointment.pk)).to_have_count(0)  # cancelled visits are hidden by default
    assert operator.evaluate("window.sameDocument") is True


def test_week_view_of_one_doctor_and_phone_width(
    clinic: Clinic, booked: Appointment, staff_page: Callable[..., Page]
) -> None:
    page = staff_page(clinic.registrar, viewport={"width": 375, "height": 740})
    open_day(page, clinic)
    # On a phone the day view scrolls inside its box; the page itself does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("(b => b.scrollWidth > b.clientWidth)(document.getElementById('cal-scroll'))")

    page.get_by_role("button", name="Week").click()
    expect(page.get_by_role("button", name="Week")).to_have_attribute("aria-pressed", "true")
    doctor = page.locator("#cal-filters").get_by_label("Doctor")
    expect(doctor).to_have_value(str(clinic.other_doctor.pk))  # the first by name: Boris
    expect(page.locator(".ec-col-head")).to_have_count(7)
    expect(visit(page, booked.pk)).to_have_count(0)  # Dana's visit is not in Boris's week
    doctor.select_option(label="Dr Dana")
    expect(visit(page, booked.pk)).to_contain_text("Patient Petya")
    title = page.locator("#cal-title").inner_text()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#cal-title")).not_to_have_text(title)
    expect(visit(page, booked.pk)).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- patient self-booking, seen live by the staff calendar ---------------------------------------------------

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_patient_books_on_a_phone_and_the_staff_calendar_updates_without_reload(
    clinic: Clinic,
    staff_page: Callable[..., Page],
    new_context: Callable[..., BrowserContext],
    asgi_server: str,
    password: str,
) -> None:
    calendar = staff_page(clinic.registrar)
    open_day(calendar, clinic)
    calendar.evaluate("window.sameDocument = true")

    phone = new_context(base_url=asgi_server, **PHONE).new_page()
    phone.goto("/accounts/login/")
    phone.get_by_label("Email or phone").fill(clinic.patient_user.email or "")
    phone.get_by_label("Password", exact=True).fill(password)
    phone.get_by_role("button", name="Log in").click()
    expect(phone).to_have_url(re.compile(r"/my/$"))

    phone.goto(f"/book/{clinic.org.slug}/")
    phone.get_by_role("button", name=re.compile("Consultation")).click()
    phone.get_by_role("button", name="Dr Dana").click()
    phone.locator("nav.days a.day", has_text=clinic.day.strftime("%-d ")).first.click()
    phone.locator('[data-testid="slot"]', has_text="10:30").click()
    expect(phone.get_by_role("heading", name=re.compile("Confirm"))).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.get_by_role("button", name="Book this time").click()
    expect(phone.get_by_role("heading", name="Your visit is booked")).to_be_visible()

    appointment = Appointment.objects.get()
    assert appointment.start == clinic.at(10, 30) and appointment.source == Appointment.Source.ONLINE
    expect(visit(calendar, appointment.pk)).to_contain_text("Patient Petya")
    assert calendar.evaluate("window.sameDocument") is True  # no reload happened
