"""Reads of billing data for pages and the API, scoped to the caller: staff of the organisation see its invoices,
a patient sees the invoices of their own and their wards' visits and those billed to them; anybody else gets
NotFound (never 403: that would confirm the invoice exists)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.billing import access
from kabinet.billing.models import (
    ZERO,
    Account,
    Discount,
    Invoice,
    Payment,
    PaymentMethod,
    PriceItem,
    PriceList,
)
from kabinet.billing.pricing import cents
from kabinet.core import permissions
from kabinet.core.exceptions import Invalid, NotAllowed, NotFound
from kabinet.core.models import Location, Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids, patient_get
from kabinet.scheduling.models import Appointment, Service

INVOICE_RELATED = ("patient", "account", "location", "organisation", "appointment", "credit_note")
MAX_LIST = 500


# --- invoices ------------------------------------------------------------------------------------------------------


def invoices_visible(user: Any, organisation: Organisation | None = None) -> QuerySet[Invoice]:
    """Staff: every invoice of their organisations (or of `organisation`); patients: their own and their wards'."""
    staff_orgs = [
        org_id
        for org_id in permissions.organisations_of(user)
        if permissions.is_staff_of(user, org_id) and (organisation is None or org_id == organisation.pk)
    ]
    own = own_patient_ids(user)
    qs = Invoice.objects.filter(
        Q(organisation_id__in=staff_orgs) | Q(patient_id__in=own) | Q(account_id__in=own)
    ).exclude(Q(status=Invoice.Status.DRAFT) & ~Q(organisation_id__in=staff_orgs))  # patients never see drafts
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs.select_related(*INVOICE_RELATED)


def invoice_get(*, user: Any, invoice_id: int, organisation: Organisation | None = None) -> Invoice:
    invoice = invoices_visible(user, organisation).filter(pk=invoice_id).first()
    if invoice is None:
        raise NotFound()
    return invoice


@dataclass(frozen=True)
class InvoiceDetail:
    invoice: Invoice
    lines: list[Any]
    payments: list[Payment]
    can_write: bool


def invoice_detail(*, user: Any, invoice_id: int, organisation: Organisation | None = None) -> InvoiceDetail:
    invoice = invoice_get(user=user, invoice_id=invoice_id, organisation=organisation)
    return InvoiceDetail(
        invoice=invoice,
        lines=list(invoice.lines.select_related("service")),
        payments=list(invoice.payments.select_related("created_by")),
        can_write=access.can_write(user, invoice.organisation_id),
    )


@dataclass(frozen=True)
class InvoiceFilter:
    status: str = ""
    location_id: int | None = None
    patient_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    unpaid: bool = False
    query: str = ""


def invoices_list(*, user: Any, organisation: Organisation | None, filters: InvoiceFilter) -> QuerySet[Invoice]:
    """Invoices by creation date, newest first; the dates filter the service date."""
    qs = invoices_visible(user, organisation)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.location_id is not None:
        qs = qs.filter(location_id=filters.location_id)
    if filters.patient_id is not None:
        qs = qs.filter(Q(patient_id=filters.patient_id) | Q(account_id=filters.patient_id))
    if filters.date_from is not None:
        qs = qs.filter(service_date__gte=filters.date_from)
    if filters.date_to is not None:
        qs = qs.filter(service_date__lte=filters.date_to)
    if filters.unpaid:
        qs = qs.filter(status__in=(Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID))
    query = filters.query.strip()
    if query:
        qs = qs.filter(
            Q(number__icontains=query)
            | Q(patient__family_name__icontains=query)
            | Q(patient__given_name__icontains=query)
            | Q(payer_name__icontains=query)
        )
    return qs.order_by("-created_at", "-pk")


def live_invoice_for_appointment(appointment_id: int) -> Invoice | None:
    """The draft or issued invoice of a visit (at most one: a unique constraint)."""
    return (
        Invoice.objects.filter(appointment_id=appointment_id)
        .exclude(status=Invoice.Status.CANCELLED)
        .select_related(*INVOICE_RELATED)
        .first()
    )


@dataclass(frozen=True)
class Checkout:
    appointment: Appointment
    invoice: Invoice | None
    lines: list[Any]
    payments: list[Payment]
    account: Account | None
    services: list[PriceRow]
    can_write: bool
    relatives: list[Patient]


def checkout(*, user: Any, organisation: Organisation, appointment_id: int) -> Checkout:
    """The checkout page of a visit: its invoice (if made yet), the payer's deposit, prices to add lines from."""
    appointment = (
        Appointment.objects.filter(pk=appointment_id, organisation=organisation)
        .select_related("patient", "service", "location", "practitioner__user")
        .first()
    )
    if appointment is None or not permissions.is_staff_of(user, organisation):
        raise NotFound()
    invoice = live_invoice_for_appointment(appointment.pk)
    account_patient_id = invoice.account_id if invoice else appointment.patient_id
    return Checkout(
        appointment=appointment,
        invoice=invoice,
        lines=list(invoice.lines.select_related("service")) if invoice else [],
        payments=list(invoice.payments.all()) if invoice else [],
        account=Account.objects.filter(patient_id=account_patient_id).first(),
        services=price_list_rows(
            organisation=organisation,
            location=appointment.location,
            day=local_date(appointment.start, appointment.location),
        ),
        can_write=access.can_write(user, organisation),
        relatives=payer_candidates(appointment.patient),
    )


def payer_candidates(patient: Patient) -> list[Patient]:
    """Relatives who may pay for the patient (linked either way in the family)."""
    return list(
        Patient.objects.filter(
            Q(relative_of__patient=patient) | Q(relationships__relative=patient),
            organisation_id=patient.organisation_id,
        )
        .distinct()
        .order_by("family_name", "given_name")
    )


def local_date(moment: datetime, location: Location) -> date:
    return timezone.localtime(moment, location.zone).date()


# --- prices and discounts --------------------------------------------------------------------------------------------


def _valid_items(location: Location, day: date) -> QuerySet[PriceItem]:
    return (
        PriceItem.objects.filter(price_list__location=location, price_list__valid_from__lte=day)
        .filter(Q(price_list__valid_to__isnull=True) | Q(price_list__valid_to__gte=day))
        .order_by("-price_list__valid_from", "-price_list_id")
    )


def price_on(*, service: Service, location: Location, day: date) -> Decimal:
    """The price of the service at the location on the day: from the latest-starting price list valid that day
    that names it, else the service's own price."""
    price = _valid_items(location, day).filter(service=service).values_list("price", flat=True).first()
    return price if price is not None else service.price


@dataclass(frozen=True)
class PriceRow:
    service: Service
    price: Decimal
    price_list: PriceList | None  # None: the service's own price


def price_list_rows(*, organisation: Organisation, location: Location, day: date) -> list[PriceRow]:
    """Every active service of the organisation with its price at the location on the day (two queries)."""
    if location.organisation_id != organisation.pk:
        raise NotFound()
    chosen: dict[int, PriceItem] = {}
    for item in _valid_items(location, day).select_related("price_list"):
        chosen.setdefault(item.service_id, item)
    rows = []
    for service in Service.objects.filter(organisation=organisation, is_active=True).order_by("name"):
        found = chosen.get(service.pk)
        rows.append(
            PriceRow(
                service=service,
                price=found.price if found else service.price,
                price_list=found.price_list if found else None,
            )
        )
    return rows


def price_lists_for(*, user: Any, organisation: Organisation) -> QuerySet[PriceList]:
    permissions.require_staff(user, organisation)
    return (
        PriceList.objects.filter(organisation=organisation)
        .select_related("location")
        .annotate(item_count=Count("items"))
        .order_by("location__name", "-valid_from", "-pk")
    )


def price_list_get(*, user: Any, organisation: Organisation, price_list_id: int) -> PriceList:
    price_list = (
        PriceList.objects.filter(pk=price_list_id, organisation=organisation).select_related("location").first()
    )
    if price_list is None or not permissions.is_staff_of(user, organisation):
        raise NotFound()
    return price_list


def price_list_prices(price_list: PriceList) -> dict[int, Decimal]:
    return dict(price_list.items.values_list("service_id", "price"))


def discounts_for(*, user: Any, organisation: Organisation) -> QuerySet[Discount]:
    permissions.require_staff(user, organisation)
    return Discount.objects.filter(organisation=organisation).select_related("patient").order_by("-is_active", "name")


def discount_get(*, user: Any, organisation: Organisation, discount_id: int) -> Discount:
    discount = Discount.objects.filter(pk=discount_id, organisation=organisation).first()
    if discount is None or not permissions.is_staff_of(user, organisation):
        raise NotFound()
    return discount


def patient_by_card(organisation: Organisation, card_number: str) -> Patient | None:
    card = card_number.strip()
    candidates = {card, card.zfill(6)} if card.isdigit() else {card}
    return Patient.objects.filter(organisation=organisation, card_number__in=sorted(candidates)).first()


def discount_for_patient(patient: Patient, day: date) -> Discount | None:
    """The patient's own discount valid on the day (the largest percentage first, then the largest amount)."""
    candidates = Discount.objects.filter(organisation_id=patient.organisation_id, patient=patient, is_active=True)
    valid = [d for d in candidates.order_by("kind", "-value", "pk") if d.is_valid_on(day)]
    return valid[0] if valid else None


def discount_by_code(organisation_id: int, code: str, day: date) -> Discount | None:
    discount = Discount.objects.filter(organisation_id=organisation_id, code=code.strip().upper()).first()
    return discount if discount is not None and discount.is_valid_on(day) else None


# --- balances --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    patient: Patient
    currency: str
    deposit: Decimal
    debt: Decimal  # what live invoices billed to this patient's account still lack
    unpaid_for_patient: Decimal  # what live invoices for this patient's visits still lack, whoever pays

    @property
    def balance(self) -> Decimal:
        return self.deposit - self.debt


def account_figures(patient: Patient) -> tuple[Decimal, Decimal]:
    """(deposit, debt) of the patient's account; zeros before the first bill. No permission check: callers have
    already shown the patient to the user."""
    row = Account.objects.filter(patient=patient).values_list("deposit", "debt").first()
    return row if row is not None else (ZERO, ZERO)


def _unpaid_for(patient: Patient) -> Decimal:
    live = Invoice.objects.filter(patient=patient, status__in=(Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID))
    figures = live.aggregate(total=Sum("total"), paid=Sum("paid_amount"))
    return cents((figures["total"] or ZERO) - (figures["paid"] or ZERO))


def balance_of(*, user: Any, patient_id: int, organisation: Organisation | None = None) -> Balance:
    patient = patient_get(user=user, patient_id=patient_id, organisation=organisation)
    deposit, debt = account_figures(patient)
    return Balance(
        patient=patient,
        currency=patient.organisation.currency,
        deposit=deposit,
        debt=debt,
        unpaid_for_patient=_unpaid_for(patient),
    )


@dataclass(frozen=True)
class PatientBilling:
    """The patient card's Billing tab."""

    balance: Balance
    invoices: list[Invoice]
    visits: list[Appointment]  # recent visits without an invoice yet, to open the checkout from
    can_write: bool


def patient_billing(*, user: Any, patient: Patient) -> PatientBilling:
    balance = balance_of(user=user, patient_id=patient.pk)
    invoices = list(
        Invoice.objects.filter(Q(patient=patient) | Q(account=patient))
        .select_related("patient", "account")
        .order_by("-created_at", "-pk")[:20]
    )
    billed = Invoice.objects.exclude(status=Invoice.Status.CANCELLED).filter(appointment__isnull=False)
    visits = list(
        Appointment.objects.filter(
            patient=patient,
            status__in=(Appointment.Status.ARRIVED, Appointment.Status.COMPLETED, Appointment.Status.CONFIRMED),
            start__gte=timezone.now() - timedelta(days=90),
            start__lt=timezone.now() + timedelta(days=1),
        )
        .exclude(pk__in=billed.values("appointment_id"))
        .select_related("service")
        .order_by("-start")[:10]
    )
    return PatientBilling(
        balance=balance, invoices=invoices, visits=visits, can_write=access.can_write(user, patient.organisation_id)
    )


# --- the daily cash report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodRow:
    method: str
    label: str
    taken: Decimal
    taken_count: int
    refunded: Decimal
    refunded_count: int

    @property
    def net(self) -> Decimal:
        return self.taken - self.refunded


@dataclass(frozen=True)
class CashReport:
    location: Location
    day: date
    currency: str
    rows: list[MethodRow]  # money methods (cash, card, bank transfer), then the deposit
    invoices_issued: int
    invoices_total: Decimal
    credit_notes: int
    deposit_in: Decimal
    payments: list[Payment] = field(default_factory=list)

    def _money(self) -> list[MethodRow]:
        return [row for row in self.rows if row.method != PaymentMethod.DEPOSIT]

    @property
    def taken(self) -> Decimal:
        return sum((row.taken for row in self._money()), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((row.refunded for row in self._money()), ZERO)

    @property
    def net(self) -> Decimal:
        return self.taken - self.refunded


def day_bounds(day: date, location: Location) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=location.zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=location.zone)


def cash_report(*, user: Any, organisation: Organisation, location_id: int, day: date) -> CashReport:
    """Money taken and given back at one location on one local day, per method; the deposit row (payments from
    and refunds to deposits) moves no money and is left out of the totals."""
    if not access.can_write(user, organisation):
        raise NotAllowed()
    location = Location.objects.filter(pk=location_id, organisation=organisation).first()
    if location is None:
        raise Invalid(errors={"location": [_("Unknown location.")]})
    start, end = day_bounds(day, location)
    payments = Payment.objects.filter(location=location, created_at__gte=start, created_at__lt=end)
    sums = {
        (row["kind"], row["method"]): (cents(row["amount"]), row["count"])
        for row in payments.values("kind", "method").annotate(amount=Sum("amount"), count=Count("pk")).order_by()
    }
    rows = []
    for method in PaymentMethod:
        taken, taken_count = sums.get((Payment.Kind.PAYMENT, method.value), (ZERO, 0))
        refunded, refunded_count = sums.get((Payment.Kind.REFUND, method.value), (ZERO, 0))
        rows.append(
            MethodRow(
                method=method.value,
                label=str(method.label),
                taken=taken,
                taken_count=taken_count,
                refunded=refunded,
                refunded_count=refunded_count,
            )
        )
    issued = Invoice.objects.filter(location=location, issued_at__gte=start, issued_at__lt=end)
    issued_figures = issued.aggregate(count=Count("pk"), total=Sum("total"))
    return CashReport(
        location=location,
        day=day,
        currency=organisation.currency,
        rows=rows,
        invoices_issued=issued_figures["count"] or 0,
        invoices_total=cents(issued_figures["total"] or ZERO),
        credit_notes=Invoice.objects.filter(
            location=location, credit_note__created_at__gte=start, credit_note__created_at__lt=end
        ).count(),
        deposit_in=cents(
            payments.aggregate(total=Sum("deposit_amount", filter=Q(kind=Payment.Kind.PAYMENT)))["total"] or ZERO
        ),
        payments=list(payments.select_related("invoice", "account", "created_by").order_by("created_at", "pk")),
    )


def locations_of(organisation: Organisation) -> QuerySet[Location]:
    return Location.objects.filter(organisation=organisation, is_active=True).order_by("name")
