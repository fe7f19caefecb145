"""Billing use cases: prices by date, discounts in order, invoices from visits, numbering, payments, deposits,
refunds, third-party payers, credit notes; every change audited and on the timeline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from kabinet.audit.models import AuditEvent
from kabinet.billing import selectors, services
from kabinet.billing.models import Account, CreditNote, DiscountKind, Invoice, LedgerEntry, Payment, PriceItem
from kabinet.billing.pricing import cents, discount_of, invoice_totals, line_amounts
from kabinet.billing.services import LineInput
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.patients.models import TimelineEntry
from tests.factories import LocationFactory, PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal


def issued_visit_invoice(bill, actor=None) -> Invoice:
    invoice = services.invoice_create_for_visit(actor=actor or bill.registrar, appointment=bill.visit)
    return services.invoice_issue(actor=actor or bill.registrar, invoice=invoice)


# --- money arithmetic ------------------------------------------------------------------------------------------------


def test_amounts_round_half_up_to_cents() -> None:
    assert cents(D("2.345")) == D("2.35")
    assert cents(D("2.344")) == D("2.34")
    assert cents(D("0.005")) == D("0.01")
    assert line_amounts(D("3"), D("33.335")).gross == D("100.01")  # 100.005 → 100.01


def test_line_discounts_apply_before_the_invoice_discount() -> None:
    first = line_amounts(D("2"), D("50.00"), DiscountKind.PERCENT, D("10"))  # 100 − 10
    second = line_amounts(D("1"), D("30.00"), DiscountKind.FIXED, D("5"))  # 30 − 5
    assert (first.total, second.total) == (D("90.00"), D("25.00"))
    totals = invoice_totals([first.total, second.total], DiscountKind.PERCENT, D("15"))  # on 115.00
    assert totals.subtotal == D("115.00")
    assert totals.discount == D("17.25")
    assert totals.total == D("97.75")


def test_no_discount_takes_an_amount_below_zero() -> None:
    assert discount_of(D("20.00"), DiscountKind.FIXED, D("50")) == D("20.00")
    assert line_amounts(D("1"), D("20.00"), DiscountKind.FIXED, D("50")).total == D("0.00")
    assert invoice_totals([D("10.00")], DiscountKind.PERCENT, D("100")).total == D("0.00")


# --- prices --------------------------------------------------------------------------------------------------------


def test_the_price_of_a_day_comes_from_the_latest_starting_valid_list_else_the_service_price(bill) -> None:
    clinic, day = bill.clinic, bill.clinic.day
    assert selectors.price_on(service=clinic.service, location=clinic.location, day=day) == D("50.00")
    yearly = services.price_list_create(
        actor=bill.admin, location=clinic.location, name="2030", valid_from=day - timedelta(days=30)
    )
    services.price_list_set_prices(actor=bill.admin, price_list=yearly, prices={clinic.service.pk: D("55.00")})
    spring = services.price_list_create(
        actor=bill.admin,
        location=clinic.location,
        name="Spring offer",
        valid_from=day,
        valid_to=day + timedelta(days=6),
        copy_from=yearly,
    )
    services.price_list_set_prices(
        actor=bill.admin, price_list=spring, prices={clinic.service.pk: D("45.50"), clinic.long_service.pk: D("280")}
    )
    price = selectors.price_on
    assert price(service=clinic.service, location=clinic.location, day=day - timedelta(days=1)) == D("55.00")
    assert price(service=clinic.service, location=clinic.location, day=day) == D("45.50")
    assert price(service=clinic.long_service, location=clinic.location, day=day) == D("280.00")
    assert price(service=clinic.service, location=clinic.location, day=day + timedelta(days=7)) == D("55.00")
    assert price(service=clinic.service, location=clinic.location, day=day - timedelta(days=31)) == D("50.00")
    other = LocationFactory.create(organisation=bill.org, name="Plovdiv")
    assert price(service=clinic.service, location=other, day=day) == D("50.00")  # lists are per location
    rows = {
        r.service.pk: r for r in selectors.price_list_rows(organisation=bill.org, location=clinic.location, day=day)
    }
    assert rows[clinic.service.pk].price == D("45.50") and rows[clinic.service.pk].price_list == spring
    assert rows[clinic.staff_only.pk].price == D("120.00") and rows[clinic.staff_only.pk].price_list is None
    services.price_list_set_prices(actor=bill.admin, price_list=spring, prices={clinic.service.pk: None})
    assert price(service=clinic.service, location=clinic.location, day=day) == D("55.00")


def test_only_administrators_edit_prices_and_prices_are_checked(bill) -> None:
    with pytest.raises(NotAllowed):
        services.price_list_create(
            actor=bill.registrar, location=bill.clinic.location, name="X", valid_from=date.today()
        )
    price_list = services.price_list_create(
        actor=bill.admin, location=bill.clinic.location, name="X", valid_from=date(2030, 1, 1)
    )
    with pytest.raises(Invalid) as exc:
        services.price_list_set_prices(
            actor=bill.admin, price_list=price_list, prices={bill.clinic.service.pk: D("-1")}
        )
    assert f"price_{bill.clinic.service.pk}" in exc.value.errors
    with pytest.raises(Invalid):
        services.price_list_update(
            actor=bill.admin, price_list=price_list, name="X", valid_from=date(2030, 2, 1), valid_to=date(2030, 1, 1)
        )
    assert not PriceItem.objects.exists()


# --- invoices ------------------------------------------------------------------------------------------------------


def test_an_invoice_for_a_visit_bills_its_service_at_the_price_of_the_visit_day(bill) -> None:
    clinic = bill.clinic
    price_list = services.price_list_create(
        actor=bill.admin, location=clinic.location, name="Now", valid_from=clinic.day
    )
    services.price_list_set_prices(actor=bill.admin, price_list=price_list, prices={clinic.service.pk: D("60.00")})
    invoice = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    assert invoice.status == Invoice.Status.DRAFT and invoice.number == ""
    assert invoice.service_date == clinic.day and invoice.currency == "EUR"
    [line] = invoice.lines.all()
    assert (line.service, line.description, line.quantity, line.unit_price) == (
        clinic.service,
        "Consultation",
        D("1.00"),
        D("60.00"),
    )
    assert invoice.total == D("60.00")
    assert AuditEvent.objects.filter(action="billing.invoice_created", object_id=str(invoice.pk)).exists()


def test_a_visit_is_invoiced_once(bill) -> None:
    services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    with pytest.raises(Conflict) as exc:
        services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    assert exc.value.code == "invoice_exists"
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        Invoice.objects.create(
            organisation=bill.org,
            location=bill.clinic.location,
            patient=bill.patient,
            account=bill.patient,
            appointment=bill.visit,
            currency="EUR",
            language="en",
            service_date=bill.clinic.day,
        )


def test_a_dropped_draft_frees_the_visit_for_a_new_invoice(bill) -> None:
    draft = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    services.invoice_cancel(actor=bill.registrar, invoice=draft, reason="wrong payer")
    assert not CreditNote.objects.exists()  # a draft had no number: nothing to credit
    again = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    assert again.pk != draft.pk


def test_extra_lines_line_discounts_and_the_invoice_discount(bill) -> None:
    invoice = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)  # 50.00
    services.invoice_line_add(
        actor=bill.registrar,
        invoice=invoice,
        line=LineInput(description="Hyaluronic acid, ml", quantity=D("1.5"), unit_price=D("33.33")),
    )
    invoice.refresh_from_db()
    assert invoice.total == D("100.00")  # 1.5 × 33.33 = 49.995 → 50.00 (half-up), + 50.00
    line = services.invoice_line_add(
        actor=bill.registrar,
        invoice=invoice,
        line=LineInput(service_id=bill.clinic.staff_only.pk, discount_kind="percent", discount_value=D("25")),
    )
    assert (line.unit_price, line.discount_amount, line.total) == (D("120.00"), D("30.00"), D("90.00"))
    services.invoice_discount_set(actor=bill.registrar, invoice=invoice, kind="fixed", value=D("10.01"))
    invoice.refresh_from_db()
    assert (invoice.subtotal, invoice.discount_amount, invoice.total) == (D("190.00"), D("10.01"), D("179.99"))
    services.invoice_line_remove(actor=bill.registrar, invoice=invoice, line_id=line.pk)
    invoice.refresh_from_db()
    assert invoice.total == D("89.99")
    with pytest.raises(Invalid) as exc:
        services.invoice_line_add(
            actor=bill.registrar, invoice=invoice, line=LineInput(description="Gauze", unit_price=D("0.005"))
        )
    assert "unit_price" in exc.value.errors
    with pytest.raises(Invalid) as exc:
        services.invoice_line_add(actor=bill.registrar, invoice=invoice, line=LineInput(description="No price"))
    assert "unit_price" in exc.value.errors
    with pytest.raises(Invalid):
        services.invoice_line_add(
            actor=bill.registrar,
            invoice=invoice,
            line=LineInput(service_id=bill.clinic.service.pk, discount_kind="percent", discount_value=D("101")),
        )


def test_a_patient_discount_applies_by_itself_and_a_card_or_code_on_request(bill) -> None:
    services.discount_create(
        actor=bill.admin,
        organisation=bill.org,
        name="Staff family",
        kind="percent",
        value=D("10"),
        patient=bill.patient,
    )
    services.discount_create(
        actor=bill.admin, organisation=bill.org, name="Gold card", kind="fixed", value=D("15"), code="gold-77"
    )
    invoice = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    assert (invoice.discount_kind, invoice.total) == ("percent", D("45.00"))
    services.invoice_discount_set(actor=bill.registrar, invoice=invoice, code=" Gold-77 ")
    invoice.refresh_from_db()
    assert (invoice.discount_kind, invoice.discount_amount, invoice.total) == ("fixed", D("15.00"), D("35.00"))
    with pytest.raises(Invalid) as exc:
        services.invoice_discount_set(actor=bill.registrar, invoice=invoice, code="NOPE")
    assert exc.value.code == "discount_unknown"
    services.invoice_discount_set(actor=bill.registrar, invoice=invoice)  # nothing: no invoice discount
    invoice.refresh_from_db()
    assert invoice.total == D("50.00")


def test_issuing_numbers_invoices_per_organisation_and_year_without_gaps(bill, other_org, outsider) -> None:
    year = timezone.localdate(timezone=bill.clinic.location.zone).year
    first = issued_visit_invoice(bill)
    empty = services.invoice_create(actor=bill.registrar, patient=bill.patient, location=bill.clinic.location)
    with pytest.raises(Invalid) as exc:
        services.invoice_issue(actor=bill.registrar, invoice=empty)  # refused: takes no number
    assert exc.value.code == "invoice_empty"
    second = services.invoice_issue(
        actor=bill.registrar,
        invoice=services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.ward_visit),
    )
    assert (first.number, second.number) == (f"{year}-000001", f"{year}-000002")
    location = other_org.locations.get()
    stranger = PatientFactory.create(organisation=other_org)
    elsewhere = services.invoice_create(
        actor=outsider,
        patient=stranger,
        location=location,
        lines=[LineInput(description="Check-up", unit_price=D("10"))],
    )
    assert services.invoice_issue(actor=outsider, invoice=elsewhere).number == f"{year}-000001"
    with pytest.raises(Conflict) as conflict:
        services.invoice_issue(actor=bill.registrar, invoice=first)
    assert conflict.value.code == "invoice_not_draft"
    with pytest.raises(Conflict):
        services.invoice_line_add(
            actor=bill.registrar, invoice=first, line=LineInput(description="Late extra", unit_price=D("1"))
        )


def test_issuing_charges_the_account_and_writes_audit_and_timeline(bill) -> None:
    invoice = issued_visit_invoice(bill)
    assert invoice.status == Invoice.Status.ISSUED and invoice.issue_date is not None
    account = Account.objects.get(patient=bill.patient)
    assert (account.debt, account.deposit) == (D("50.00"), D("0.00"))
    assert list(LedgerEntry.objects.values_list("kind", "amount")) == [("charge", D("-50.00"))]
    event = AuditEvent.objects.get(action="billing.invoice_issued")
    assert event.patient_id == bill.patient.pk and (event.after or {})["number"] == invoice.number
    entry = TimelineEntry.objects.get(patient=bill.patient, kind="payment")
    assert entry.title == f"Invoice {invoice.number} issued: 50.00 EUR"


def test_a_payment_by_card_pays_the_invoice(bill) -> None:
    invoice = issued_visit_invoice(bill)
    services.payment_take(actor=bill.registrar, invoice=invoice, method="card", amount=D("20"), currency="EUR")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, invoice.outstanding) == ("partially_paid", D("20.00"), D("30.00"))
    services.payment_take(actor=bill.registrar, invoice=invoice, method="cash", amount="30.00", currency="eur")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount) == ("paid", D("50.00"))
    assert Account.objects.get(patient=bill.patient).debt == D("0.00")
    titles = list(TimelineEntry.objects.filter(kind="payment").values_list("title", flat=True))
    assert f"Payment 20.00 EUR (card) for invoice {invoice.number}" in titles
    assert AuditEvent.objects.filter(action="billing.payment_taken").count() == 2


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        (D("0"), "EUR", "amount_not_positive"),
        (D("-5"), "EUR", "amount_not_positive"),
        (D("10.005"), "EUR", "amount_precision"),
        (D("10"), "BGN", "currency_mismatch"),
        ("ten", "EUR", "amount_invalid"),
        (D("NaN"), "EUR", "amount_invalid"),
    ],
)
def test_bad_payments_are_refused_with_the_reason(bill, amount, currency, code) -> None:
    invoice = issued_visit_invoice(bill)
    with pytest.raises(Invalid) as exc:
        services.payment_take(actor=bill.registrar, invoice=invoice, method="cash", amount=amount, currency=currency)
    assert exc.value.code == code
    assert not Payment.objects.exists() and LedgerEntry.objects.count() == 1


def test_a_draft_takes_no_money(bill) -> None:
    draft = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    with pytest.raises(Invalid) as exc:
        services.payment_take(actor=bill.registrar, invoice=draft, method="cash", amount=D("5"), currency="EUR")
    assert exc.value.code == "invoice_not_issued"


def test_an_overpayment_goes_to_the_deposit_only_when_asked(bill) -> None:
    invoice = issued_visit_invoice(bill)
    with pytest.raises(Invalid) as exc:
        services.payment_take(actor=bill.registrar, invoice=invoice, method="cash", amount=D("70"), currency="EUR")
    assert exc.value.code == "overpayment" and "50.00 EUR" in str(exc.value.message)
    payment = services.payment_take(
        actor=bill.registrar, invoice=invoice, method="cash", amount=D("70"), currency="EUR", to_deposit=True
    )
    assert (payment.amount, payment.applied_amount, payment.deposit_amount) == (D("70.00"), D("50.00"), D("20.00"))
    account = Account.objects.get(patient=bill.patient)
    assert (account.deposit, account.debt) == (D("20.00"), D("0.00"))
    assert sorted(LedgerEntry.objects.values_list("kind", "amount")) == [
        ("charge", D("-50.00")),
        ("deposit_in", D("20.00")),
        ("payment", D("50.00")),
    ]


def test_the_deposit_pays_at_most_what_it_holds_and_what_the_invoice_lacks(bill) -> None:
    services.deposit_add(
        actor=bill.registrar,
        patient=bill.patient,
        location=bill.clinic.location,
        method="cash",
        amount=D("30"),
        currency="EUR",
    )
    invoice = issued_visit_invoice(bill)
    with pytest.raises(Invalid) as exc:
        services.payment_take(actor=bill.registrar, invoice=invoice, method="deposit", amount=D("40"), currency="EUR")
    assert exc.value.code == "deposit_insufficient"
    services.payment_take(actor=bill.registrar, invoice=invoice, method="deposit", amount=D("30"), currency="EUR")
    with pytest.raises(Invalid) as exc:
        services.payment_take(actor=bill.registrar, invoice=invoice, method="deposit", amount=D("0.01"), currency="EUR")
    assert exc.value.code == "deposit_insufficient"
    services.payment_take(actor=bill.registrar, invoice=invoice, method="card", amount=D("20"), currency="EUR")
    invoice.refresh_from_db()
    account = Account.objects.get(patient=bill.patient)
    assert (invoice.status, account.deposit, account.debt) == ("paid", D("0.00"), D("0.00"))
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == account.deposit - account.debt


def test_refunds_never_exceed_what_was_paid_on_the_invoice(bill) -> None:
    invoice = issued_visit_invoice(bill)
    services.payment_take(actor=bill.registrar, invoice=invoice, method="card", amount=D("50"), currency="EUR")
    services.refund_make(
        actor=bill.registrar, invoice=invoice, method="card", amount=D("20"), currency="EUR", reason="Shorter procedure"
    )
    with pytest.raises(Invalid) as exc:
        services.refund_make(actor=bill.registrar, invoice=invoice, method="cash", amount=D("30.01"), currency="EUR")
    assert exc.value.code == "refund_above_paid" and "30.00 EUR" in str(exc.value.message)
    services.refund_make(actor=bill.registrar, invoice=invoice, method="deposit", amount=D("30"), currency="EUR")
    invoice.refresh_from_db()
    account = Account.objects.get(patient=bill.patient)
    assert (invoice.status, invoice.paid_amount) == ("issued", D("0.00"))
    assert (account.deposit, account.debt) == (D("30.00"), D("50.00"))
    assert TimelineEntry.objects.filter(title__startswith="Refund 20.00 EUR (card)").exists()


def test_a_deposit_pays_out_at_most_what_it_holds(bill) -> None:
    location = bill.clinic.location
    services.deposit_add(
        actor=bill.registrar, patient=bill.patient, location=location, method="card", amount=D("40"), currency="EUR"
    )
    with pytest.raises(Invalid) as exc:
        services.deposit_withdraw(
            actor=bill.registrar,
            patient=bill.patient,
            location=location,
            method="cash",
            amount=D("40.01"),
            currency="EUR",
        )
    assert exc.value.code == "deposit_insufficient"
    with pytest.raises(Invalid):  # a deposit is not paid into from itself
        services.deposit_add(
            actor=bill.registrar,
            patient=bill.patient,
            location=location,
            method="deposit",
            amount=D("1"),
            currency="EUR",
        )
    services.deposit_withdraw(
        actor=bill.registrar, patient=bill.patient, location=location, method="cash", amount=D("40"), currency="EUR"
    )
    assert Account.objects.get(patient=bill.patient).deposit == D("0.00")
    assert AuditEvent.objects.filter(action__in=["billing.deposit_added", "billing.deposit_withdrawn"]).count() == 2


def test_a_parent_pays_for_the_child_from_their_own_account(bill) -> None:
    invoice = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.ward_visit, payer=bill.patient)
    assert (invoice.patient, invoice.account) == (bill.ward, bill.patient)
    services.deposit_add(
        actor=bill.registrar,
        patient=bill.patient,
        location=bill.clinic.location,
        method="cash",
        amount=D("100"),
        currency="EUR",
    )
    invoice = services.invoice_issue(actor=bill.registrar, invoice=invoice)
    services.payment_take(actor=bill.registrar, invoice=invoice, method="deposit", amount=D("100"), currency="EUR")
    parent = selectors.balance_of(user=bill.registrar, patient_id=bill.patient.pk)
    child = selectors.balance_of(user=bill.registrar, patient_id=bill.ward.pk)
    assert (parent.deposit, parent.debt) == (D("0.00"), D("200.00"))
    assert (child.deposit, child.debt, child.unpaid_for_patient) == (D("0.00"), D("0.00"), D("200.00"))
    # Both the child's and the payer's timelines tell the story.
    assert TimelineEntry.objects.filter(patient=bill.ward, title__startswith="Payment 100.00 EUR").exists()
    assert TimelineEntry.objects.filter(patient=bill.patient, title__startswith="Payment 100.00 EUR").exists()


def test_only_a_relative_may_pay_for_a_patient_and_a_company_is_printed_as_the_buyer(bill) -> None:
    with pytest.raises(Invalid) as exc:
        services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit, payer=bill.stranger)
    assert exc.value.code == "payer_not_related"
    invoice = services.invoice_create_for_visit(
        actor=bill.registrar, appointment=bill.visit, payer_name="ACME Ltd", payer_details="VAT BG123456789"
    )
    assert invoice.account == bill.patient and invoice.third_party


def test_cancelling_an_issued_invoice_makes_a_numbered_credit_note(bill) -> None:
    invoice = issued_visit_invoice(bill)
    services.payment_take(actor=bill.registrar, invoice=invoice, method="cash", amount=D("10"), currency="EUR")
    with pytest.raises(Conflict) as exc:
        services.invoice_cancel(actor=bill.registrar, invoice=invoice, reason="Duplicate")
    assert exc.value.code == "invoice_has_payments"
    services.refund_make(actor=bill.registrar, invoice=invoice, method="cash", amount=D("10"), currency="EUR")
    with pytest.raises(Invalid):
        services.invoice_cancel(actor=bill.registrar, invoice=invoice, reason=" ")
    services.invoice_cancel(actor=bill.registrar, invoice=invoice, reason="Duplicate")
    invoice.refresh_from_db()
    credit = invoice.credit_note
    year = invoice.number_year
    assert (invoice.status, credit.number, credit.amount) == ("cancelled", f"{year}-000002", D("50.00"))
    assert Invoice.objects.filter(pk=invoice.pk).exists()  # never deleted
    assert Account.objects.get(patient=bill.patient).debt == D("0.00")
    assert LedgerEntry.objects.filter(kind="adjustment", amount=D("50.00")).exists()
    assert TimelineEntry.objects.filter(
        title=f"Invoice {invoice.number} cancelled by credit note {credit.number}"
    ).exists()


def test_the_desk_bills_and_doctors_patients_and_other_clinics_may_not(bill, outsider) -> None:
    for actor in (bill.doctor, bill.patient_user, outsider, None):
        with pytest.raises(NotAllowed):
            services.invoice_create_for_visit(actor=actor, appointment=bill.visit)
    invoice = issued_visit_invoice(bill, actor=bill.admin)  # an administrator may
    for actor in (bill.doctor, bill.patient_user, outsider):
        with pytest.raises(NotAllowed):
            services.payment_take(actor=actor, invoice=invoice, method="cash", amount=D("1"), currency="EUR")


def test_ledger_rows_are_never_changed(bill) -> None:
    issued_visit_invoice(bill)
    entry = LedgerEntry.objects.get()
    entry.amount = D("0")
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=D("0"))  # the database trigger
    assert LedgerEntry.objects.get().amount == D("-50.00")
