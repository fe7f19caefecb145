"""Invoice pages: the list with filters, one invoice, the checkout of a visit, the actions on an invoice (lines,
discount, payer, issue, payment, refund, cancel), deposits from the patient card, and the PDF documents.

Thin views: validate a form, call one service or selector, redirect back with a message. Actions answer with a
redirect whatever happened (a refused rule becomes an error message), except 403/404 for who may not act at all.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kabinet.billing import documents, selectors, services
from kabinet.billing.forms import (
    CancelForm,
    CreateForm,
    DepositForm,
    InvoiceDiscountForm,
    InvoiceFilterForm,
    LineForm,
    PayerForm,
    PaymentForm,
    RefundForm,
)
from kabinet.billing.models import Invoice, PaymentMethod
from kabinet.billing.views._common import back, form_errors, report
from kabinet.core.decorators import staff_page
from kabinet.core.exceptions import DomainError, NotFound
from kabinet.core.models import Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import patient_get

PER_PAGE = 50


def invoice_url(invoice_id: int) -> str:
    return reverse("billing:invoice", args=[invoice_id])


def _payer(request: HttpRequest, organisation: Organisation, patient_id: int | None) -> Patient | None:
    if patient_id is None:
        return None
    return patient_get(user=request.user, patient_id=patient_id, organisation=organisation)


def panel_context(
    *, invoice: Invoice, lines: list[Any], payments: list[Any], can_write: bool, next_url: str
) -> dict[str, Any]:
    """What the invoice panel (_invoice_panel.html) shows: the invoice, and the forms that fit its state."""
    deposit, _debt = selectors.account_figures(invoice.account)
    context: dict[str, Any] = {
        "invoice": invoice,
        "lines": lines,
        "payments": payments,
        "can_write": can_write,
        "next_url": next_url,
        "deposit": deposit,
        "currency": invoice.currency,
        "documents": documents.KINDS,
    }
    if not can_write:
        return context
    if invoice.is_draft:
        rows = selectors.price_list_rows(
            organisation=invoice.organisation, location=invoice.location, day=invoice.service_date
        )
        context["line_form"] = LineForm(services=rows, currency=invoice.currency)
        context["discount_form"] = InvoiceDiscountForm(
            initial={"kind": invoice.discount_kind, "value": invoice.discount_value or None}
        )
        context["payer_form"] = PayerForm(
            patient=invoice.patient,
            relatives=selectors.payer_candidates(invoice.patient),
            initial={
                "payer": invoice.account_id if invoice.account_id != invoice.patient_id else None,
                "payer_name": invoice.payer_name,
                "payer_details": invoice.payer_details,
            },
        )
    if invoice.is_live:
        outstanding = invoice.outstanding
        context["payment_form"] = PaymentForm(initial={"amount": outstanding or None})
        context["from_deposit"] = min(deposit, outstanding)
        context["refund_form"] = RefundForm(initial={"amount": invoice.paid_amount or None})
    if invoice.status != Invoice.Status.CANCELLED:
        context["cancel_form"] = CancelForm()
    return context


@require_GET
@staff_page
def invoice_list(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None, locations=selectors.locations_of(organisation))
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    filters = selectors.InvoiceFilter(
        status=data.get("status") or "",
        location_id=data.get("location"),
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        unpaid=bool(data.get("unpaid")),
        query=data.get("q") or "",
    )
    page = Paginator(
        selectors.invoices_list(user=request.user, organisation=organisation, filters=filters), PER_PAGE
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "currency": organisation.currency}
    template = "billing/_invoice_rows.html" if getattr(request, "htmx", False) else "billing/invoice_list.html"
    return render(request, template, context)


@require_GET
@staff_page
def invoice_detail(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    detail = selectors.invoice_detail(user=request.user, invoice_id=invoice_id, organisation=organisation)
    context = panel_context(
        invoice=detail.invoice,
        lines=detail.lines,
        payments=detail.payments,
        can_write=detail.can_write,
        next_url=invoice_url(invoice_id),
    )
    return render(request, "billing/invoice_detail.html", context)


@require_GET
@staff_page
def checkout(request: HttpRequest, organisation: Organisation, appointment_id: int) -> HttpResponse:
    data = selectors.checkout(user=request.user, organisation=organisation, appointment_id=appointment_id)
    next_url = reverse("billing:checkout", args=[appointment_id])
    context: dict[str, Any] = {"checkout": data, "appointment": data.appointment, "next_url": next_url}
    if data.invoice is not None:
        context.update(
            panel_context(
                invoice=data.invoice,
                lines=data.lines,
                payments=data.payments,
                can_write=data.can_write,
                next_url=next_url,
            )
        )
    elif data.can_write:
        context["create_form"] = CreateForm(patient=data.appointment.patient, relatives=data.relatives)
    return render(request, "billing/checkout.html", context)


@require_POST
@staff_page
def checkout_create(request: HttpRequest, organisation: Organisation, appointment_id: int) -> HttpResponse:
    data = selectors.checkout(user=request.user, organisation=organisation, appointment_id=appointment_id)
    form = CreateForm(request.POST, patient=data.appointment.patient, relatives=data.relatives)
    if form.is_valid():
        try:
            services.invoice_create_for_visit(
                actor=request.user,
                appointment=data.appointment,
                payer=_payer(request, organisation, form.cleaned_data["payer"]),
                payer_name=form.cleaned_data["payer_name"],
                payer_details=form.cleaned_data["payer_details"],
                discount_code=form.cleaned_data["discount_code"],
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The invoice is drafted. Check the lines, then issue it."))
    else:
        form_errors(request, form)
    return redirect("billing:checkout", appointment_id=appointment_id)


def _invoice(request: HttpRequest, organisation: Organisation, invoice_id: int) -> Invoice:
    return selectors.invoice_get(user=request.user, invoice_id=invoice_id, organisation=organisation)


@require_POST
@staff_page
def line_add(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    rows = selectors.price_list_rows(organisation=organisation, location=invoice.location, day=invoice.service_date)
    form = LineForm(request.POST, services=rows, currency=invoice.currency)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.invoice_line_add(
                actor=request.user,
                invoice=invoice,
                line=services.LineInput(
                    service_id=data["service"],
                    description=data["description"],
                    quantity=data["quantity"],
                    unit_price=data["unit_price"],
                    discount_kind=data["discount_kind"],
                    discount_value=data["discount_value"] or Decimal(0),
                ),
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The line is added."))
    else:
        form_errors(request, form)
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def line_remove(request: HttpRequest, organisation: Organisation, invoice_id: int, line_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    try:
        services.invoice_line_remove(actor=request.user, invoice=invoice, line_id=line_id)
    except DomainError as exc:
        report(request, exc)
    else:
        messages.success(request, _("The line is removed."))
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def discount(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    form = InvoiceDiscountForm(request.POST)
    if form.is_valid():
        try:
            services.invoice_discount_set(
                actor=request.user,
                invoice=invoice,
                code=form.cleaned_data["code"],
                kind=form.cleaned_data["kind"],
                value=form.cleaned_data["value"],
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The discount is updated."))
    else:
        form_errors(request, form)
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def payer(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    form = PayerForm(request.POST, patient=invoice.patient, relatives=selectors.payer_candidates(invoice.patient))
    if form.is_valid():
        try:
            services.invoice_payer_set(
                actor=request.user,
                invoice=invoice,
                payer=_payer(request, organisation, form.cleaned_data["payer"]),
                payer_name=form.cleaned_data["payer_name"],
                payer_details=form.cleaned_data["payer_details"],
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The payer is updated."))
    else:
        form_errors(request, form)
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def issue(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    try:
        issued = services.invoice_issue(actor=request.user, invoice=invoice)
    except DomainError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Invoice %(number)s is issued.") % {"number": issued.number})
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def pay(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            payment = services.payment_take(
                actor=request.user,
                invoice=invoice,
                method=form.cleaned_data["method"],
                amount=form.cleaned_data["amount"],
                currency=invoice.currency,
                to_deposit=form.cleaned_data["to_deposit"],
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(
                request,
                _("Payment of %(amount)s %(currency)s (%(method)s) is recorded.")
                % {
                    "amount": payment.amount,
                    "currency": payment.currency,
                    "method": PaymentMethod(payment.method).label,
                },
            )
    else:
        form_errors(request, form)
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def refund(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    form = RefundForm(request.POST)
    if form.is_valid():
        try:
            services.refund_make(
                actor=request.user,
                invoice=invoice,
                method=form.cleaned_data["method"],
                amount=form.cleaned_data["amount"],
                currency=invoice.currency,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The refund is recorded."))
    else:
        form_errors(request, form)
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def cancel(request: HttpRequest, organisation: Organisation, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request, organisation, invoice_id)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.invoice_cancel(actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The invoice is cancelled."))
    else:
        form_errors(request, form)
    return back(request, invoice_url(invoice_id))


@require_POST
@staff_page
def deposit(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    """Take an advance onto, or pay out from, a patient's deposit (from the card's Billing tab)."""
    patient = patient_get(user=request.user, patient_id=patient_id, organisation=organisation)
    locations = selectors.locations_of(organisation)
    form = DepositForm(request.POST, locations=locations)
    card = f"{reverse('patients:card', args=[patient_id])}?{urlencode({'tab': 'billing'})}"
    if form.is_valid():
        data = form.cleaned_data
        action = services.deposit_add if data["direction"] == "in" else services.deposit_withdraw
        try:
            action(
                actor=request.user,
                patient=patient,
                location=next(loc for loc in locations if loc.pk == data["location"]),
                method=data["method"],
                amount=data["amount"],
                currency=organisation.currency,
                note=data["note"],
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The deposit is updated."))
    else:
        form_errors(request, form)
    return back(request, card)


@login_required
@require_GET
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """An invoice, receipt or act as a PDF attachment, for the clinic's staff and for the patient (and proxies)."""
    try:
        invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    except NotFound:
        return render(request, "404.html", status=404)
    kind = request.GET.get("kind", "invoice")
    if kind not in documents.KINDS:
        return render(request, "404.html", status=404)
    pdf = documents.render_pdf(invoice, kind, request.GET.get("language"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{documents.filename(invoice, kind)}"'
    return response
