"""Price lists and discounts, invoices with their lines and credit notes, payments, patients' billing accounts and
the append-only ledger. Money is Decimal with two places in the organisation's currency, never float."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Location, Organisation
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment, Service

MONEY_DIGITS = 12
MONEY_PLACES = 2
ZERO = Decimal("0.00")


def money_field(verbose_name: Any, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


class PriceList(models.Model):
    """The prices of one location for a period. When several lists of a location are valid on a day, the one that
    starts latest wins for the services it names (a new list from 1 March supersedes an open-ended one without
    editing it); services in no valid list cost their Service.price."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="price_lists")
    name = models.CharField(_("name"), max_length=200)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Empty: until further notice."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["location", "-valid_from", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")), name="price_list_valid_range"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class PriceItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    price = money_field(_("price"))

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        constraints = [
            models.UniqueConstraint(fields=["price_list", "service"], name="price_item_unique_service"),
            models.CheckConstraint(condition=Q(price__gte=0), name="price_item_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.price}"


class DiscountKind(models.TextChoices):
    PERCENT = "percent", _("percent")
    FIXED = "fixed", _("fixed amount")


class Discount(models.Model):
    """A discount a patient has (e.g. staff family, 10 %) or that a loyalty card or promo code gives."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=DiscountKind.choices)
    value = models.DecimalField(_("value"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("patient")
    )
    code = models.CharField(
        _("card number or code"), max_length=50, blank=True, help_text=_("Stored in capitals; matched ignoring case.")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("discount")
        verbose_name_plural = _("discounts")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "code"], condition=~Q(code=""), name="discount_unique_code"
            ),
            models.CheckConstraint(condition=Q(patient__isnull=False) | ~Q(code=""), name="discount_has_holder"),
            models.CheckConstraint(condition=Q(value__gt=0), name="discount_positive"),
            models.CheckConstraint(
                condition=~Q(kind=DiscountKind.PERCENT) | Q(value__lte=100), name="discount_percent_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_valid_on(self, day: date) -> bool:
        return (
            self.is_active
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_to is None or day <= self.valid_to)
        )


class DocumentSequence(models.Model):
    """The last number given to an invoice or credit note of an organisation in a year. Incremented under the row's
    lock in the transaction that issues the document, so numbers have no gaps and never repeat."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "year"], name="document_sequence_unique_year")]

    def __str__(self) -> str:
        return f"{self.organisation_id}/{self.year}: {self.last_value}"


def format_number(year: int, value: int) -> str:
    return f"{year}-{value:06d}"


class Invoice(models.Model):
    """A bill for one patient's visit (or services without a visit), paid by the patient's own account or a
    relative's (`account`); `payer_name` prints a company or other third party as the buyer."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ISSUED = "issued", _("issued, unpaid")
        PARTIALLY_PAID = "partially_paid", _("partially paid")
        PAID = "paid", _("paid")
        CANCELLED = "cancelled", _("cancelled")

    LIVE_STATUSES = (Status.ISSUED, Status.PARTIALLY_PAID, Status.PAID)

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="invoices")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invoices")
    account = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        related_name="billed_invoices",
        verbose_name=_("paid by"),
        help_text=_("The patient, or a relative who pays for them."),
    )
    payer_name = models.CharField(_("buyer (company)"), max_length=300, blank=True)
    payer_details = models.CharField(
        _("buyer's details"), max_length=500, blank=True, help_text=_("Registration / VAT number, address.")
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(_("currency"), max_length=3)
    language = models.CharField(_("document language"), max_length=8, choices=settings.LANGUAGES)
    service_date = models.DateField(_("date of the services"))
    number = models.CharField(_("number"), max_length=20, blank=True)
    number_year = models.PositiveSmallIntegerField(null=True, blank=True)
    number_seq = models.PositiveIntegerField(null=True, blank=True)
    issue_date = models.DateField(_("issued on"), null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    discount = models.ForeignKey(Discount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The invoice-wide discount as applied (copied from `discount`, or typed by the registrar).
    discount_kind = models.CharField(_("discount"), max_length=10, choices=DiscountKind.choices, blank=True)
    discount_value = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=ZERO)
    subtotal = money_field(_("subtotal"), default=ZERO)
    discount_amount = money_field(_("discount"), default=ZERO)
    total = money_field(_("total"), default=ZERO)
    paid_amount = money_field(_("paid"), default=ZERO)
    note = models.TextField(_("note"), blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organisation", "status"]),
            models.Index(fields=["organisation", "issue_date"]),
            models.Index(fields=["location", "issue_date"]),
            models.Index(fields=["account", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number_year", "number_seq"],
                condition=Q(number_seq__isnull=False),
                name="invoice_unique_number",
            ),
            # One live (or draft) invoice per visit: a double click at checkout cannot bill the visit twice.
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(appointment__isnull=False) & ~Q(status="cancelled"),
                name="invoice_one_per_appointment",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_not_negative"),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=F("total")), name="invoice_paid_within_total"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.paid_amount if self.is_live else ZERO

    @property
    def third_party(self) -> bool:
        return self.account_id != self.patient_id or bool(self.payer_name)

    def status_for_paid(self) -> str:
        if self.paid_amount >= self.total:
            return self.Status.PAID
        return self.Status.PARTIALLY_PAID if self.paid_amount > 0 else self.Status.ISSUED


class InvoiceLine(models.Model):
    """A service (or another item the registrar adds) with its quantity, price and own discount."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=9, decimal_places=2, default=Decimal("1"))
    unit_price = money_field(_("unit price"))
    discount_kind = models.CharField(_("discount"), max_length=10, choices=DiscountKind.choices, blank=True)
    discount_value = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=ZERO)
    discount_amount = money_field(_("discount"), default=ZERO)
    total = money_field(_("amount"), default=ZERO)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="invoice_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="invoice_line_price_not_negative"),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_line_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNote(models.Model):
    """Cancels an issued invoice: issued invoices are never deleted or edited. Numbered in the invoices' series."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="credit_note")
    number = models.CharField(_("number"), max_length=20)
    number_year = models.PositiveSmallIntegerField()
    number_seq = models.PositiveIntegerField()
    amount = money_field(_("amount"))
    reason = models.CharField(_("reason"), max_length=500)
    issue_date = models.DateField(_("issued on"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number_year", "number_seq"], name="credit_note_unique_number"
            )
        ]

    def __str__(self) -> str:
        return self.number


class Account(models.Model):
    """A patient's money at the clinic: the deposit (advances) and the debt (what live invoices billed to this
    account still lack). Kept by the billing services under this row's lock; the ledger is the record of why."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="billing_account")
    deposit = money_field(_("deposit"), default=ZERO)
    debt = money_field(_("debt"), default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("billing account")
        verbose_name_plural = _("billing accounts")
        indexes = [models.Index(fields=["organisation", "debt"])]
        constraints = [
            models.CheckConstraint(condition=Q(deposit__gte=0), name="account_deposit_not_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="account_debt_not_negative"),
        ]

    def __str__(self) -> str:
        return f"account of {self.patient_id}"

    @property
    def balance(self) -> Decimal:
        return self.deposit - self.debt


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("cash")
    CARD = "card", _("card")
    BANK_TRANSFER = "bank_transfer", _("bank transfer")
    DEPOSIT = "deposit", _("deposit")


class Payment(models.Model):
    """Money taken or given back at a location's desk: for an invoice, or into / out of a deposit.

    `amount` is what changed hands (by `method`); `applied_amount` is the part that paid (or, for a refund, was taken
    back from) the invoice; `deposit_amount` the part that went into the deposit (payment, refund to the deposit)
    or came out of it (a deposit withdrawal)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("payment")
        REFUND = "refund", _("refund")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    method = models.CharField(_("method"), max_length=20, choices=PaymentMethod.choices)
    amount = money_field(_("amount"))
    applied_amount = money_field(_("applied to the invoice"), default=ZERO)
    deposit_amount = money_field(_("deposit part"), default=ZERO)
    currency = models.CharField(_("currency"), max_length=3)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["location", "created_at"]), models.Index(fields=["account", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(applied_amount__gte=0) & Q(deposit_amount__gte=0), name="payment_parts_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.method})"


class LedgerEntry(models.Model):
    """One movement on a patient's account, never changed or removed (a database trigger refuses updates).

    `amount` is signed: its effect on the account's balance (= deposit − debt), so the sum of an account's entries
    is its balance at any time:

    - charge −total when an invoice is issued; adjustment +total when a credit note cancels it;
    - payment +x for money applied to an invoice (by any method, the deposit included);
    - deposit_in +x into the deposit (an advance, the rest of an overpayment, a refund to the deposit);
    - deposit_use −x out of the deposit to pay an invoice (paired with a payment +x, so the balance stays);
    - refund −x given back: from an invoice's payments, or (without an invoice) out of the deposit.
    """

    class Kind(models.TextChoices):
        CHARGE = "charge", _("charge")
        PAYMENT = "payment", _("payment")
        REFUND = "refund", _("refund")
        DEPOSIT_IN = "deposit_in", _("into deposit")
        DEPOSIT_USE = "deposit_use", _("from deposit")
        ADJUSTMENT = "adjustment", _("adjustment")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # No actor column: a user's removal would have to update the row. Who did it is in the audit log.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("ledger entries are append-only")
        super().save(*args, **kwargs)
