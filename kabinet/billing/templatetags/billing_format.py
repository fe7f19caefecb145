"""Template filters for money: `{{ value|money:currency }}` in the active language's number format."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from kabinet.billing.pricing import format_money

register = template.Library()


@register.filter
def money(value: Any, currency: str = "") -> str:
    if value in (None, ""):
        return ""
    return format_money(Decimal(value), currency)
