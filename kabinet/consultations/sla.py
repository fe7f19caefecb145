"""Reply deadlines: a patient message sent at `start` must be answered within the contract's SLA hours, counted
either around the clock or in the clinic's working hours only (working days, start–end, in the clinic's zone).

Pure functions of their arguments (no database), so tests and the monthly report share one definition.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

MAX_DAYS_SCANNED = 3660  # a policy with no working days must not loop forever


@dataclass(frozen=True)
class WorkingHours:
    """Working days (ISO weekdays, 1 = Monday) from `start` to `end` local time in `zone`."""

    zone: zoneinfo.ZoneInfo
    start: time = time(9)
    end: time = time(18)
    days: frozenset[int] = field(default_factory=lambda: frozenset({1, 2, 3, 4, 5}))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working period of `day` as aware datetimes, or None on a day off."""
        if day.isoweekday() not in self.days or self.end <= self.start:
            return None
        return (
            datetime.combine(day, self.start, tzinfo=self.zone),
            datetime.combine(day, self.end, tzinfo=self.zone),
        )


def due_at(start: datetime, hours: int, working: WorkingHours | None = None) -> datetime:
    """When a reply to a message sent at `start` is due: `hours` later, or after `hours` of working time.

    In working-hours mode a message sent out of hours starts its clock when the next working period starts; the
    deadline then falls inside a working period (at its end at the latest)."""
    if hours <= 0:
        raise ValueError("SLA hours must be positive")
    if working is None:
        return start + timedelta(hours=hours)
    remaining = timedelta(hours=hours)
    local = start.astimezone(working.zone)
    day = local.date()
    for _ in range(MAX_DAYS_SCANNED):
        window = working.window(day)
        if window is not None:
            begin, end = max(window[0], local), window[1]
            if begin < end:
                if begin + remaining <= end:
                    return (begin + remaining).astimezone(start.tzinfo)
                remaining -= end - begin
        day += timedelta(days=1)
    raise ValueError("the working hours have no working time")


def working_time_between(start: datetime, end: datetime, working: WorkingHours | None = None) -> timedelta:
    """Time between two moments, counting only working hours when `working` is given (for response times)."""
    if end <= start:
        return timedelta(0)
    if working is None:
        return end - start
    total = timedelta(0)
    day = start.astimezone(working.zone).date()
    last = end.astimezone(working.zone).date()
    while day <= last:
        window = working.window(day)
        if window is not None:
            begin, finish = max(window[0], start), min(window[1], end)
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    return total
