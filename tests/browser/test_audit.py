"""The audit log page: administrators see it and export it as CSV; other staff are refused."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kabinet.demo.seed import SeedResult
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

ADMIN = "admin@kabinet.example"
ADMIN_NAME = "Ivana Petrova"
REGISTRAR = "registrar@kabinet.example"


def open_audit_log(page: Page) -> None:
    log_in(page, ADMIN)
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")


def export_csv(page: Page) -> list[dict[str, str]]:
    # A link styled as a button (Pico's <a role="button">), so its accessible role is button.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("audit-")
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("id,time,actor,action"), text[:200]
    return list(csv.DictReader(io.StringIO(text)))


def test_administrator_exports_the_audit_log_as_csv(
    page: Page, demo: SeedResult, prefers_english: Callable[[str], None]
) -> None:
    prefers_english(ADMIN)
    open_audit_log(page)

    rows = export_csv(page)

    assert all(row.keys() >= {"id", "time", "actor", "action", "hash"} for row in rows)


def test_administrator_sees_their_own_login_in_the_audit_log_and_its_export(
    page: Page, demo: SeedResult, prefers_english: Callable[[str], None]
) -> None:
    prefers_english(ADMIN)
    open_audit_log(page)

    login_row = page.get_by_role("row").filter(has_text=ADMIN_NAME).filter(has_text="account.login")
    expect(login_row).to_have_count(1, timeout=1000)  # the page is loaded: no need to wait for rows to appear
    rows = export_csv(page)
    assert any(row["actor"] == ADMIN_NAME and row["action"] == "account.login" for row in rows), rows


def test_registrar_is_not_allowed_to_see_the_audit_log(
    page: Page, demo: SeedResult, prefers_english: Callable[[str], None]
) -> None:
    prefers_english(REGISTRAR)
    log_in(page, REGISTRAR)
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)  # not offered in the menu either

    response = page.goto("/audit/")

    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
