"""Browser tests: headless Debian Chromium (pytest-playwright) against pytest-django's live server.

One browser for the whole session; each test gets a fresh context (no cookies, English browser) whose base URL
is the live server, so tests navigate with paths: page.goto("/accounts/login/").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.demo.seed import SeedResult, seed


@pytest.fixture(scope="session", autouse=True)
def _django_allows_sync_orm_under_playwright(_async_unsafe_allowed: None) -> None:
    """Django's flushes between these live-server tests run under Playwright's loop too (see tests/fixtures)."""


@pytest.fixture(scope="session")
def base_url(live_server: Any) -> str:
    """Every context's base URL: the live server, so tests navigate with paths: page.goto("/accounts/login/")."""
    return str(live_server.url)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {**browser_context_args, "base_url": base_url}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 with production parameters costs ~0.3 s a hash and the demo clinic has a dozen accounts; logging in is
    the same code path with a cheap hasher (the live server thread shares these settings)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(live_server: Any) -> SeedResult:
    """The demo clinic (kabinet.demo.seed) in the test database the live server reads."""
    return seed()


@pytest.fixture
def prefers_english(demo: SeedResult) -> Callable[[str], None]:
    """Most demo staff have Bulgarian or Russian as their saved language. Tests that find things by their English
    names make their user prefer English first (translations are not what those tests are about)."""

    def prefer(email: str) -> None:
        User.objects.filter(email=email).update(language="en")

    return prefer
