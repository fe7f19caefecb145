"""The interface language chosen in the header is saved on the user and follows them to other pages and devices."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from kabinet.accounts.models import User
from kabinet.demo.seed import SeedResult
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

REGISTRAR = "registrar@kabinet.example"


def language_select(page: Page) -> Locator:
    # Each option names its language in that language, so this finds the <select> whatever the page's language
    # (its own label, "Language", is translated).
    return page.get_by_role("combobox").filter(has=page.get_by_role("option", name="Български"))


def test_registrar_switches_to_bulgarian_and_it_is_remembered(page: Page, new_context: Any, demo: SeedResult) -> None:
    log_in(page, REGISTRAR)
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ru")  # the registrar's saved language in the demo clinic
    expect(language_select(page)).to_have_value("ru")

    language_select(page).select_option(label="Български")  # submits on change; the page reloads

    expect(html).to_have_attribute("lang", "bg")
    expect(language_select(page)).to_have_value("bg")
    expect(page.get_by_role("option", name="Български")).to_have_js_property("selected", True)

    page.goto("/accounts/password/")
    expect(html).to_have_attribute("lang", "bg")
    expect(language_select(page)).to_have_value("bg")
    assert User.objects.get(email=REGISTRAR).language == "bg"

    # Another device: a fresh browser without the language cookie the switch set; the choice comes from the account.
    other_device: Page = new_context().new_page()
    log_in(other_device, REGISTRAR)
    expect(other_device.locator("html")).to_have_attribute("lang", "bg")
    expect(language_select(other_device)).to_have_value("bg")
