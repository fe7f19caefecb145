"""Price list and discount use cases (administrators only): create and edit a location's price lists and their
prices, create and switch off discounts. Invoices already made keep their prices: lines store the price they got."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kabinet.audit.services import snapshot
from kabinet.billing import access
from kabinet.billing.models import Discount, DiscountKind, PriceItem, PriceList
from kabinet.billing.pricing import cents, has_cents_at_most
from kabinet.billing.services._common import MAX_AMOUNT, audit
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Location, Organisation
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Service

PRICE_LIST_FIELDS = ["name", "location", "valid_from", "valid_to"]
DISCOUNT_FIELDS = ["name", "kind", "value", "patient", "code", "valid_from", "valid_to", "is_active"]


def _check_period(valid_from: date | None, valid_to: date | None, errors: dict[str, list[str]]) -> None:
    if valid_from and valid_to and valid_to < valid_from:
        errors["valid_to"] = [_("The end is before the start.")]


def price_list_create(
    *,
    actor: Any,
    location: Location,
    name: str,
    valid_from: date,
    valid_to: date | None = None,
    copy_from: PriceList | None = None,
) -> PriceList:
    """A new price list of the location, empty or with the prices of `copy_from` (e.g. next year's list)."""
    access.require_prices(actor, location.organisation_id)
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Enter a name.")]
    _check_period(valid_from, valid_to, errors)
    if copy_from is not None and copy_from.organisation_id != location.organisation_id:
        errors["copy_from"] = [_("Unknown price list.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        price_list = PriceList.objects.create(
            organisation_id=location.organisation_id,
            location=location,
            name=name.strip()[:200],
            valid_from=valid_from,
            valid_to=valid_to,
        )
        if copy_from is not None:
            PriceItem.objects.bulk_create(
                PriceItem(price_list=price_list, service_id=item.service_id, price=item.price)
                for item in copy_from.items.all()
            )
        audit(
            actor=actor,
            action="billing.price_list_created",
            obj=price_list,
            patient_id=None,
            after=snapshot(price_list, PRICE_LIST_FIELDS),
        )
    return price_list


def price_list_update(
    *, actor: Any, price_list: PriceList, name: str, valid_from: date, valid_to: date | None
) -> PriceList:
    access.require_prices(actor, price_list.organisation_id)
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Enter a name.")]
    _check_period(valid_from, valid_to, errors)
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        current = PriceList.objects.select_for_update().get(pk=price_list.pk)
        before = snapshot(current, PRICE_LIST_FIELDS)
        current.name, current.valid_from, current.valid_to = name.strip()[:200], valid_from, valid_to
        current.save(update_fields=["name", "valid_from", "valid_to"])
        audit(
            actor=actor,
            action="billing.price_list_changed",
            obj=current,
            patient_id=None,
            before=before,
            after=snapshot(current, PRICE_LIST_FIELDS),
        )
    return current


def price_list_set_prices(*, actor: Any, price_list: PriceList, prices: Mapping[int, Decimal | None]) -> None:
    """Set the prices of the given services (service id → price; None removes the service from the list, so it
    costs what an older list or the service itself says)."""
    access.require_prices(actor, price_list.organisation_id)
    errors: dict[str, list[str]] = {}
    known = set(
        Service.objects.filter(organisation_id=price_list.organisation_id, pk__in=list(prices)).values_list(
            "pk", flat=True
        )
    )
    clean: dict[int, Decimal | None] = {}
    for service_id, price in prices.items():
        field = f"price_{service_id}"
        if service_id not in known:
            errors[field] = [_("Unknown service.")]
        elif price is None:
            clean[service_id] = None
        elif price < 0 or price > MAX_AMOUNT or not has_cents_at_most(price):
            errors[field] = [_("Enter a price of zero or more with at most two decimal places.")]
        else:
            clean[service_id] = cents(price)
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        before = dict(price_list.items.values_list("service_id", "price"))
        for service_id, price in clean.items():
            if price is None:
                PriceItem.objects.filter(price_list=price_list, service_id=service_id).delete()
            else:
                PriceItem.objects.update_or_create(
                    price_list=price_list, service_id=service_id, defaults={"price": price}
                )
        after = dict(price_list.items.values_list("service_id", "price"))
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        if changed:
            audit(
                actor=actor,
                action="billing.prices_changed",
                obj=price_list,
                patient_id=None,
                before={str(k): str(before[k]) if k in before else None for k in sorted(changed)},
                after={str(k): str(after[k]) if k in after else None for k in sorted(changed)},
            )


def discount_create(
    *,
    actor: Any,
    organisation: Organisation,
    name: str,
    kind: str,
    value: Decimal,
    patient: Patient | None = None,
    code: str = "",
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> Discount:
    """A discount for one patient, or for whoever shows a loyalty card or code (unique in the clinic)."""
    access.require_prices(actor, organisation)
    errors: dict[str, list[str]] = {}
    code = code.strip().upper()[:50]
    if not name.strip():
        errors["name"] = [_("Enter a name.")]
    if kind not in DiscountKind.values:
        errors["kind"] = [_("Choose percent or a fixed amount.")]
    if value is None or value <= 0 or value > MAX_AMOUNT or not has_cents_at_most(value):
        errors["value"] = [_("Enter a value above zero with at most two decimal places.")]
    elif kind == DiscountKind.PERCENT and value > 100:
        errors["value"] = [_("A percentage is at most 100.")]
    if patient is None and not code:
        errors["code"] = [_("Give the card number or code, or choose the patient.")]
    if patient is not None and patient.organisation_id != organisation.pk:
        errors["patient"] = [_("Unknown patient.")]
    _check_period(valid_from, valid_to, errors)
    if errors:
        raise Invalid(errors=errors)
    try:
        with transaction.atomic():
            discount = Discount.objects.create(
                organisation=organisation,
                name=name.strip()[:200],
                kind=kind,
                value=cents(value),
                patient=patient,
                code=code,
                valid_from=valid_from,
                valid_to=valid_to,
            )
            audit(
                actor=actor,
                action="billing.discount_created",
                obj=discount,
                patient_id=patient.pk if patient else None,
                after=snapshot(discount, DISCOUNT_FIELDS),
            )
    except IntegrityError as exc:
        raise Invalid(errors={"code": [_("Another discount already has this card number or code.")]}) from exc
    return discount


def discount_deactivate(*, actor: Any, discount: Discount) -> Discount:
    access.require_prices(actor, discount.organisation_id)
    with transaction.atomic():
        current = Discount.objects.select_for_update().get(pk=discount.pk)
        before = snapshot(current, ["is_active"])
        current.is_active = False
        current.save(update_fields=["is_active"])
        audit(
            actor=actor,
            action="billing.discount_deactivated",
            obj=current,
            patient_id=current.patient_id,
            before=before,
            after=snapshot(current, ["is_active"]),
        )
    return current
