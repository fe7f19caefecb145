"""The clinic's calling and lateness rules as pure functions: when the next confirmation call is due, when a patient
counts as unreachable, and how late an arrival is.

The regulation: call the day before the visit, twice between 11:00 and 16:00 and once more after 18:00; whoever is
still not reached gets an SMS. A policy stores that as windows of (local start, local end, attempts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any


@dataclass(frozen=True)
class CallWindow:
    start: time
    end: time
    attempts: int


def parse_windows(raw: Any) -> list[CallWindow]:
    """[["11:00", "16:00", 2], …] → windows in order; ValueError when malformed, overlapping or out of order."""
    if not isinstance(raw, list) or not raw or len(raw) > 6:
        raise ValueError("give one to six windows")
    windows: list[CallWindow] = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 3:
            raise ValueError("each window is [start, end, attempts]")
        start, end, attempts = time.fromisoformat(str(item[0])), time.fromisoformat(str(item[1])), item[2]
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
            raise ValueError("attempts must be a whole number from 1 to 10")
        if end <= start:
            raise ValueError("a window must end after it starts")
        if windows and start < windows[-1].end:
            raise ValueError("windows must be in order and must not overlap")
        windows.append(CallWindow(start, end, attempts))
    return windows


def _spans(windows: list[CallWindow], day: date, zone: tzinfo) -> list[tuple[datetime, datetime]]:
    return [(datetime.combine(day, w.start, tzinfo=zone), datetime.combine(day, w.end, tzinfo=zone)) for w in windows]


def remaining_attempts(windows: list[CallWindow], day: date, zone: tzinfo, attempts: Iterable[datetime]) -> list[int]:
    """Attempts left per window. Each unanswered call uses up the first window that has not ended at its time and
    still has attempts: a call made before 11:00 counts for the first window, one at 17:00 for the evening."""
    spans = _spans(windows, day, zone)
    left = [w.attempts for w in windows]
    for at in sorted(attempts):
        for i, (_start, end) in enumerate(spans):
            if end > at and left[i] > 0:
                left[i] -= 1
                break
    return left


def next_call(
    *,
    windows: list[CallWindow],
    day: date,
    zone: tzinfo,
    attempts: list[datetime],
    gap: timedelta,
    now: datetime | None = None,
) -> datetime | None:
    """When to call next (a past time means "now"), or None when the rule allows no more calls that day: every
    window is used up or over. Two calls are at least `gap` apart; a window that has ended is skipped."""
    spans = _spans(windows, day, zone)
    left = remaining_attempts(windows, day, zone, attempts)
    earliest = max(attempts) + gap if attempts else None
    for (start, end), count in zip(spans, left, strict=True):
        if count <= 0 or (now is not None and end <= now):
            continue
        candidate = start if earliest is None else max(start, earliest)
        if candidate < end:
            return candidate
    return None


def last_window_end(windows: list[CallWindow], day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, windows[-1].end, tzinfo=zone)


@dataclass(frozen=True)
class Lateness:
    minutes: int  # whole minutes after the start (negative: early)
    level: str  # "on_time", "late" or "very_late" (Arrival.Lateness values)


def lateness(*, start: datetime, arrived_at: datetime, notify_from: int, reschedule_from: int) -> Lateness:
    """Late by `minutes` (rounded down); `late` from `notify_from` minutes (tell the doctor), `very_late` from
    `reschedule_from` minutes (offer another time)."""
    minutes = math.floor((arrived_at - start).total_seconds() / 60)
    if minutes >= reschedule_from:
        return Lateness(minutes, "very_late")
    if minutes >= max(notify_from, 1):
        return Lateness(minutes, "late")
    return Lateness(minutes, "on_time")
