"""Money under real concurrency: threads with their own database connections issue invoices and take payments at
once. Gap-free numbers, no invoice paid twice, no deposit spent twice — on SQLite (IMMEDIATE transactions) and
PostgreSQL (row locks) alike."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from kabinet.billing import services
from kabinet.billing.models import Account, Invoice, Payment
from kabinet.billing.services import LineInput
from kabinet.core.exceptions import DomainError

RACERS = 6

pytestmark = pytest.mark.django_db(transaction=True)


def race(works: list[Callable[[], str]]) -> Counter[str]:
    barrier = threading.Barrier(len(works))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(work: Callable[[], str]) -> None:
        try:
            barrier.wait()
            result = work()
        except DomainError as exc:
            result = exc.code
        except Exception as exc:  # collected and asserted below
            result = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def drafts(bill, count: int) -> list[Invoice]:
    return [
        services.invoice_create(
            actor=bill.registrar,
            patient=bill.patient,
            location=bill.clinic.location,
            lines=[LineInput(description=f"Item {i}", unit_price=Decimal("40"))],
        )
        for i in range(count)
    ]


def test_invoices_issued_at_once_get_consecutive_numbers(bill) -> None:
    def issuer(invoice: Invoice) -> Callable[[], str]:
        return lambda: services.invoice_issue(actor=bill.registrar, invoice=invoice).number

    outcomes = race([issuer(invoice) for invoice in drafts(bill, RACERS)])
    assert sum(outcomes.values()) == RACERS and all(count == 1 for count in outcomes.values()), outcomes
    assert sorted(n or 0 for n in Invoice.objects.values_list("number_seq", flat=True)) == list(range(1, RACERS + 1))
    assert Account.objects.get(patient=bill.patient).debt == Decimal("40.00") * RACERS


def test_one_invoice_paid_in_full_from_several_desks_at_once_is_paid_once(bill) -> None:
    [invoice] = drafts(bill, 1)
    invoice = services.invoice_issue(actor=bill.registrar, invoice=invoice)

    def pay() -> str:
        services.payment_take(actor=bill.registrar, invoice=invoice, method="cash", amount="40", currency="EUR")
        return "paid"

    assert race([pay] * RACERS) == Counter({"paid": 1, "overpayment": RACERS - 1})
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, Payment.objects.count()) == ("paid", Decimal("40.00"), 1)


def test_a_deposit_is_never_spent_twice(bill) -> None:
    services.deposit_add(
        actor=bill.registrar,
        patient=bill.patient,
        location=bill.clinic.location,
        method="cash",
        amount="40",
        currency="EUR",
    )
    invoices = [services.invoice_issue(actor=bill.registrar, invoice=draft) for draft in drafts(bill, RACERS)]

    def from_deposit(invoice: Invoice) -> Callable[[], str]:
        def pay() -> str:
            services.payment_take(actor=bill.registrar, invoice=invoice, method="deposit", amount="40", currency="EUR")
            return "paid"

        return pay

    outcomes = race([from_deposit(invoice) for invoice in invoices])
    assert outcomes == Counter({"paid": 1, "deposit_insufficient": RACERS - 1})
    account = Account.objects.get(patient=bill.patient)
    assert (account.deposit, account.debt) == (Decimal("0.00"), Decimal("40.00") * (RACERS - 1))
