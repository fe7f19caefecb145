"""The campaign page in headless Chromium against uvicorn over the test database: while the test process releases
and dispatches the campaign to a real SMTP server, the statistics table and the chart change without a reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kabinet.campaigns import services
from kabinet.notifications.dispatch import dispatch_due
from tests.browser.helpers import log_in
from tests.campaigns.conftest import Clinic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_channel_layer_in_the_test_process(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {}


def figure(page: Page, key: str) -> Any:
    return page.locator(f'#campaign-stats tr[data-figure="{key}"] td')


def test_campaign_statistics_change_live_while_messages_go_out(
    clinic: Clinic, browser_page: Callable[..., Page], password: str, smtp_server: Any
) -> None:
    page = browser_page()
    log_in(page, clinic.coordinator.email or "", password)
    page.goto("/campaigns/")
    page.get_by_role("button", name="New campaign").click()
    page.get_by_label("Name").fill("Open day")
    page.get_by_label("Audience (saved segment)").select_option(label="Newsletter")
    page.get_by_label("Subject (email)").fill("Open day on Saturday")
    page.get_by_label("Text").fill("Dear {{ patient.first_name }}, come to our open day.")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("heading", name="Open day")).to_be_visible()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("[data-campaign-state]")).to_have_text("running")
    expect(figure(page, "pending")).to_have_text("6")
    expect(figure(page, "sent")).to_have_text("0")
    page.evaluate("window.__notReloaded = true")

    released = services.campaign_release_due()  # the clock's tick
    assert [r.queued for r in released.values()] == [6]
    expect(figure(page, "queued")).to_have_text("6", timeout=15_000)
    dispatch_due()
    expect(figure(page, "sent")).to_have_text("6", timeout=15_000)
    expect(figure(page, "pending")).to_have_text("0")
    assert len(smtp_server.messages) == 6
    assert page.evaluate("window.__notReloaded") is True
    bars = page.evaluate("window.Chart.getChart('campaign-chart').data.datasets[0].data")
    labels = page.evaluate("window.Chart.getChart('campaign-chart').data.labels")
    assert bars[labels.index("sent")] == 6 and bars[labels.index("waiting to be released")] == 0

    page.get_by_role("link", name="Recipients one by one").click()
    expect(page.locator("tr.recipient")).to_have_count(6)
