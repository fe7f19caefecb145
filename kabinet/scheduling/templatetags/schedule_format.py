"""Template filters for the schedule page: minutes shown as hours."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def hours(minutes: int | None) -> str:
    """125 → "2:05", -90 → "−1:30", None → "—" (hours and minutes, the way rotas are read)."""
    if minutes is None:
        return "—"
    sign = "−" if minutes < 0 else ""
    whole, rest = divmod(abs(int(minutes)), 60)
    return f"{sign}{whole}:{rest:02d}"


@register.filter
def hours_decimal(minutes: int | None) -> str:
    """For number inputs: 9630 → "160.5"; None → ""."""
    if minutes is None:
        return ""
    value = (Decimal(int(minutes)) / 60).quantize(Decimal("0.01")).normalize()
    return f"{value:f}"
