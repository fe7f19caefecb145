"""Billing API: invoices (from a visit or by hand), their lines, discount, issue and cancel, payments and refunds,
PDF documents, patients' balances and deposits, the price list of a day and the daily cash report."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from kabinet.billing import documents, selectors, services
from kabinet.billing.models import Invoice, Payment, PaymentMethod
from kabinet.core import permissions, tenancy
from kabinet.core.exceptions import Invalid, NotAllowed, NotFound
from kabinet.core.idempotency import run_once
from kabinet.core.models import Location, Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import patient_get
from kabinet.scheduling.selectors import appointment_get

router = Router(tags=["billing"])

IDEMPOTENT = "Send an `Idempotency-Key` header to make retries safe: a repeat returns the first result."
MONEY_422 = (
    "422 with a stable `code`: `amount_not_positive`, `amount_precision`, `currency_mismatch`, `overpayment` (more "
    "than the invoice lacks and `to_deposit` not set), `deposit_insufficient`, `invoice_not_issued`."
)


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    return organisation


# --- schemas -------------------------------------------------------------------------------------------------------


class LineIn(Schema):
    service: int | None = Field(None, description="A service id; its price comes from the price list of the date")
    description: str = Field("", max_length=300, description="Required without a service")
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = Field(None, description="Overrides the price list; required without a service")
    discount_kind: Literal["", "percent", "fixed"] = ""
    discount_value: Decimal = Decimal(0)


class InvoiceIn(Schema):
    appointment: int | None = Field(None, description="Bill this visit (its service at the visit date's price)")
    patient: int | None = Field(None, description="Without an appointment: the patient, a location and lines")
    location: int | None = None
    lines: list[LineIn] = Field(default_factory=list, max_length=100)
    service_date: date | None = None
    payer: int | None = Field(None, description="A relative (patient id) who pays; default the patient")
    payer_name: str = Field("", max_length=300, description="A company printed as the buyer")
    payer_details: str = Field("", max_length=500)
    discount_code: str = Field("", max_length=50, description="Loyalty card number or promo code")
    note: str = Field("", max_length=2000)


class LineOut(Schema):
    id: int
    service: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_kind: str
    discount_value: Decimal
    discount_amount: Decimal
    total: Decimal


class PaymentOut(Schema):
    id: int
    kind: str
    method: str
    amount: Decimal
    applied_amount: Decimal
    deposit_amount: Decimal
    currency: str
    invoice: int | None
    account: int
    created_at: datetime
    note: str


class InvoiceOut(Schema):
    id: int
    number: str
    status: str
    patient: int
    patient_name: str
    account: int
    account_name: str
    payer_name: str
    payer_details: str
    appointment: int | None
    location: int
    currency: str
    language: str
    service_date: date
    issue_date: date | None
    lines: list[LineOut]
    subtotal: Decimal
    discount_kind: str
    discount_value: Decimal
    discount_amount: Decimal
    total: Decimal
    paid_amount: Decimal
    outstanding: Decimal
    credit_note: str | None
    payments: list[PaymentOut]


class InvoiceRowOut(Schema):
    id: int
    number: str
    status: str
    patient: int
    patient_name: str
    account: int
    service_date: date
    issue_date: date | None
    currency: str
    total: Decimal
    paid_amount: Decimal
    outstanding: Decimal


class InvoiceFilterIn(Schema):
    status: Invoice.Status | None = None
    location: int | None = None
    patient: int | None = Field(None, description="Invoices for this patient or paid by them")
    date_from: date | None = Field(None, description="Service date from")
    date_to: date | None = None
    unpaid: bool = False
    search: str = Field("", max_length=100, description="Number, patient or buyer name")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class PaymentIn(Schema):
    method: PaymentMethod
    amount: Decimal
    currency: str = Field(..., max_length=3)
    to_deposit: bool = Field(False, description="Put what exceeds the invoice's due amount on the payer's deposit")
    note: str = Field("", max_length=500)


class RefundIn(Schema):
    method: PaymentMethod = Field(..., description="How the money goes back; `deposit` credits the payer's deposit")
    amount: Decimal
    currency: str = Field(..., max_length=3)
    reason: str = Field("", max_length=500)


class DepositIn(Schema):
    location: int
    method: Literal["cash", "card", "bank_transfer"]
    amount: Decimal
    currency: str = Field(..., max_length=3)
    note: str = Field("", max_length=500)


class DiscountIn(Schema):
    code: str = Field("", max_length=50, description="A card number or code; or give kind and value")
    kind: Literal["", "percent", "fixed"] = ""
    value: Decimal | None = None


class CancelIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


class BalanceOut(Schema):
    patient: int
    currency: str
    deposit: Decimal
    debt: Decimal = Field(..., description="What live invoices billed to this patient's account still lack")
    balance: Decimal = Field(..., description="deposit − debt (the sum of the account's ledger)")
    unpaid_for_patient: Decimal = Field(..., description="What invoices for this patient's visits lack, whoever pays")


class PriceRowOut(Schema):
    service: int
    service_name: str
    price: Decimal
    currency: str
    price_list: int | None = Field(..., description="null: the service's own price (no price list names it)")


class PriceListFilterIn(Schema):
    location: int
    date: dt.date | None = Field(None, description="Default: today at the location")


class CashMethodOut(Schema):
    method: str
    taken: Decimal
    taken_count: int
    refunded: Decimal
    refunded_count: int
    net: Decimal


class CashReportOut(Schema):
    location: int
    date: dt.date
    currency: str
    methods: list[CashMethodOut]
    taken: Decimal
    refunded: Decimal
    net: Decimal
    invoices_issued: int
    invoices_total: Decimal
    credit_notes: int
    deposit_in: Decimal


class CashReportFilterIn(Schema):
    location: int
    date: dt.date


# --- output helpers --------------------------------------------------------------------------------------------------


def _payment_out(p: Payment) -> dict[str, Any]:
    return {
        "id": p.pk,
        "kind": p.kind,
        "method": p.method,
        "amount": p.amount,
        "applied_amount": p.applied_amount,
        "deposit_amount": p.deposit_amount,
        "currency": p.currency,
        "invoice": p.invoice_id,
        "account": p.account_id,
        "created_at": p.created_at,
        "note": p.note,
    }


def _invoice_out(invoice: Invoice) -> dict[str, Any]:
    credit = getattr(invoice, "credit_note", None) if invoice.status == Invoice.Status.CANCELLED else None
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "status": invoice.status,
        "patient": invoice.patient_id,
        "patient_name": str(invoice.patient),
        "account": invoice.account_id,
        "account_name": str(invoice.account),
        "payer_name": invoice.payer_name,
        "payer_details": invoice.payer_details,
        "appointment": invoice.appointment_id,
        "location": invoice.location_id,
        "currency": invoice.currency,
        "language": invoice.language,
        "service_date": invoice.service_date,
        "issue_date": invoice.issue_date,
        "lines": [
            {
                "id": line.pk,
                "service": line.service_id,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount_kind": line.discount_kind,
                "discount_value": line.discount_value,
                "discount_amount": line.discount_amount,
                "total": line.total,
            }
            for line in invoice.lines.all()
        ],
        "subtotal": invoice.subtotal,
        "discount_kind": invoice.discount_kind,
        "discount_value": invoice.discount_value,
        "discount_amount": invoice.discount_amount,
        "total": invoice.total,
        "paid_amount": invoice.paid_amount,
        "outstanding": invoice.outstanding,
        "credit_note": credit.number if credit else None,
        "payments": [_payment_out(p) for p in invoice.payments.all()],
    }


def _reloaded(request: HttpRequest, invoice_id: int) -> dict[str, Any]:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    return InvoiceOut.model_validate(_invoice_out(invoice)).model_dump(mode="json")


def _line_input(line: LineIn) -> services.LineInput:
    return services.LineInput(
        service_id=line.service,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_kind=line.discount_kind,
        discount_value=line.discount_value,
    )


def _patient_of(request: HttpRequest, organisation: Organisation, patient_id: int | None, field: str) -> Patient | None:
    if patient_id is None:
        return None
    try:
        return patient_get(user=request.user, patient_id=patient_id, organisation=organisation)
    except NotFound:
        raise Invalid(errors={field: [_("Unknown patient.")]}) from None


def _location_of(organisation: Organisation, location_id: int | None) -> Location:
    location = Location.objects.filter(pk=location_id, organisation=organisation).first() if location_id else None
    if location is None:
        raise Invalid(errors={"location": [_("Unknown location.")]})
    return location


# --- invoices ------------------------------------------------------------------------------------------------------


@router.get("/invoices", response=list[InvoiceRowOut], summary="Invoices (patients: their own and their wards')")
def list_invoices(request: HttpRequest, filters: Query[InvoiceFilterIn]) -> Any:
    organisation = tenancy.current_organisation(request)
    scope = organisation if organisation and permissions.is_staff_of(request.user, organisation) else None
    flt = selectors.InvoiceFilter(
        status=filters.status or "",
        location_id=filters.location,
        patient_id=filters.patient,
        date_from=filters.date_from,
        date_to=filters.date_to,
        unpaid=filters.unpaid,
        query=filters.search,
    )
    rows = selectors.invoices_list(user=request.user, organisation=scope, filters=flt)
    return [
        {
            "id": i.pk,
            "number": i.number,
            "status": i.status,
            "patient": i.patient_id,
            "patient_name": str(i.patient),
            "account": i.account_id,
            "service_date": i.service_date,
            "issue_date": i.issue_date,
            "currency": i.currency,
            "total": i.total,
            "paid_amount": i.paid_amount,
            "outstanding": i.outstanding,
        }
        for i in rows[filters.offset : filters.offset + filters.limit]
    ]


@router.post(
    "/invoices",
    response={201: InvoiceOut},
    summary="Make a draft invoice from a visit, or for a patient with lines",
    description=f"{IDEMPOTENT} 409 `invoice_exists` when the visit already has a live invoice.",
)
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> Any:
    organisation = _organisation(request)

    def create() -> tuple[int, dict[str, Any]]:
        payer = _patient_of(request, organisation, payload.payer, "payer")
        if payload.appointment is not None:
            try:
                appointment = appointment_get(
                    user=request.user, organisation=organisation, appointment_id=payload.appointment
                )
            except NotFound:
                raise Invalid(errors={"appointment": [_("Unknown visit.")]}) from None
            if appointment.organisation_id != organisation.pk:
                raise Invalid(errors={"appointment": [_("Unknown visit.")]})
            invoice = services.invoice_create_for_visit(
                actor=request.user,
                appointment=appointment,
                payer=payer,
                payer_name=payload.payer_name,
                payer_details=payload.payer_details,
                discount_code=payload.discount_code,
            )
        else:
            patient = _patient_of(request, organisation, payload.patient, "patient")
            if patient is None:
                raise Invalid(errors={"patient": [_("Give a visit, or a patient with lines.")]})
            if not payload.lines:
                raise Invalid(errors={"lines": [_("Add at least one line.")]})
            invoice = services.invoice_create(
                actor=request.user,
                patient=patient,
                location=_location_of(organisation, payload.location),
                lines=[_line_input(line) for line in payload.lines],
                service_date=payload.service_date,
                payer=payer,
                payer_name=payload.payer_name,
                payer_details=payload.payer_details,
                discount_code=payload.discount_code,
                note=payload.note,
            )
        return 201, _reloaded(request, invoice.pk)

    status, body = run_once(request, "billing.invoice_create", create)
    return Status(status, body)


@router.get("/invoices/{invoice_id}", response=InvoiceOut, summary="One invoice with its lines and payments")
def get_invoice(request: HttpRequest, invoice_id: int) -> Any:
    return _invoice_out(selectors.invoice_get(user=request.user, invoice_id=invoice_id))


@router.post("/invoices/{invoice_id}/lines", response={201: InvoiceOut}, summary="Add a line to a draft")
def add_line(request: HttpRequest, invoice_id: int, payload: LineIn) -> Any:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    services.invoice_line_add(actor=request.user, invoice=invoice, line=_line_input(payload))
    return Status(201, _reloaded(request, invoice_id))


@router.delete("/invoices/{invoice_id}/lines/{line_id}", response=InvoiceOut, summary="Remove a line from a draft")
def remove_line(request: HttpRequest, invoice_id: int, line_id: int) -> Any:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    services.invoice_line_remove(actor=request.user, invoice=invoice, line_id=line_id)
    return _reloaded(request, invoice_id)


@router.post(
    "/invoices/{invoice_id}/discount",
    response=InvoiceOut,
    summary="Set the invoice-wide discount (after the lines' own); empty removes it",
)
def set_discount(request: HttpRequest, invoice_id: int, payload: DiscountIn) -> Any:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    services.invoice_discount_set(
        actor=request.user, invoice=invoice, code=payload.code, kind=payload.kind, value=payload.value
    )
    return _reloaded(request, invoice_id)


@router.post(
    "/invoices/{invoice_id}/issue",
    response=InvoiceOut,
    summary="Issue a draft: the next number of the year; the total is charged to the payer",
    description="409 `invoice_not_draft` when already issued; 422 `invoice_empty` without lines.",
)
def issue(request: HttpRequest, invoice_id: int) -> Any:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    services.invoice_issue(actor=request.user, invoice=invoice)
    return _reloaded(request, invoice_id)


@router.post(
    "/invoices/{invoice_id}/cancel",
    response=InvoiceOut,
    summary="Cancel: a draft is dropped; an issued invoice gets a credit note",
    description="409 `invoice_has_payments` until what was paid is refunded.",
)
def cancel(request: HttpRequest, invoice_id: int, payload: CancelIn) -> Any:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    services.invoice_cancel(actor=request.user, invoice=invoice, reason=payload.reason)
    return _reloaded(request, invoice_id)


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: PaymentOut},
    summary="Take a payment (cash, card, bank transfer or deposit)",
    description=f"{IDEMPOTENT} {MONEY_422}",
)
def take_payment(request: HttpRequest, invoice_id: int, payload: PaymentIn) -> Any:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)

    def pay() -> tuple[int, dict[str, Any]]:
        payment = services.payment_take(
            actor=request.user,
            invoice=invoice,
            method=payload.method,
            amount=payload.amount,
            currency=payload.currency,
            to_deposit=payload.to_deposit,
            note=payload.note,
        )
        return 201, PaymentOut.model_validate(_payment_out(payment)).model_dump(mode="json")

    status, body = run_once(request, f"billing.payment:{invoice_id}", pay)
    return Status(status, body)


@router.post(
    "/invoices/{invoice_id}/refunds",
    response={201: PaymentOut},
    summary="Refund money paid on the invoice",
    description=f"{IDEMPOTENT} 422 `refund_above_paid` above what was paid (net of earlier refunds).",
)
def refund(request: HttpRequest, invoice_id: int, payload: RefundIn) -> Any:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)

    def give_back() -> tuple[int, dict[str, Any]]:
        payment = services.refund_make(
            actor=request.user,
            invoice=invoice,
            method=payload.method,
            amount=payload.amount,
            currency=payload.currency,
            reason=payload.reason,
        )
        return 201, PaymentOut.model_validate(_payment_out(payment)).model_dump(mode="json")

    status, body = run_once(request, f"billing.refund:{invoice_id}", give_back)
    return Status(status, body)


@router.get(
    "/invoices/{invoice_id}/pdf",
    summary="The invoice, receipt or act of services as PDF",
    description="`language` (en, ru, bg) defaults to the patient's.",
    response={200: None},
    openapi_extra={"responses": {200: {"description": "The PDF file", "content": {"application/pdf": {}}}}},
)
def invoice_pdf(
    request: HttpRequest,
    invoice_id: int,
    kind: Literal["invoice", "receipt", "act"] = "invoice",
    language: str | None = None,
) -> HttpResponse:
    invoice = selectors.invoice_get(user=request.user, invoice_id=invoice_id)
    response = HttpResponse(documents.render_pdf(invoice, kind, language), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{documents.filename(invoice, kind)}"'
    return response


# --- balances and deposits -------------------------------------------------------------------------------------------


@router.get("/patients/{patient_id}/balance", response=BalanceOut, summary="Deposit, debt and balance of a patient")
def patient_balance(request: HttpRequest, patient_id: int) -> Any:
    balance = selectors.balance_of(user=request.user, patient_id=patient_id)
    return {
        "patient": balance.patient.pk,
        "currency": balance.currency,
        "deposit": balance.deposit,
        "debt": balance.debt,
        "balance": balance.balance,
        "unpaid_for_patient": balance.unpaid_for_patient,
    }


@router.post(
    "/patients/{patient_id}/deposits",
    response={201: PaymentOut},
    summary="Take an advance onto the patient's deposit",
    description=IDEMPOTENT,
)
def add_deposit(request: HttpRequest, patient_id: int, payload: DepositIn) -> Any:
    patient = patient_get(user=request.user, patient_id=patient_id)
    organisation = patient.organisation

    def put() -> tuple[int, dict[str, Any]]:
        payment = services.deposit_add(
            actor=request.user,
            patient=patient,
            location=_location_of(organisation, payload.location),
            method=payload.method,
            amount=payload.amount,
            currency=payload.currency,
            note=payload.note,
        )
        return 201, PaymentOut.model_validate(_payment_out(payment)).model_dump(mode="json")

    status, body = run_once(request, f"billing.deposit:{patient_id}", put)
    return Status(status, body)


# --- prices and the cash report -------------------------------------------------------------------------------------


@router.get("/price-list", response=list[PriceRowOut], summary="Every active service's price at a location on a day")
def price_list(request: HttpRequest, filters: Query[PriceListFilterIn]) -> Any:
    organisation = _organisation(request)
    location = _location_of(organisation, filters.location)
    day = filters.date or timezone.localdate(timezone=location.zone)
    return [
        {
            "service": row.service.pk,
            "service_name": row.service.display_name(),
            "price": row.price,
            "currency": organisation.currency,
            "price_list": row.price_list.pk if row.price_list else None,
        }
        for row in selectors.price_list_rows(organisation=organisation, location=location, day=day)
    ]


@router.get("/cash-report", response=CashReportOut, summary="Money taken and refunded at a location on a day")
def cash_report(request: HttpRequest, filters: Query[CashReportFilterIn]) -> Any:
    report = selectors.cash_report(
        user=request.user, organisation=_organisation(request), location_id=filters.location, day=filters.date
    )
    return {
        "location": report.location.pk,
        "date": report.day,
        "currency": report.currency,
        "methods": [
            {
                "method": row.method,
                "taken": row.taken,
                "taken_count": row.taken_count,
                "refunded": row.refunded,
                "refunded_count": row.refunded_count,
                "net": row.net,
            }
            for row in report.rows
        ],
        "taken": report.taken,
        "refunded": report.refunded,
        "net": report.net,
        "invoices_issued": report.invoices_issued,
        "invoices_total": report.invoices_total,
        "credit_notes": report.credit_notes,
        "deposit_in": report.deposit_in,
    }
