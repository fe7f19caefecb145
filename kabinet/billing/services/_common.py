"""What the billing use cases share: checks of amounts and currency, row locks, ledger postings, audit and timeline.

Locks are always taken in the same order — invoice, then document sequence, then account — so two desks working
on one family never deadlock. On SQLite every transaction is IMMEDIATE (settings), which serialises writers; on
PostgreSQL the rows are locked with SELECT … FOR UPDATE.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.billing.models import Account, DocumentSequence, Invoice, LedgerEntry, Payment, PaymentMethod
from kabinet.billing.pricing import cents, format_money, has_cents_at_most
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Organisation
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.patients.services import timeline_add

MAX_AMOUNT = Decimal("9999999999.99")
INVOICE_FIELDS = [
    "status",
    "number",
    "account",
    "payer_name",
    "payer_details",
    "discount_kind",
    "discount_value",
    "subtotal",
    "discount_amount",
    "total",
    "paid_amount",
]


def check_amount(value: Any, field: str = "amount") -> Decimal:
    """A positive amount with at most two decimal places, as cents; Invalid with the reason otherwise."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise Invalid(errors={field: [_("Enter an amount, e.g. 120.50.")]}, code="amount_invalid") from None
    if not amount.is_finite():
        raise Invalid(errors={field: [_("Enter an amount, e.g. 120.50.")]}, code="amount_invalid")
    if amount <= 0:
        raise Invalid(
            _("The amount must be more than zero."),
            errors={field: [_("The amount must be more than zero.")]},
            code="amount_not_positive",
        )
    if not has_cents_at_most(amount):
        raise Invalid(
            _("Use at most two decimal places."),
            errors={field: [_("Use at most two decimal places.")]},
            code="amount_precision",
        )
    if amount > MAX_AMOUNT:
        raise Invalid(errors={field: [_("The amount is too large.")]}, code="amount_too_large")
    return cents(amount)


def check_currency(currency: str, organisation: Organisation) -> None:
    if (currency or "").strip().upper() != organisation.currency:
        message = _("This clinic takes payments in %(currency)s only.") % {"currency": organisation.currency}
        raise Invalid(message, errors={"currency": [message]}, code="currency_mismatch")


def check_method(method: str, *, deposit_allowed: bool = True) -> str:
    allowed = [m for m in PaymentMethod.values if deposit_allowed or m != PaymentMethod.DEPOSIT]
    if method not in allowed:
        raise Invalid(errors={"method": [_("Choose a payment method from the list.")]}, code="method_invalid")
    return method


def lock_invoice(invoice: Invoice) -> Invoice:
    """The invoice re-read under its row lock (only this row: the patients it joins stay free)."""
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "location", "patient", "account")
        .get(pk=invoice.pk)
    )


def lock_account(patient: Patient) -> Account:
    Account.objects.get_or_create(patient_id=patient.pk, defaults={"organisation_id": patient.organisation_id})
    return Account.objects.select_for_update().get(patient_id=patient.pk)


def next_number(organisation_id: int, year: int) -> int:
    """The next invoice / credit note number of the year, gap-free: taken under the sequence row's lock in the
    transaction that issues the document, so a rollback gives the number back."""
    DocumentSequence.objects.get_or_create(organisation_id=organisation_id, year=year)
    sequence = DocumentSequence.objects.select_for_update().get(organisation_id=organisation_id, year=year)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return sequence.last_value


def post(
    account: Account, kind: str, amount: Decimal, *, invoice: Invoice | None = None, payment: Payment | None = None
) -> LedgerEntry:
    return LedgerEntry.objects.create(
        organisation_id=account.organisation_id,
        account_id=account.patient_id,
        kind=kind,
        amount=amount,
        invoice=invoice,
        payment=payment,
    )


def audit(
    *,
    actor: Any,
    action: str,
    obj: Any,
    patient_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record(actor=actor, action=action, obj=obj, patient=patient_id, before=before, after=after)


def in_org_language(organisation: Organisation) -> translation.override:
    """Timeline lines are stored as text in the clinic's language (the staff of one clinic share it)."""
    return translation.override(organisation.default_language)


def money(amount: Decimal, organisation: Organisation) -> str:
    return format_money(amount, organisation.currency)


def timeline(
    *, patient: Patient, actor: Any, title: str, body: str = "", invoice: Invoice | None = None, data: dict[str, Any]
) -> None:
    """A "payment" line on the patient's timeline — and on the payer's, when a relative pays for the patient."""
    patients = [patient]
    if invoice is not None and invoice.account_id != patient.pk:
        patients.append(invoice.account)
    for who in patients:
        timeline_add(
            patient=who,
            kind=TimelineEntry.Kind.PAYMENT,
            title=title,
            body=body,
            actor=actor,
            occurred_at=timezone.now(),
            ref_type="billing.invoice" if invoice is not None else "billing.account",
            ref_id=invoice.pk if invoice is not None else patient.pk,
            data=data,
        )
