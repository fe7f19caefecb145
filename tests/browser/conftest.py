"""Browser tests: headless Debian Chromium (pytest-playwright) against pytest-django's live server.

One browser for the whole session; each test gets a fresh context (no cookies, English browser) whose base URL
is the live server, so tests navigate with paths: page.goto("/accounts/login/").
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.demo.seed import SeedResult, seed

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.hookimpl(trylast=True)  # after pytest-django's own reordering (db, transactional db, no db)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests after all others. From its first call until the session's browser closes, Playwright's
    sync API leaves its event loop marked as running in the main thread: tests running after it would find an event
    loop where none is (pytest-asyncio cannot start one; Django refuses ORM calls)."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session", autouse=True)
def _django_allows_sync_orm_under_playwright() -> Iterator[None]:
    """Playwright marks its event loop as running in the main thread (see above); Django would then refuse the ORM
    calls of these tests and of pytest-django's flushes between them."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    executable = shutil.which("chromium")
    if executable is None:
        # Fail, never skip: a suite that silently loses its browser tests looks green while proving nothing.
        pytest.fail("chromium is not installed (apt-get install chromium, or run `make test`, which installs it)")
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(live_server: Any) -> str:
    """Every context's base URL: the live server (this also replaces pytest-playwright's own fixture)."""
    return str(live_server.url)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # An English-speaking browser, so pages seen before logging in are in English whatever the machine's locale.
    return {**browser_context_args, "locale": "en-US"}


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
