"""Invoice, receipt and act of services as PDFs (WeasyPrint), read back with pdftotext: the lines, quantities and
totals, in the patient's language with Cyrillic text intact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kabinet.billing import documents, services
from kabinet.billing.services import LineInput
from kabinet.core.exceptions import Invalid
from kabinet.patients.models import Patient

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def invoice(bill):
    bill.clinic.service.name_ru = "Консультация дерматолога"
    bill.clinic.service.name_bg = "Консултация с дерматолог"
    bill.clinic.service.save()
    draft = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    services.invoice_line_add(
        actor=bill.registrar,
        invoice=draft,
        line=LineInput(description="Гиалуроновая кислота, мл", quantity=D("2"), unit_price=D("1250.25")),
    )
    services.invoice_discount_set(actor=bill.registrar, invoice=draft, kind="percent", value=D("10"))
    issued = services.invoice_issue(actor=bill.registrar, invoice=draft)  # 2550.50 − 255.05 = 2295.45
    services.payment_take(actor=bill.registrar, invoice=issued, method="card", amount=D("2000"), currency="EUR")
    issued.refresh_from_db()
    return issued


def test_the_act_of_services_lists_the_lines_quantities_and_totals(bill, invoice, pdf_text) -> None:
    text = pdf_text(documents.render_pdf(invoice, "act", "en"))
    assert f"Act of services rendered No. {invoice.number}" in text
    assert bill.org.name in text and "Patient Petya" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["1", "Consultation", "1", "50.00", "—", "50.00"] in lines
    assert any(row[-4:] == ["2", "1,250.25", "—", "2,500.50"] and "Гиалуроновая" in row for row in lines)
    assert "Subtotal 2,550.50 EUR" in " ".join(text.split())
    assert "Discount −255.05 EUR" in " ".join(text.split())
    assert "Total 2,295.45 EUR" in " ".join(text.split())
    assert "2 services were rendered in full and on time." in " ".join(text.split())
    assert "Due" not in text  # the act is about services, not money


def test_the_receipt_lists_the_payments_and_what_is_still_due(invoice, pdf_text) -> None:
    text = " ".join(pdf_text(documents.render_pdf(invoice, "receipt", "en")).split())
    assert f"Receipt for invoice No. {invoice.number}" in text
    assert "payment card 2,000.00 EUR" in text
    assert "Paid 2,000.00 EUR" in text and "Due 295.45 EUR" in text
    assert "Received in total: 2,000.00 EUR" in text


def test_documents_follow_the_patients_language_with_cyrillic_names_and_local_number_format(
    bill, invoice, pdf_text
) -> None:
    Patient.objects.filter(pk=bill.patient.pk).update(language="ru")
    invoice.language = "ru"
    invoice.save(update_fields=["language"])
    text = " ".join(pdf_text(documents.render_pdf(invoice, "invoice")).split())
    assert "Консультация дерматолога" in text  # the service's Russian name
    assert "Гиалуроновая кислота, мл" in text
    assert "2 295,45 EUR" in text  # Russian grouping and decimal comma
    bulgarian = " ".join(pdf_text(documents.render_pdf(invoice, "invoice", "bg")).split())
    assert "Консултация с дерматолог" in bulgarian and "2295,45 EUR" in bulgarian  # Django's bg format: no grouping
    english = " ".join(pdf_text(documents.render_pdf(invoice, "invoice", "en")).split())
    assert f"Invoice No. {invoice.number}" in english and "2,295.45 EUR" in english


def test_a_third_party_payer_is_printed_as_the_buyer(bill, pdf_text) -> None:
    draft = services.invoice_create_for_visit(
        actor=bill.registrar,
        appointment=bill.ward_visit,
        payer=bill.patient,
        payer_name="ACME Ltd",
        payer_details="VAT BG123",
    )
    text = " ".join(pdf_text(documents.render_pdf(draft, "invoice", "en")).split())
    assert "Draft invoice" in text
    assert "Paid by ACME Ltd, VAT BG123" in text
    assert "Patient Kid" in text


def test_an_unknown_document_kind_is_refused(invoice) -> None:
    with pytest.raises(Invalid):
        documents.render_pdf(invoice, "contract", "en")
