"""Money arithmetic without the database: rounding to cents and the order in which discounts apply.

Order: each line's own discount first (on quantity × unit price), then the invoice-wide discount on the sum of the
lines. Every amount is rounded half-up to cents as soon as it is computed, and no discount takes an amount below
zero (a fixed discount larger than the amount makes it zero).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
PERCENT = "percent"
FIXED = "fixed"


def cents(value: Decimal | int) -> Decimal:
    """Round half-up to cents: 0.005 → 0.01, 2.345 → 2.35."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def has_cents_at_most(value: Decimal) -> bool:
    """True when `value` has no more than two decimal places (12.5, 12.50 — not 12.505)."""
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and (exponent >= -2 or value == value.quantize(CENT))


def discount_of(base: Decimal, kind: str, value: Decimal) -> Decimal:
    """What a discount takes off `base`: a percentage of it, or a fixed amount; never more than `base`."""
    if not kind or value <= 0 or base <= 0:
        return ZERO
    amount = cents(base * value / HUNDRED) if kind == PERCENT else cents(value)
    return min(amount, cents(base))


@dataclass(frozen=True)
class LineAmounts:
    gross: Decimal
    discount: Decimal
    total: Decimal


def line_amounts(
    quantity: Decimal, unit_price: Decimal, discount_kind: str = "", discount_value: Decimal = ZERO
) -> LineAmounts:
    gross = cents(quantity * unit_price)
    discount = discount_of(gross, discount_kind, discount_value)
    return LineAmounts(gross=gross, discount=discount, total=gross - discount)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    total: Decimal


def invoice_totals(line_totals: Iterable[Decimal], discount_kind: str = "", discount_value: Decimal = ZERO) -> Totals:
    subtotal = cents(sum(line_totals, ZERO))
    discount = discount_of(subtotal, discount_kind, discount_value)
    return Totals(subtotal=subtotal, discount=discount, total=subtotal - discount)


def format_money(value: Decimal, currency: str = "") -> str:
    """The amount with two decimals in the active language's format (1,234.50 / 1 234,50), then the currency."""
    from django.utils.formats import number_format

    text = number_format(value, 2, force_grouping=True)
    return f"{text} {currency}" if currency else text
