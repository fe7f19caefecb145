"""Steps several browser tests share."""

from __future__ import annotations

import re

from django.conf import settings
from playwright.sync_api import Page, expect


def log_in(page: Page, login: str, password: str | None = None) -> None:
    """Log in through the login form, the way a person does, and wait until the login page is left."""
    page.goto("/accounts/login/")
    page.get_by_label("Email or phone").fill(login)
    page.get_by_label("Password", exact=True).fill(password or settings.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
