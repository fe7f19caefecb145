"""Reply deadlines around the clock and in working hours only (pure functions)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

import pytest

from kabinet.consultations.sla import WorkingHours, due_at, working_time_between

SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")
HOURS = WorkingHours(zone=SOFIA, start=time(9), end=time(18))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SOFIA)  # 2 March 2026 is a Monday


def test_around_the_clock_is_plain_hours() -> None:
    start = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert due_at(start, 24) == start + timedelta(hours=24)


@pytest.mark.parametrize(
    ("sent", "hours", "due"),
    [
        (at(2, 10), 4, at(2, 14)),  # inside one working day
        (at(2, 16), 4, at(3, 11)),  # 2 h today, 2 h tomorrow
        (at(2, 20), 1, at(3, 10)),  # sent in the evening: the clock starts at 9:00
        (at(2, 6), 9, at(2, 18)),  # before opening: the whole day, due at closing
        (at(6, 17), 8, at(9, 16)),  # Friday 17:00 → 1 h + 7 h on Monday
        (at(7, 12), 2, at(9, 11)),  # Saturday → Monday
        (at(2, 9), 24, at(4, 15)),  # 9 + 9 + 6
    ],
)
def test_working_hours_only(sent: datetime, hours: int, due: datetime) -> None:
    assert due_at(sent, hours, HOURS) == due


def test_a_policy_without_working_time_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError):
        due_at(at(2, 10), 1, WorkingHours(zone=SOFIA, days=frozenset()))
    with pytest.raises(ValueError):
        due_at(at(2, 10), 0)


def test_working_time_between_counts_only_open_hours() -> None:
    assert working_time_between(at(6, 17), at(9, 10), HOURS) == timedelta(hours=2)
    assert working_time_between(at(6, 17), at(9, 10)) == at(9, 10) - at(6, 17)
    assert working_time_between(at(9, 10), at(6, 17), HOURS) == timedelta(0)


def test_across_the_daylight_saving_change() -> None:
    # Sofia moves its clocks forward on 29 March 2026 (a Sunday): working hours stay 9–18 local time.
    assert due_at(datetime(2026, 3, 27, 17, tzinfo=SOFIA), 2, HOURS) == datetime(2026, 3, 30, 10, tzinfo=SOFIA)
    start = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert (due_at(start, 24) - start) == timedelta(hours=24)
