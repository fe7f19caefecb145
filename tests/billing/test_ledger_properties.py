"""Property test: after any sequence of billing operations (invoices for a parent and a child paid by either,
payments by every method with and without overpayment, refunds, deposits in and out, cancellations), the books
agree with a plain reference model and with themselves:

- every account's ledger sums to its balance: payments + deposits in − charges − refunds ± adjustments
  = deposit − debt, where the debt is recomputed from the invoices table;
- a deposit never goes negative; an invoice's paid amount stays within 0 … total and equals its payments minus
  its refunds in the ledger; the status follows the paid amount;
- every refused operation (bad amount, overpayment, refund above paid…) is refused with the reason the model
  expects and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kabinet.billing import services
from kabinet.billing.models import ZERO, Account, Invoice, LedgerEntry
from kabinet.billing.pricing import invoice_totals, line_amounts
from kabinet.billing.services import LineInput
from kabinet.core.exceptions import DomainError

pytestmark = pytest.mark.django_db

cents = st.integers(min_value=-500, max_value=40000).map(lambda c: Decimal(c) / 100)
methods = st.sampled_from(["cash", "card", "bank_transfer", "deposit"])
money_methods = st.sampled_from(["cash", "card", "bank_transfer"])
discounts = st.one_of(
    st.just(("", Decimal(0))),
    st.tuples(st.just("percent"), st.integers(1, 100).map(Decimal)),
    st.tuples(st.just("fixed"), st.integers(1, 30000).map(lambda c: Decimal(c) / 100)),
)
lines = st.lists(
    st.tuples(
        st.integers(1, 3).map(Decimal),
        st.integers(0, 20000).map(lambda c: Decimal(c) / 100),
        discounts,
    ),
    min_size=1,
    max_size=3,
)
operations = st.one_of(
    st.tuples(st.just("invoice"), st.booleans(), st.booleans(), lines, discounts, st.booleans()),
    st.tuples(st.just("pay"), st.integers(0, 5), methods, cents, st.booleans()),
    st.tuples(st.just("refund"), st.integers(0, 5), methods, cents),
    st.tuples(st.just("deposit_in"), st.booleans(), money_methods, cents),
    st.tuples(st.just("deposit_out"), st.booleans(), cents),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
)


@dataclass
class ModelInvoice:
    pk: int
    account: int
    total: Decimal
    paid: Decimal = ZERO
    status: str = "issued"


@dataclass
class Model:
    invoices: list[ModelInvoice] = field(default_factory=list)
    deposits: dict[int, Decimal] = field(default_factory=dict)


def expect_refusal(code: str | None, call: Any) -> bool:
    """Run `call`; if the model predicts a refusal (`code`), it must be refused with that code."""
    if code is not None:
        with pytest.raises(DomainError) as exc:
            call()
        assert exc.value.code == code, (exc.value.code, code)
        return False
    call()
    return True


def amount_problem(amount: Decimal) -> str | None:
    return "amount_not_positive" if amount <= 0 else None


def run(bill: Any, model: Model, op: tuple[Any, ...]) -> None:
    actor, location = bill.registrar, bill.clinic.location
    kind = op[0]
    if kind == "invoice":
        _, for_child, parent_pays, rows, (disc_kind, disc_value), issue = op
        patient = bill.ward if for_child else bill.patient
        invoice = services.invoice_create(
            actor=actor,
            patient=patient,
            location=location,
            lines=[
                LineInput(description=f"Item {i}", quantity=q, unit_price=p, discount_kind=k, discount_value=v)
                for i, (q, p, (k, v)) in enumerate(rows)
            ],
            payer=bill.patient if parent_pays else None,
        )
        services.invoice_discount_set(actor=actor, invoice=invoice, kind=disc_kind, value=disc_value)
        expected = invoice_totals(
            [line_amounts(q, p, k, v).total for q, p, (k, v) in rows], disc_kind, disc_value
        ).total
        invoice.refresh_from_db()
        assert invoice.total == expected
        if issue:
            services.invoice_issue(actor=actor, invoice=invoice)
            status = "paid" if expected == 0 else "issued"
            model.invoices.append(ModelInvoice(invoice.pk, invoice.account_id, expected, status=status))
        return
    if kind in ("pay", "refund", "cancel"):
        if not model.invoices:
            return
        target = model.invoices[op[1] % len(model.invoices)]
        invoice = Invoice.objects.get(pk=target.pk)
        live = target.status != "cancelled"
        deposit = model.deposits.get(target.account, ZERO)
        if kind == "pay":
            _, _, method, amount, to_deposit = op
            lacking = target.total - target.paid
            applied, rest = min(amount, lacking), amount - min(amount, lacking)
            code = amount_problem(amount) or (None if live else "invoice_cancelled")
            if code is None and method == "deposit":
                code = "overpayment" if rest > 0 else "deposit_insufficient" if amount > deposit else None
            elif code is None and rest > 0 and not to_deposit:
                code = "overpayment"
            call = lambda: services.payment_take(  # noqa: E731
                actor=actor, invoice=invoice, method=method, amount=amount, currency="EUR", to_deposit=to_deposit
            )
            if expect_refusal(code, call):
                target.paid += applied
                change = rest - (amount if method == "deposit" else ZERO)
                model.deposits[target.account] = deposit + change
        elif kind == "refund":
            _, _, method, amount = op
            code = amount_problem(amount) or (None if live else "invoice_cancelled")
            if code is None and amount > target.paid:
                code = "refund_above_paid"
            call = lambda: services.refund_make(  # noqa: E731
                actor=actor, invoice=invoice, method=method, amount=amount, currency="EUR"
            )
            if expect_refusal(code, call):
                target.paid -= amount
                if method == "deposit":
                    model.deposits[target.account] = deposit + amount
        else:
            code = "invoice_cancelled" if not live else "invoice_has_payments" if target.paid > 0 else None
            if expect_refusal(code, lambda: services.invoice_cancel(actor=actor, invoice=invoice, reason="test")):
                target.status = "cancelled"
        if target.status != "cancelled":
            target.status = "paid" if target.paid >= target.total else "partially_paid" if target.paid > 0 else "issued"
        return
    who = bill.ward if op[1] else bill.patient
    deposit = model.deposits.get(who.pk, ZERO)
    if kind == "deposit_in":
        _, _, method, amount = op
        call = lambda: services.deposit_add(  # noqa: E731
            actor=actor, patient=who, location=location, method=method, amount=amount, currency="EUR"
        )
        if expect_refusal(amount_problem(amount), call):
            model.deposits[who.pk] = deposit + amount
    else:
        _, _, amount = op
        code = amount_problem(amount) or ("deposit_insufficient" if amount > deposit else None)
        call = lambda: services.deposit_withdraw(  # noqa: E731
            actor=actor, patient=who, location=location, method="cash", amount=amount, currency="EUR"
        )
        if expect_refusal(code, call):
            model.deposits[who.pk] = deposit - amount


def check_books(bill: Any, model: Model) -> None:
    for patient in (bill.patient, bill.ward):
        account = Account.objects.filter(patient=patient).first()
        deposit, debt = (account.deposit, account.debt) if account else (ZERO, ZERO)
        entries = LedgerEntry.objects.filter(account=patient)
        sums = {k: v for k, v in entries.values_list("kind").annotate(total=Sum("amount")).order_by()}
        payments, deposits_in = sums.get("payment", ZERO), sums.get("deposit_in", ZERO)
        charges, refunds = -sums.get("charge", ZERO), -sums.get("refund", ZERO)
        adjustments, deposit_use = sums.get("adjustment", ZERO), -sums.get("deposit_use", ZERO)
        balance = payments + deposits_in - charges - refunds + adjustments - deposit_use
        assert balance == sum(entries.values_list("amount", flat=True), ZERO)
        live = Invoice.objects.filter(account=patient, status__in=Invoice.LIVE_STATUSES)
        owed = sum((i.total - i.paid_amount for i in live), ZERO)
        assert debt == owed
        assert balance == deposit - debt
        deposit_moves = entries.filter(kind__in=["deposit_in", "deposit_use"]) | entries.filter(
            kind="refund", invoice__isnull=True
        )
        assert deposit == sum(deposit_moves.values_list("amount", flat=True), ZERO)
        assert deposit >= 0
        assert deposit == model.deposits.get(patient.pk, ZERO)
    for expected in model.invoices:
        invoice = Invoice.objects.get(pk=expected.pk)
        assert ZERO <= invoice.paid_amount <= invoice.total
        assert (invoice.paid_amount, invoice.status) == (expected.paid, expected.status)
        moves = LedgerEntry.objects.filter(invoice=invoice, kind__in=["payment", "refund"])
        assert invoice.paid_amount == sum(moves.values_list("amount", flat=True), ZERO)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operations, min_size=1, max_size=18))
def test_the_books_balance_after_any_sequence_of_operations(bill, ops) -> None:
    with transaction.atomic():
        model = Model()
        for op in ops:
            run(bill, model, op)
            check_books(bill, model)
        transaction.set_rollback(True)
