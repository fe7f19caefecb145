"""Logging in and out of the staff app with the demo clinic's accounts, and the login page on a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from kabinet.demo.seed import SeedResult

pytestmark = pytest.mark.browser

ADMIN = "admin@kabinet.example"


def test_demo_administrator_logs_in_to_the_dashboard_and_logs_out(page: Page, demo: SeedResult) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email or phone").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(settings.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demo Clinic")

    # The user menu is the <details> in the header labelled with the user's name; its one button logs out.
    # (Found by structure rather than by its label: the administrator's saved language is Bulgarian.)
    menu = page.locator("header details").filter(has=page.get_by_text("Ivana Petrova", exact=True))
    menu.get_by_text("Ivana Petrova", exact=True).click()
    menu.get_by_role("button").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_label("Email or phone")).to_be_visible()
    page.goto("/")  # really logged out: the dashboard sends us back to the login page
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(page: Page, demo: SeedResult) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email or phone").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text("The login or password is not correct.")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_label("Email or phone")).to_have_value(ADMIN)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_login_page_fits_a_phone_screen(new_context: Any, live_server: Any) -> None:
    context = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page: Page = context.new_page()
    page.goto("/accounts/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()

    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[1] == 390
    assert widths[0] <= widths[1], f"horizontal scroll: content {widths[0]}px wide in a {widths[1]}px window"
