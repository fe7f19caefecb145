"""In the browser: a registrar finds a patient by a fragment of the phone, opens the card, adds a note and sees it
in the timeline."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import log_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Logging in through the form hashes the password; a cheap hasher keeps the test quick (autouse, so it is in
    place before the users are created)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_registrar_finds_a_patient_by_phone_fragment_and_adds_a_note_seen_in_the_timeline(page: Page, people) -> None:
    log_in(page, people.registrar.email, PASSWORD)
    page.get_by_role("link", name="Patients", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    page.wait_for_load_state()  # htmx (a deferred script) listens for typing once the page has loaded

    page.get_by_role("searchbox", name="Search").fill("888 12")  # typed as the patient said it, no country code
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Smith John")).to_have_count(0)  # the live results narrowed down
    expect(page).to_have_url(re.compile(r"q=888"))
    results.get_by_role("link", name="Иванова Анна Сергеевна").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Иванова Анна Сергеевна")
    page.wait_for_load_state()
    expect(page.get_by_text("+359888123456").first).to_be_visible()
    page.get_by_role("tab", name=re.compile(r"^Notes")).click()
    page.locator("#tab-notes").get_by_label("Note", exact=True).fill("Prefers SMS reminders, not calls")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status").filter(has_text="The note was added.")).to_be_visible()

    page.wait_for_load_state()
    page.get_by_role("tab", name="Timeline").click()
    timeline = page.locator("#timeline")
    expect(timeline.get_by_text("Prefers SMS reminders, not calls")).to_be_visible()
    expect(timeline.locator(".timeline-entry").first).to_contain_text("Prefers SMS reminders, not calls")  # newest

    page.get_by_label("Show").select_option("status")  # the kind filter reloads the timeline through htmx
    expect(timeline.get_by_text("No entries of this kind.")).to_be_visible()
