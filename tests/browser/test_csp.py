"""The Content-Security-Policy breaks nothing: the busiest pages load in Chromium without one violation report."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page

from kabinet.demo.seed import SeedResult
from kabinet.patients.models import Patient
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

# Every `securitypolicyviolation` event of the page, kept across the page's lifetime.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _visit(page: Page, path: str, console: list[str]) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    reported: list[str] = page.evaluate("window.__csp || []")
    return [f"{path}: {v}" for v in reported] + [f"{path}: {m}" for m in console if "Content Security Policy" in m]


def test_staff_and_patient_pages_run_under_the_csp(page: Page, demo: SeedResult) -> None:
    console: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        console.append(message.text)

    page.on("console", remember)
    page.add_init_script(RECORD_VIOLATIONS)
    violations: list[str] = []

    log_in(page, "admin@kabinet.example")
    card = f"/patients/{Patient.objects.order_by('pk').values_list('pk', flat=True).first()}/"
    for path in ("/", "/calendar/", "/calendar/schedule/", "/patients/?search=a", card, "/audit/", "/api/v1/docs"):
        console.clear()
        violations += _visit(page, path, console)
    page.context.clear_cookies()  # a fresh session for the patient

    log_in(page, "patient@kabinet.example")
    for path in ("/my/", "/book/"):
        console.clear()
        violations += _visit(page, path, console)
    assert not violations, "\n".join(violations)
