"""In the browser: a registrar checks a patient out — invoice for the visit plus an extra line, issue, part paid from
the deposit (taken earlier on the patient card), the rest by card — and downloads the act of services, whose text
has the right lines and totals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from kabinet.billing.models import Invoice
from tests.billing.conftest import pdf_to_text
from tests.browser.helpers import log_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_checkout_with_invoice_deposit_and_card_payment_and_the_act_of_services(page: Page, bill) -> None:
    log_in(page, bill.registrar.email, PASSWORD)
    # The patient left an advance at an earlier visit: taken on the card's Billing tab.
    page.goto(reverse("patients:card", args=[bill.patient.pk]) + "?tab=billing")
    tab = page.locator("#tab-billing")
    tab.get_by_text("Deposit: take an advance or pay out").click()
    tab.get_by_label("Method").select_option("cash")
    tab.get_by_label("Amount").fill("30")
    tab.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="The deposit is updated.")).to_be_visible()
    expect(page.get_by_test_id("card-deposit")).to_have_text("30.00 EUR")

    page.goto(reverse("billing:checkout", args=[bill.visit.pk]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout: Patient Petya")
    page.get_by_role("button", name="Create invoice").click()
    expect(page.get_by_role("status").filter(has_text="The invoice is drafted.")).to_be_visible()

    page.get_by_label("Service", exact=True).select_option(label="Thread lift — 120.00 EUR")
    page.get_by_role("button", name="Add line").click()
    expect(page.get_by_test_id("invoice-total")).to_have_text("170.00 EUR")
    page.get_by_role("button", name="Issue invoice").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("issued, unpaid")
    expect(page.get_by_test_id("deposit")).to_have_text("30.00 EUR")

    page.get_by_role("button", name="Pay 30.00 EUR from the deposit").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("partially paid")
    expect(page.get_by_test_id("invoice-due")).to_have_text("140.00 EUR")
    expect(page.get_by_test_id("deposit")).to_have_text("0.00 EUR")

    page.get_by_label("Method", exact=True).select_option("card")
    expect(page.get_by_label("Amount (EUR)")).to_have_value("140.00")
    page.get_by_role("button", name="Take payment").click()
    expect(page.get_by_role("status").filter(has_text="Payment of 140.00 EUR (card) is recorded.")).to_be_visible()
    expect(page.get_by_test_id("invoice-status")).to_have_text("paid")
    payments = page.locator("table.payments")
    expect(payments).to_contain_text("deposit")
    expect(payments).to_contain_text("card")

    with page.expect_download() as download:
        page.get_by_role("link", name="Act of services (PDF)").click()
    invoice = Invoice.objects.get(appointment=bill.visit)
    assert download.value.suggested_filename == f"act-{invoice.number}.pdf"
    text = pdf_to_text(Path(download.value.path()).read_bytes())
    rows = [line.split() for line in text.splitlines()]
    assert ["1", "Consultation", "1", "50.00", "—", "50.00"] in rows
    assert ["2", "Thread", "lift", "1", "120.00", "—", "120.00"] in rows
    assert re.search(r"Total\s+170\.00 EUR", text)
    assert f"Act of services rendered No. {invoice.number}" in text
