"""Invoice use cases: build a draft (from a visit or by hand), edit its lines, discount and payer, issue it with the
next number of the year, cancel it (a draft is simply dropped; an issued invoice gets a credit note).

A draft may change freely and has no number; issuing freezes it, charges the payer's account and takes the next
number in the organisation's yearly series; an issued invoice is never edited or deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict, Unpack

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import snapshot
from kabinet.billing import access, hooks, selectors
from kabinet.billing.models import (
    ZERO,
    CreditNote,
    Discount,
    DiscountKind,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    format_number,
)
from kabinet.billing.pricing import cents, has_cents_at_most, invoice_totals, line_amounts
from kabinet.billing.services._common import (
    INVOICE_FIELDS,
    audit,
    in_org_language,
    lock_account,
    lock_invoice,
    money,
    next_number,
    post,
    timeline,
)
from kabinet.core.exceptions import Conflict, Invalid
from kabinet.core.models import Location
from kabinet.patients.models import Patient, Relationship
from kabinet.scheduling.models import Appointment, Service

MAX_LINES = 100
MAX_QUANTITY = Decimal("9999999.99")
NOT_BILLABLE = (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)


@dataclass(frozen=True)
class LineInput:
    """A line to add: a service (its price from the price list unless `unit_price` is given) or a free item."""

    service_id: int | None = None
    description: str = ""
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    discount_kind: str = ""
    discount_value: Decimal = ZERO


def _decimal(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = [_("Enter a number.")]
        return None
    if not number.is_finite() or not has_cents_at_most(number):
        errors[field] = [_("Use a number with at most two decimal places.")]
        return None
    return number


def _check_discount(kind: str, value: Any, errors: dict[str, list[str]], field: str) -> tuple[str, Decimal]:
    if not kind:
        return "", ZERO
    if kind not in DiscountKind.values:
        errors[field] = [_("Choose percent or a fixed amount.")]
        return "", ZERO
    number = _decimal(value, f"{field}_value", errors)
    if number is None:
        return "", ZERO
    if number < 0:
        errors[f"{field}_value"] = [_("A discount cannot be negative.")]
    elif kind == DiscountKind.PERCENT and number > 100:
        errors[f"{field}_value"] = [_("A percentage is at most 100.")]
    return kind, cents(number)


def _build_line(invoice: Invoice, line: LineInput, position: int) -> InvoiceLine:
    """A checked, priced line (not saved). The service's name is taken in the invoice's language."""
    errors: dict[str, list[str]] = {}
    service = None
    if line.service_id is not None:
        service = Service.objects.filter(pk=line.service_id, organisation_id=invoice.organisation_id).first()
        if service is None:
            errors["service"] = [_("Unknown service.")]
    description = (line.description or "").strip()[:300]
    if service is None and not description and "service" not in errors:
        errors["description"] = [_("Choose a service or describe the item.")]
    quantity = _decimal(line.quantity, "quantity", errors)
    if quantity is not None and not ZERO < quantity <= MAX_QUANTITY:
        errors["quantity"] = [_("The quantity must be more than zero.")]
    unit_price: Decimal | None = None
    if line.unit_price is not None:
        unit_price = _decimal(line.unit_price, "unit_price", errors)
        if unit_price is not None and unit_price < 0:
            errors["unit_price"] = [_("A price cannot be negative.")]
    elif service is None and "service" not in errors:
        errors["unit_price"] = [_("Enter the price.")]
    kind, value = _check_discount(line.discount_kind, line.discount_value, errors, "discount")
    if errors:
        raise Invalid(errors=errors)
    assert quantity is not None
    if unit_price is None:
        assert service is not None
        unit_price = selectors.price_on(service=service, location=invoice.location, day=invoice.service_date)
    amounts = line_amounts(quantity, unit_price, kind, value)
    return InvoiceLine(
        invoice=invoice,
        position=position,
        service=service,
        description=description or (service.display_name(invoice.language) if service else ""),
        quantity=quantity,
        unit_price=cents(unit_price),
        discount_kind=kind,
        discount_value=value,
        discount_amount=amounts.discount,
        total=amounts.total,
    )


def _recompute(invoice: Invoice) -> None:
    totals = invoice_totals(
        invoice.lines.values_list("total", flat=True), invoice.discount_kind, invoice.discount_value
    )
    invoice.subtotal, invoice.discount_amount, invoice.total = totals.subtotal, totals.discount, totals.total
    invoice.save(update_fields=["subtotal", "discount_amount", "total", "updated_at"])


def _check_payer(patient: Patient, payer: Patient | None) -> Patient:
    """The account that pays: the patient, or a relative linked to them in the family (a parent for a child)."""
    if payer is None or payer.pk == patient.pk:
        return patient
    linked = Relationship.objects.filter(
        Q(patient=patient, relative=payer) | Q(patient=payer, relative=patient), organisation_id=patient.organisation_id
    ).exists()
    if payer.organisation_id != patient.organisation_id or not linked:
        message = _("Only the patient or a relative linked in the family can pay for the patient.")
        raise Invalid(message, errors={"payer": [message]}, code="payer_not_related")
    return payer


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.DRAFT:
        raise Conflict(
            _("The invoice is issued and can no longer change. Cancel it with a credit note and make a new one."),
            code="invoice_not_draft",
        )


def _apply_patient_discount(invoice: Invoice, patient: Patient) -> None:
    discount = selectors.discount_for_patient(patient, invoice.service_date)
    if discount is not None:
        invoice.discount, invoice.discount_kind, invoice.discount_value = discount, discount.kind, discount.value


def _discount_by_code(invoice: Invoice, code: str) -> Discount:
    discount = selectors.discount_by_code(invoice.organisation_id, code, invoice.service_date)
    if discount is None:
        message = _("No valid discount has this card number or code.")
        raise Invalid(message, errors={"discount_code": [message]}, code="discount_unknown")
    return discount


class DraftOptions(TypedDict, total=False):
    """What a new draft may be given besides its patient and location; `_create` holds the defaults."""

    lines: Sequence[LineInput]
    service_date: date | None
    appointment: Appointment | None
    payer: Patient | None
    payer_name: str
    payer_details: str
    discount_code: str
    note: str


def invoice_create(*, actor: Any, patient: Patient, location: Location, **options: Unpack[DraftOptions]) -> Invoice:
    """A draft invoice for the patient. Lines are priced at the location's prices of the service date; the
    patient's own discount applies unless a card or code is given. One live invoice per visit (409 otherwise)."""
    access.require_write(actor, patient.organisation)
    return _create(actor=actor, patient=patient, location=location, **options)


def _create(
    *,
    actor: Any,
    patient: Patient,
    location: Location,
    lines: Sequence[LineInput] = (),
    service_date: date | None = None,
    appointment: Appointment | None = None,
    payer: Patient | None = None,
    payer_name: str = "",
    payer_details: str = "",
    discount_code: str = "",
    note: str = "",
    patient_discount: bool = True,
) -> Invoice:
    organisation = patient.organisation
    if location.organisation_id != organisation.pk:
        raise Invalid(errors={"location": [_("Unknown location.")]})
    if len(lines) > MAX_LINES:
        raise Invalid(errors={"lines": [_("At most %(n)s lines.") % {"n": MAX_LINES}]})
    account = _check_payer(patient, payer)
    if service_date is None:
        service_date = (
            selectors.local_date(appointment.start, location)
            if appointment
            else timezone.localdate(timezone=location.zone)
        )
    with transaction.atomic():
        invoice = Invoice(
            organisation=organisation,
            location=location,
            patient=patient,
            account=account,
            payer_name=payer_name.strip()[:300],
            payer_details=payer_details.strip()[:500],
            appointment=appointment,
            currency=organisation.currency,
            language=patient.language or organisation.default_language,
            service_date=service_date,
            note=note.strip(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if discount_code.strip():
            discount = _discount_by_code(invoice, discount_code)
            invoice.discount, invoice.discount_kind, invoice.discount_value = discount, discount.kind, discount.value
        elif patient_discount:
            _apply_patient_discount(invoice, patient)
        try:
            with transaction.atomic():
                invoice.save()
        except IntegrityError as exc:
            if "invoice_one_per_appointment" in str(exc) or (appointment and _live_exists(appointment)):
                raise Conflict(_("This visit already has an invoice."), code="invoice_exists") from exc
            raise
        built = []
        for i, line in enumerate(lines):
            try:
                built.append(_build_line(invoice, line, i))
            except Invalid as exc:  # name the line: "lines.2.unit_price"
                raise Invalid(errors={f"lines.{i}.{k}": v for k, v in exc.errors.items()}) from exc
        InvoiceLine.objects.bulk_create(built)
        _recompute(invoice)
        audit(
            actor=actor,
            action="billing.invoice_created",
            obj=invoice,
            patient_id=patient.pk,
            after={**snapshot(invoice, INVOICE_FIELDS), "lines": len(lines)},
        )
    return invoice


def _live_exists(appointment: Appointment) -> bool:
    return Invoice.objects.filter(appointment=appointment).exclude(status=Invoice.Status.CANCELLED).exists()


def invoice_create_for_visit(
    *,
    actor: Any,
    appointment: Appointment,
    payer: Patient | None = None,
    payer_name: str = "",
    payer_details: str = "",
    discount_code: str = "",
) -> Invoice:
    """A draft invoice for a visit: its service at the price valid on the visit's date at its location."""
    access.require_write(actor, appointment.organisation_id)
    if appointment.status in NOT_BILLABLE:
        message = _("A cancelled visit or a no-show is not billed from the visit; add the lines by hand.")
        raise Invalid(message, code="appointment_not_billable")
    if _live_exists(appointment):
        raise Conflict(_("This visit already has an invoice."), code="invoice_exists")
    return invoice_create(
        actor=actor,
        patient=appointment.patient,
        location=appointment.location,
        lines=[LineInput(service_id=appointment.service_id)],
        appointment=appointment,
        payer=payer,
        payer_name=payer_name,
        payer_details=payer_details,
        discount_code=discount_code,
    )


def invoice_line_add(*, actor: Any, invoice: Invoice, line: LineInput) -> InvoiceLine:
    """Add a line to a draft (e.g. materials used, a second procedure)."""
    access.require_write(actor, invoice.organisation_id)
    with transaction.atomic():
        current = lock_invoice(invoice)
        _require_draft(current)
        count = current.lines.count()
        if count >= MAX_LINES:
            raise Invalid(errors={"lines": [_("At most %(n)s lines.") % {"n": MAX_LINES}]})
        new = _build_line(current, line, count)
        new.save()
        _recompute(current)
        audit(
            actor=actor,
            action="billing.invoice_line_added",
            obj=current,
            patient_id=current.patient_id,
            after=snapshot(new, ["description", "service", "quantity", "unit_price", "discount_amount", "total"]),
        )
    return new


def invoice_line_remove(*, actor: Any, invoice: Invoice, line_id: int) -> None:
    access.require_write(actor, invoice.organisation_id)
    with transaction.atomic():
        current = lock_invoice(invoice)
        _require_draft(current)
        line = current.lines.filter(pk=line_id).first()
        if line is None:
            raise Invalid(errors={"line": [_("No such line on this invoice.")]})
        before = snapshot(line, ["description", "service", "quantity", "unit_price", "total"])
        line.delete()
        _recompute(current)
        audit(
            actor=actor,
            action="billing.invoice_line_removed",
            obj=current,
            patient_id=current.patient_id,
            before=before,
        )


def invoice_discount_set(
    *, actor: Any, invoice: Invoice, code: str = "", kind: str = "", value: Decimal | str | None = None
) -> Invoice:
    """The invoice-wide discount, applied after the lines' own: a card or code, or a percent / amount typed by the
    registrar; nothing removes it."""
    access.require_write(actor, invoice.organisation_id)
    with transaction.atomic():
        current = lock_invoice(invoice)
        _require_draft(current)
        before = snapshot(current, ["discount_kind", "discount_value", "total"])
        if code.strip():
            discount: Discount | None = _discount_by_code(current, code)
            assert discount is not None
            new_kind, new_value = discount.kind, discount.value
        else:
            errors: dict[str, list[str]] = {}
            new_kind, new_value = _check_discount(kind, value if value is not None else ZERO, errors, "discount")
            if errors:
                raise Invalid(errors=errors)
            discount = None
        current.discount, current.discount_kind, current.discount_value = discount, new_kind, new_value
        current.save(update_fields=["discount", "discount_kind", "discount_value", "updated_at"])
        _recompute(current)
        audit(
            actor=actor,
            action="billing.invoice_discount_set",
            obj=current,
            patient_id=current.patient_id,
            before=before,
            after=snapshot(current, ["discount_kind", "discount_value", "total"]),
        )
    return current


def invoice_payer_set(
    *, actor: Any, invoice: Invoice, payer: Patient | None, payer_name: str = "", payer_details: str = ""
) -> Invoice:
    """Who pays a draft: the patient or a relative (whose deposit and debt it then uses), and a company printed
    as the buyer."""
    access.require_write(actor, invoice.organisation_id)
    with transaction.atomic():
        current = lock_invoice(invoice)
        _require_draft(current)
        before = snapshot(current, ["account", "payer_name", "payer_details"])
        current.account = _check_payer(current.patient, payer)
        current.payer_name, current.payer_details = payer_name.strip()[:300], payer_details.strip()[:500]
        current.save(update_fields=["account", "payer_name", "payer_details", "updated_at"])
        audit(
            actor=actor,
            action="billing.invoice_payer_set",
            obj=current,
            patient_id=current.patient_id,
            before=before,
            after=snapshot(current, ["account", "payer_name", "payer_details"]),
        )
    return current


def invoice_issue(*, actor: Any, invoice: Invoice) -> Invoice:
    """Number the draft (next in the organisation's series for the year of the local issue date), freeze it and
    charge its total to the paying account. A zero total is paid at once."""
    access.require_write(actor, invoice.organisation_id)
    return _issue(actor=actor, invoice=invoice)


def _issue(*, actor: Any, invoice: Invoice) -> Invoice:
    with transaction.atomic():
        current = lock_invoice(invoice)
        _require_draft(current)
        if not current.lines.exists():
            message = _("Add at least one line before issuing the invoice.")
            raise Invalid(message, code="invoice_empty")
        before = snapshot(current, INVOICE_FIELDS)
        today = timezone.localdate(timezone=current.location.zone)
        seq = next_number(current.organisation_id, today.year)
        current.number_year, current.number_seq, current.number = today.year, seq, format_number(today.year, seq)
        current.issue_date, current.issued_at = today, timezone.now()
        current.status = Invoice.Status.ISSUED
        current.status = current.status_for_paid()
        current.save()
        account = lock_account(current.account)
        account.debt += current.total
        account.save(update_fields=["debt", "updated_at"])
        post(account, LedgerEntry.Kind.CHARGE, -current.total, invoice=current)
        audit(
            actor=actor,
            action="billing.invoice_issued",
            obj=current,
            patient_id=current.patient_id,
            before=before,
            after=snapshot(current, INVOICE_FIELDS),
        )
        with in_org_language(current.organisation):
            title = _("Invoice %(number)s issued: %(total)s") % {
                "number": current.number,
                "total": money(current.total, current.organisation),
            }
            body = "" if not current.third_party else _("Paid by %(payer)s") % {"payer": _payer_label(current)}
        timeline(
            patient=current.patient,
            actor=actor,
            title=title,
            body=body,
            invoice=current,
            data={"status": current.status, "total": str(current.total)},
        )
        hooks.invoice_changed(current, actor=actor)
    return current


def _payer_label(invoice: Invoice) -> str:
    return invoice.payer_name or str(invoice.account)


def invoice_cancel(*, actor: Any, invoice: Invoice, reason: str) -> Invoice:
    """Drop a draft, or cancel an issued invoice with a credit note (numbered in the same series) that reverses
    the charge. An invoice with money on it must be refunded first: a cancellation never makes money vanish."""
    access.require_write(actor, invoice.organisation_id)
    return _cancel(actor=actor, invoice=invoice, reason=reason)


def _cancel(*, actor: Any, invoice: Invoice, reason: str) -> Invoice:
    reason = (reason or "").strip()[:500]
    if not reason:
        raise Invalid(errors={"reason": [_("Say why the invoice is cancelled.")]}, code="reason_required")
    with transaction.atomic():
        current = lock_invoice(invoice)
        if current.status == Invoice.Status.CANCELLED:
            raise Conflict(_("The invoice is already cancelled."), code="invoice_cancelled")
        if current.paid_amount > 0:
            message = _("Refund the %(paid)s paid on this invoice before cancelling it.") % {
                "paid": money(current.paid_amount, current.organisation)
            }
            raise Conflict(message, code="invoice_has_payments")
        before = snapshot(current, INVOICE_FIELDS)
        was_issued = current.is_live
        current.status = Invoice.Status.CANCELLED
        current.cancelled_at, current.cancel_reason = timezone.now(), reason
        current.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
        credit = None
        if was_issued:
            today = timezone.localdate(timezone=current.location.zone)
            seq = next_number(current.organisation_id, today.year)
            credit = CreditNote.objects.create(
                organisation_id=current.organisation_id,
                invoice=current,
                number=format_number(today.year, seq),
                number_year=today.year,
                number_seq=seq,
                amount=current.total,
                reason=reason,
                issue_date=today,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            account = lock_account(current.account)
            account.debt -= current.total
            account.save(update_fields=["debt", "updated_at"])
            post(account, LedgerEntry.Kind.ADJUSTMENT, current.total, invoice=current)
        audit(
            actor=actor,
            action="billing.invoice_cancelled",
            obj=current,
            patient_id=current.patient_id,
            before=before,
            after={**snapshot(current, INVOICE_FIELDS), "credit_note": credit.number if credit else None},
        )
        if credit is not None:
            with in_org_language(current.organisation):
                title = _("Invoice %(number)s cancelled by credit note %(credit)s") % {
                    "number": current.number,
                    "credit": credit.number,
                }
            timeline(
                patient=current.patient,
                actor=actor,
                title=title,
                body=reason,
                invoice=current,
                data={"status": current.status},
            )
        hooks.invoice_changed(current, actor=actor)
    return current
