"""Printable billing documents — invoice, receipt and act of services — rendered to PDF by WeasyPrint in the
invoice's language (the patient's) or one chosen at print time. Fonts are DejaVu, which cover Cyrillic; WeasyPrint
may load nothing from outside (data: URIs only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from kabinet.billing.models import Invoice, Payment
from kabinet.core.exceptions import Invalid

KINDS = ("invoice", "receipt", "act")


@dataclass(frozen=True)
class PrintedLine:
    description: str
    quantity: Any
    unit_price: Any
    discount_amount: Any
    total: Any


def document_language(invoice: Invoice, language: str | None = None) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    if language and language in known:
        return language
    return invoice.language if invoice.language in known else settings.LANGUAGE_CODE


def _title(invoice: Invoice, kind: str) -> str:
    if kind == "receipt":
        return _("Receipt for invoice No. %(number)s") % {"number": invoice.number or "—"}
    if kind == "act":
        return _("Act of services rendered No. %(number)s") % {"number": invoice.number or "—"}
    if invoice.is_draft:
        return _("Draft invoice")
    return _("Invoice No. %(number)s") % {"number": invoice.number}


def document_context(invoice: Invoice, kind: str, language: str) -> dict[str, Any]:
    """Plain values for the template, texts in `language` (call inside translation.override)."""
    lines = [
        PrintedLine(
            description=line.service.display_name(language) if line.service else line.description,
            quantity=line.quantity.normalize() if line.quantity == line.quantity.to_integral() else line.quantity,
            unit_price=line.unit_price,
            discount_amount=line.discount_amount,
            total=line.total,
        )
        for line in invoice.lines.select_related("service")
    ]
    payments: list[Payment] = list(invoice.payments.all()) if kind == "receipt" else []
    credit_note = getattr(invoice, "credit_note", None) if invoice.status == Invoice.Status.CANCELLED else None
    return {
        "kind": kind,
        "title": _title(invoice, kind),
        "invoice": invoice,
        "clinic": invoice.organisation,
        "location": invoice.location,
        "patient": invoice.patient,
        "payer": invoice.account if invoice.account_id != invoice.patient_id else None,
        "lines": lines,
        "payments": [
            {
                "when": p.created_at,
                "kind": p.get_kind_display(),
                "is_refund": p.kind == Payment.Kind.REFUND,
                "method": p.get_method_display(),
                "amount": p.amount,
            }
            for p in payments
        ],
        "currency": invoice.currency,
        "outstanding": invoice.total - invoice.paid_amount if invoice.is_live else None,
        "credit_note": credit_note,
        "LANGUAGE_CODE": language,
    }


def render_pdf(invoice: Invoice, kind: str, language: str | None = None) -> bytes:
    if kind not in KINDS:
        raise Invalid(errors={"kind": [_("Choose invoice, receipt or act.")]})
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    chosen = document_language(invoice, language)
    with translation.override(chosen):
        html = render_to_string(f"billing/pdf/{kind}.html", document_context(invoice, kind, chosen))
        return bytes(HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf())


def filename(invoice: Invoice, kind: str) -> str:
    number = invoice.number or f"draft-{invoice.pk}"
    return f"{kind}-{number}.pdf"
