"""Device readings: the measures of each kind, the values a person can physically have (anything else is a typing
or device error and is refused with 422), and the clinic's normal ranges that flag a reading for the doctor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kabinet.core.exceptions import Invalid

FUTURE_TOLERANCE = timedelta(minutes=10)  # device clocks drift
OLDEST = timedelta(days=366)


@dataclass(frozen=True)
class Measure:
    name: str
    label: str | Promise
    unit: str
    low: Decimal  # physically possible range (inclusive)
    high: Decimal
    required: bool = True
    integer: bool = False


_BP = (
    Measure("systolic", gettext_lazy("systolic"), "mmHg", Decimal(50), Decimal(300), integer=True),
    Measure("diastolic", gettext_lazy("diastolic"), "mmHg", Decimal(20), Decimal(200), integer=True),
    Measure("pulse", gettext_lazy("pulse"), "/min", Decimal(20), Decimal(300), required=False, integer=True),
)

MEASURES: dict[str, tuple[Measure, ...]] = {
    "blood_pressure": _BP,
    "glucose": (Measure("glucose", gettext_lazy("glucose"), "mmol/L", Decimal("0.5"), Decimal(50)),),
    "weight": (Measure("weight", gettext_lazy("weight"), "kg", Decimal("0.3"), Decimal(500)),),
    "temperature": (Measure("temperature", gettext_lazy("temperature"), "°C", Decimal(25), Decimal(45)),),
    "spo2": (Measure("spo2", gettext_lazy("SpO2"), "%", Decimal(50), Decimal(100), integer=True),),
    "ecg": (),  # a file (PDF or picture from the device) with a comment
}

# Normal ranges used when the clinic has not set its own (ReadingThreshold): adult reference values.
DEFAULT_RANGES: dict[str, tuple[Decimal | None, Decimal | None]] = {
    "systolic": (Decimal(90), Decimal(140)),
    "diastolic": (Decimal(60), Decimal(90)),
    "pulse": (Decimal(50), Decimal(100)),
    "glucose": (Decimal("3.9"), Decimal("7.8")),
    "weight": (None, None),
    "temperature": (Decimal("35.5"), Decimal("37.5")),
    "spo2": (Decimal(94), None),
}


def measures_of(kind: str) -> tuple[Measure, ...]:
    try:
        return MEASURES[kind]
    except KeyError:
        raise Invalid(errors={"kind": [_("Choose a kind of reading from the list.")]}) from None


def _number(raw: Any) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise InvalidOperation
    value = Decimal(str(raw).strip().replace(",", "."))
    if not value.is_finite():
        raise InvalidOperation
    return value


def clean_values(kind: str, raw: Mapping[str, Any]) -> dict[str, float | int]:
    """The reading's values as numbers, or Invalid (422) naming each impossible or missing value."""
    errors: dict[str, list[str]] = {}
    values: dict[str, float | int] = {}
    for measure in measures_of(kind):
        try:
            value = _number(raw.get(measure.name))
        except (InvalidOperation, ValueError):
            errors[measure.name] = [_("Enter a number.")]
            continue
        if value is None:
            if measure.required:
                errors[measure.name] = [_("Enter the value.")]
            continue
        if not measure.low <= value <= measure.high:
            errors[measure.name] = [
                _("%(value)s %(unit)s is not possible: check the value (%(low)s–%(high)s %(unit)s).")
                % {"value": value, "unit": measure.unit, "low": measure.low, "high": measure.high}
            ]
            continue
        if measure.integer:
            values[measure.name] = int(value.to_integral_value())
        else:
            values[measure.name] = float(round(value, 2))
    if kind == "blood_pressure" and not errors and values["diastolic"] >= values["systolic"]:
        errors["diastolic"] = [_("The lower (diastolic) pressure must be below the upper (systolic) one.")]
    if errors:
        raise Invalid(errors=errors, code="reading_invalid")
    return values


def clean_measured_at(value: datetime | str | None, now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    if value is None or value == "":
        return now
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise Invalid(errors={"measured_at": [_("Enter the date and time of the measurement.")]})
        value = parsed
    if not isinstance(value, datetime):
        raise Invalid(errors={"measured_at": [_("Enter the date and time of the measurement.")]})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + FUTURE_TOLERANCE:
        raise Invalid(errors={"measured_at": [_("The time of the measurement is in the future.")]})
    if value < now - OLDEST:
        raise Invalid(errors={"measured_at": [_("The measurement is more than a year old.")]})
    return value


def ranges_for(thresholds: Mapping[str, tuple[Decimal | None, Decimal | None]]) -> dict[str, tuple[Any, Any]]:
    merged: dict[str, tuple[Any, Any]] = dict(DEFAULT_RANGES)
    merged.update(thresholds)
    return merged


def out_of_range(values: Mapping[str, float | int], ranges: Mapping[str, tuple[Any, Any]]) -> list[str]:
    """The measures whose value lies outside the normal range."""
    flagged = []
    for name, value in values.items():
        low, high = ranges.get(name, (None, None))
        if (low is not None and Decimal(str(value)) < low) or (high is not None and Decimal(str(value)) > high):
            flagged.append(name)
    return flagged


def summary(kind: str, values: Mapping[str, Any]) -> str:
    """One line for lists and notifications, e.g. "130/85 mmHg, pulse 70"."""
    if kind == "blood_pressure":
        text = f"{values.get('systolic')}/{values.get('diastolic')} mmHg"
        if values.get("pulse") is not None:
            text += f", {_('pulse')} {values['pulse']}/min"
        return text
    parts = []
    for measure in MEASURES.get(kind, ()):
        if values.get(measure.name) is not None:
            parts.append(f"{values[measure.name]} {measure.unit}")
    return ", ".join(parts)
