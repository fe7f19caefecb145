"""Hooks that apps above scheduling register at start-up: to follow appointment changes, and to extend the
calendar page. Scheduling never imports those apps (and sends no Django signals: a hook runs inside the change's
transaction, so what it writes commits or rolls back with the change).

The front desk registers in its AppConfig.ready():

    register_appointment_hook("frontdesk", on_appointment_changed)
    register_calendar_extension("frontdesk", calendar_extension)

`hook(appointment, what, actor=..., previous=...)` runs after the change is saved: `what` is "moved" or the new
status ("cancelled", "completed", …); `previous` is the time, doctor, location and status before it. An exception
in a hook fails the whole change, so keep hooks small and let them decide quickly that they have nothing to do.

`extension(user, organisation)` returns a JSON-able dict (or None) that the calendar page hands to calendar.js as
`config.extensions[name]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Previous:
    """An appointment's place and status before a change."""

    start: datetime
    end: datetime
    practitioner_id: int
    location_id: int
    status: str


AppointmentHook = Callable[..., None]
CalendarExtension = Callable[[Any, Any], dict[str, Any] | None]

_appointment_hooks: dict[str, AppointmentHook] = {}
_calendar_extensions: dict[str, CalendarExtension] = {}


def register_appointment_hook(name: str, hook: AppointmentHook) -> None:
    _appointment_hooks[name] = hook


def register_calendar_extension(name: str, extension: CalendarExtension) -> None:
    _calendar_extensions[name] = extension


def previous_of(appointment: Any) -> Previous:
    return Previous(
        start=appointment.start,
        end=appointment.end,
        practitioner_id=appointment.practitioner_id,
        location_id=appointment.location_id,
        status=appointment.status,
    )


def appointment_changed(appointment: Any, what: str, *, actor: Any, previous: Previous) -> None:
    """Called by scheduling's services inside the change's transaction, after saving it."""
    for hook in list(_appointment_hooks.values()):
        hook(appointment, what, actor=actor, previous=previous)


def calendar_extensions(user: Any, organisation: Any) -> dict[str, Any]:
    found = {}
    for name, extension in _calendar_extensions.items():
        value = extension(user, organisation)
        if value is not None:
            found[name] = value
    return found
