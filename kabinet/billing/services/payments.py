"""Money use cases: payments on invoices (cash, card, bank transfer or the deposit), refunds, and deposits
(advances) put in or paid out. Each one writes a Payment row (what changed hands at which desk), the ledger entries
that explain it, and updates the invoice and the paying account under their row locks.

Rules:
- amounts are above zero, with at most two decimal places, in the organisation's currency (422 otherwise);
- a payment above what the invoice still lacks is refused unless the registrar says to put the rest on the
  deposit; a payment from the deposit is at most the deposit and at most what the invoice lacks;
- a refund is at most what was paid on that invoice (net of earlier refunds); a deposit pays out at most itself;
- an invoice's paid amount stays between zero and its total, a deposit never goes below zero.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kabinet.audit.services import snapshot
from kabinet.billing import access, hooks
from kabinet.billing.models import ZERO, Invoice, LedgerEntry, Payment, PaymentMethod
from kabinet.billing.services._common import (
    INVOICE_FIELDS,
    audit,
    check_amount,
    check_currency,
    check_method,
    in_org_language,
    lock_account,
    lock_invoice,
    money,
    post,
    timeline,
)
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Location
from kabinet.patients.models import Patient

PAYMENT_FIELDS = ["kind", "method", "amount", "applied_amount", "deposit_amount", "currency", "invoice", "account"]


def _require_live(invoice: Invoice) -> None:
    if invoice.status == Invoice.Status.DRAFT:
        message = _("Issue the invoice before taking money for it.")
        raise Invalid(message, code="invoice_not_issued")
    if invoice.status == Invoice.Status.CANCELLED:
        raise Invalid(_("The invoice is cancelled."), code="invoice_cancelled")


def _method_label(method: str) -> str:
    return str(PaymentMethod(method).label)


def payment_take(
    *,
    actor: Any,
    invoice: Invoice,
    method: str,
    amount: Any,
    currency: str,
    to_deposit: bool = False,
    note: str = "",
) -> Payment:
    """Take a payment for an issued invoice at its location's desk."""
    access.require_write(actor, invoice.organisation_id)
    check_method(method)
    value = check_amount(amount)
    check_currency(currency, invoice.organisation)
    with transaction.atomic():
        current = lock_invoice(invoice)
        _require_live(current)
        organisation = current.organisation
        before = snapshot(current, INVOICE_FIELDS)
        account = lock_account(current.account)
        lacking = current.total - current.paid_amount
        applied = min(value, lacking)
        rest = value - applied
        if method == PaymentMethod.DEPOSIT:
            if rest > 0:
                message = _("A payment from the deposit can be at most what the invoice still lacks: %(due)s.") % {
                    "due": money(lacking, organisation)
                }
                raise Invalid(message, errors={"amount": [message]}, code="overpayment")
            if value > account.deposit:
                message = _("The deposit holds only %(deposit)s.") % {"deposit": money(account.deposit, organisation)}
                raise Invalid(message, errors={"amount": [message]}, code="deposit_insufficient")
        elif rest > 0 and not to_deposit:
            message = _(
                "The invoice still lacks only %(due)s. Take that amount, or put the remaining %(rest)s on the deposit."
            ) % {"due": money(lacking, organisation), "rest": money(rest, organisation)}
            raise Invalid(message, errors={"amount": [message]}, code="overpayment")
        payment = Payment.objects.create(
            organisation=organisation,
            location=current.location,
            account=current.account,
            invoice=current,
            kind=Payment.Kind.PAYMENT,
            method=method,
            amount=value,
            applied_amount=applied,
            deposit_amount=rest,
            currency=organisation.currency,
            note=(note or "").strip()[:500],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if method == PaymentMethod.DEPOSIT:
            account.deposit -= value
            post(account, LedgerEntry.Kind.DEPOSIT_USE, -value, invoice=current, payment=payment)
        if applied > 0:
            current.paid_amount += applied
            account.debt -= applied
            post(account, LedgerEntry.Kind.PAYMENT, applied, invoice=current, payment=payment)
        if rest > 0:
            account.deposit += rest
            post(account, LedgerEntry.Kind.DEPOSIT_IN, rest, invoice=current, payment=payment)
        current.status = current.status_for_paid()
        current.save(update_fields=["paid_amount", "status", "updated_at"])
        account.save(update_fields=["deposit", "debt", "updated_at"])
        audit(
            actor=actor,
            action="billing.payment_taken",
            obj=current,
            patient_id=current.patient_id,
            before=before,
            after={**snapshot(current, INVOICE_FIELDS), "payment": snapshot(payment, PAYMENT_FIELDS)},
        )
        with in_org_language(organisation):
            title = _("Payment %(amount)s (%(method)s) for invoice %(number)s") % {
                "amount": money(value, organisation),
                "method": _method_label(method),
                "number": current.number,
            }
            body = _("%(rest)s put on the deposit") % {"rest": money(rest, organisation)} if rest > 0 else ""
        timeline(
            patient=current.patient,
            actor=actor,
            title=title,
            body=body,
            invoice=current,
            data={"payment": payment.pk, "status": current.status},
        )
        hooks.invoice_changed(current, actor=actor)
    return payment


def refund_make(*, actor: Any, invoice: Invoice, method: str, amount: Any, currency: str, reason: str = "") -> Payment:
    """Give back money paid on an invoice — in cash, to the card, by transfer, or onto the payer's deposit."""
    access.require_write(actor, invoice.organisation_id)
    check_method(method)
    value = check_amount(amount)
    check_currency(currency, invoice.organisation)
    with transaction.atomic():
        current = lock_invoice(invoice)
        _require_live(current)
        organisation = current.organisation
        if value > current.paid_amount:
            message = _("A refund can be at most what was paid on this invoice: %(paid)s.") % {
                "paid": money(current.paid_amount, organisation)
            }
            raise Invalid(message, errors={"amount": [message]}, code="refund_above_paid")
        before = snapshot(current, INVOICE_FIELDS)
        account = lock_account(current.account)
        to_deposit = value if method == PaymentMethod.DEPOSIT else ZERO
        payment = Payment.objects.create(
            organisation=organisation,
            location=current.location,
            account=current.account,
            invoice=current,
            kind=Payment.Kind.REFUND,
            method=method,
            amount=value,
            applied_amount=value,
            deposit_amount=to_deposit,
            currency=organisation.currency,
            note=(reason or "").strip()[:500],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        current.paid_amount -= value
        account.debt += value
        post(account, LedgerEntry.Kind.REFUND, -value, invoice=current, payment=payment)
        if to_deposit:
            account.deposit += to_deposit
            post(account, LedgerEntry.Kind.DEPOSIT_IN, to_deposit, invoice=current, payment=payment)
        current.status = current.status_for_paid()
        current.save(update_fields=["paid_amount", "status", "updated_at"])
        account.save(update_fields=["deposit", "debt", "updated_at"])
        audit(
            actor=actor,
            action="billing.refund_made",
            obj=current,
            patient_id=current.patient_id,
            before=before,
            after={**snapshot(current, INVOICE_FIELDS), "payment": snapshot(payment, PAYMENT_FIELDS)},
        )
        with in_org_language(organisation):
            title = _("Refund %(amount)s (%(method)s) for invoice %(number)s") % {
                "amount": money(value, organisation),
                "method": _method_label(method),
                "number": current.number,
            }
        timeline(
            patient=current.patient,
            actor=actor,
            title=title,
            body=payment.note,
            invoice=current,
            data={"payment": payment.pk, "status": current.status},
        )
        hooks.invoice_changed(current, actor=actor)
    return payment


def _check_location(location: Location, patient: Patient) -> None:
    if location.organisation_id != patient.organisation_id:
        raise Invalid(errors={"location": [_("Unknown location.")]})


def deposit_add(
    *, actor: Any, patient: Patient, location: Location, method: str, amount: Any, currency: str, note: str = ""
) -> Payment:
    """Take an advance onto the patient's deposit (used later for this patient's or their wards' invoices)."""
    access.require_write(actor, patient.organisation_id)
    check_method(method, deposit_allowed=False)
    value = check_amount(amount)
    organisation = patient.organisation
    check_currency(currency, organisation)
    _check_location(location, patient)
    with transaction.atomic():
        account = lock_account(patient)
        before = {"deposit": str(account.deposit)}
        payment = Payment.objects.create(
            organisation=organisation,
            location=location,
            account=patient,
            kind=Payment.Kind.PAYMENT,
            method=method,
            amount=value,
            deposit_amount=value,
            currency=organisation.currency,
            note=(note or "").strip()[:500],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        account.deposit += value
        account.save(update_fields=["deposit", "updated_at"])
        post(account, LedgerEntry.Kind.DEPOSIT_IN, value, payment=payment)
        audit(
            actor=actor,
            action="billing.deposit_added",
            obj=payment,
            patient_id=patient.pk,
            before=before,
            after={"deposit": str(account.deposit), "payment": snapshot(payment, PAYMENT_FIELDS)},
        )
        with in_org_language(organisation):
            title = _("Deposit topped up: %(amount)s (%(method)s)") % {
                "amount": money(value, organisation),
                "method": _method_label(method),
            }
        timeline(patient=patient, actor=actor, title=title, body=payment.note, data={"payment": payment.pk})
    return payment


def deposit_withdraw(
    *, actor: Any, patient: Patient, location: Location, method: str, amount: Any, currency: str, note: str = ""
) -> Payment:
    """Pay out (part of) the patient's deposit; never more than it holds."""
    access.require_write(actor, patient.organisation_id)
    check_method(method, deposit_allowed=False)
    value = check_amount(amount)
    organisation = patient.organisation
    check_currency(currency, organisation)
    _check_location(location, patient)
    with transaction.atomic():
        account = lock_account(patient)
        if value > account.deposit:
            message = _("The deposit holds only %(deposit)s.") % {"deposit": money(account.deposit, organisation)}
            raise Invalid(message, errors={"amount": [message]}, code="deposit_insufficient")
        before = {"deposit": str(account.deposit)}
        payment = Payment.objects.create(
            organisation=organisation,
            location=location,
            account=patient,
            kind=Payment.Kind.REFUND,
            method=method,
            amount=value,
            deposit_amount=value,
            currency=organisation.currency,
            note=(note or "").strip()[:500],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        account.deposit -= value
        account.save(update_fields=["deposit", "updated_at"])
        post(account, LedgerEntry.Kind.REFUND, -value, payment=payment)
        audit(
            actor=actor,
            action="billing.deposit_withdrawn",
            obj=payment,
            patient_id=patient.pk,
            before=before,
            after={"deposit": str(account.deposit), "payment": snapshot(payment, PAYMENT_FIELDS)},
        )
        with in_org_language(organisation):
            title = _("Deposit paid out: %(amount)s (%(method)s)") % {
                "amount": money(value, organisation),
                "method": _method_label(method),
            }
        timeline(patient=patient, actor=actor, title=title, body=payment.note, data={"payment": payment.pk})
    return payment
