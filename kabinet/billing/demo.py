"""Billing in the demo clinic (called by kabinet.demo.seed): a price list for the first location, a loyalty code,
the demo patient's paid invoice and a partly paid one (a debt), and another patient's invoice paid with the rest put
on the deposit. Idempotent: nothing is added once the clinic has a price list (other apps' demos bill too, e.g. a
paid consultation contract, so invoices alone do not say that billing's demo ran)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from kabinet.billing import services
from kabinet.billing.models import PriceList
from kabinet.billing.services import LineInput
from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Service


def seed_billing(organisation: Organisation, *, admin_email: str, patient_email: str) -> None:
    if PriceList.objects.filter(organisation=organisation).exists():
        return
    member = Member.objects.select_related("user").filter(organisation=organisation, user__email=admin_email).first()
    location = Location.objects.filter(organisation=organisation).order_by("pk").first()
    patient = Patient.objects.filter(organisation=organisation, user__email=patient_email).first()
    other = Patient.objects.filter(organisation=organisation, user__isnull=True).order_by("pk").first()
    service_list = list(Service.objects.filter(organisation=organisation, is_active=True).order_by("pk"))
    if member is None or location is None or patient is None or other is None or len(service_list) < 2:
        return
    admin = member.user
    today = timezone.localdate(timezone=location.zone)
    price_list = services.price_list_create(
        actor=admin, location=location, name=f"Price list {today.year}", valid_from=date(today.year, 1, 1)
    )
    services.price_list_set_prices(
        actor=admin,
        price_list=price_list,
        prices={s.pk: (s.price * Decimal("1.05")).quantize(Decimal("1")) for s in service_list},  # rounded up 5 %
    )
    services.discount_create(
        actor=admin, organisation=organisation, name="Loyalty card", kind="percent", value=Decimal("10"), code="GOLD10"
    )
    first, second = service_list[0], service_list[1]

    paid = services.invoice_create(
        actor=admin,
        patient=patient,
        location=location,
        lines=[LineInput(service_id=first.pk), LineInput(description="Consumables", unit_price=Decimal("12.50"))],
        discount_code="GOLD10",
    )
    paid = services.invoice_issue(actor=admin, invoice=paid)
    services.payment_take(actor=admin, invoice=paid, method="card", amount=paid.total, currency=organisation.currency)

    owed = services.invoice_issue(
        actor=admin,
        invoice=services.invoice_create(
            actor=admin, patient=patient, location=location, lines=[LineInput(service_id=second.pk)]
        ),
    )
    if owed.total > 1:
        services.payment_take(
            actor=admin,
            invoice=owed,
            method="cash",
            amount=(owed.total / 2).quantize(Decimal("1")),
            currency=organisation.currency,
        )

    advance = services.invoice_issue(
        actor=admin,
        invoice=services.invoice_create(
            actor=admin, patient=other, location=location, lines=[LineInput(service_id=first.pk)]
        ),
    )
    services.payment_take(
        actor=admin,
        invoice=advance,
        method="cash",
        amount=advance.total + Decimal("50"),
        currency=organisation.currency,
        to_deposit=True,
    )
