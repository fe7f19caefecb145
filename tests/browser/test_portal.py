"""The patient area /my/ is an installable web app: its own manifest and a service worker scoped to /my/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kabinet.demo.seed import SeedResult
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

FETCH_MANIFEST = """async () => {
  const link = document.querySelector('link[rel="manifest"]');
  const response = await fetch(link.href);
  return {status: response.status, type: response.headers.get("content-type"), body: await response.json()};
}"""

# navigator.serviceWorker.ready never settles if registration fails: give up after a while so the test fails with
# a message instead of hanging.
SERVICE_WORKER_READY = """async () => {
  const ready = navigator.serviceWorker.ready.then((r) => ({scope: r.scope, script: r.active.scriptURL}));
  const failed = new Promise((resolve) => setTimeout(() => resolve({error: "no service worker became ready"}), 15000));
  return Promise.race([ready, failed]);
}"""


def test_demo_patient_lands_in_the_patient_area_which_is_an_installable_app(page: Page, demo: SeedResult) -> None:
    log_in(page, "patient@kabinet.example")

    expect(page).to_have_url(re.compile(r"^http://[^/]+/my/$"))
    expect(page.locator('link[rel="manifest"]')).to_have_attribute("href", "/my/manifest.webmanifest")

    manifest = page.evaluate(FETCH_MANIFEST)
    assert manifest["status"] == 200
    assert manifest["type"].startswith("application/manifest+json")
    assert manifest["body"]["start_url"] == "/my/"
    assert manifest["body"]["scope"] == "/my/"

    worker = page.evaluate(SERVICE_WORKER_READY)
    assert "error" not in worker, worker
    assert worker["scope"].endswith("/my/")
    assert worker["script"].endswith("/my/sw.js")
