"""The calling rule and lateness as pure functions (no database)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kabinet.frontdesk.calling import lateness, next_call, parse_windows, remaining_attempts
from kabinet.frontdesk.models import default_call_windows

SOFIA = ZoneInfo("Europe/Sofia")
DAY = date(2030, 3, 14)
WINDOWS = parse_windows(default_call_windows())
GAP = timedelta(hours=1)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), tzinfo=SOFIA)


def test_the_first_call_is_due_when_the_first_window_opens() -> None:
    assert next_call(windows=WINDOWS, day=DAY, zone=SOFIA, attempts=[], gap=GAP) == at(11)


def test_a_second_attempt_waits_for_the_gap_within_the_window() -> None:
    assert next_call(windows=WINDOWS, day=DAY, zone=SOFIA, attempts=[at(11, 10)], gap=GAP) == at(12, 10)


def test_two_unanswered_calls_use_up_the_day_window_and_the_evening_one_is_next() -> None:
    attempts = [at(11, 5), at(13)]
    assert remaining_attempts(WINDOWS, DAY, SOFIA, attempts) == [0, 1]
    assert next_call(windows=WINDOWS, day=DAY, zone=SOFIA, attempts=attempts, gap=GAP) == at(18)


def test_after_the_evening_attempt_no_more_calls_are_allowed() -> None:
    attempts = [at(11, 5), at(13), at(18, 15)]
    assert next_call(windows=WINDOWS, day=DAY, zone=SOFIA, attempts=attempts, gap=GAP, now=at(18, 15)) is None


def test_a_call_before_eleven_counts_for_the_day_window_and_one_at_five_for_the_evening() -> None:
    assert remaining_attempts(WINDOWS, DAY, SOFIA, [at(9, 30)]) == [1, 1]
    assert remaining_attempts(WINDOWS, DAY, SOFIA, [at(17)]) == [2, 0]


def test_a_window_that_has_ended_is_skipped() -> None:
    assert next_call(windows=WINDOWS, day=DAY, zone=SOFIA, attempts=[], gap=GAP, now=at(16, 30)) == at(18)
    assert next_call(windows=WINDOWS, day=DAY, zone=SOFIA, attempts=[], gap=GAP, now=at(21)) is None


def test_a_gap_that_runs_past_the_window_moves_the_call_to_the_next_window() -> None:
    assert next_call(windows=WINDOWS, day=DAY, zone=SOFIA, attempts=[at(15, 30)], gap=GAP) == at(18)


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [["16:00", "11:00", 2]],
        [["11:00", "16:00", 0]],
        [["11:00", "16:00", 2], ["15:00", "18:00", 1]],
        [["11:00", "16:00"]],
        "11-16",
    ],
)
def test_malformed_windows_are_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_windows(raw)


@pytest.mark.parametrize(
    ("minutes_late", "level"),
    [(-5, "on_time"), (0, "on_time"), (1, "late"), (14, "late"), (15, "very_late"), (40, "very_late")],
)
def test_lateness_thresholds(minutes_late: int, level: str) -> None:
    start = at(10)
    result = lateness(
        start=start, arrived_at=start + timedelta(minutes=minutes_late, seconds=20), notify_from=1, reschedule_from=15
    )
    assert (result.minutes, result.level) == (minutes_late, level)


def test_lateness_thresholds_are_the_clinics() -> None:
    start = at(10)
    assert lateness(start=start, arrived_at=start + timedelta(minutes=7), notify_from=5, reschedule_from=10).level == (
        "late"
    )
    assert lateness(start=start, arrived_at=start + timedelta(minutes=3), notify_from=5, reschedule_from=10).level == (
        "on_time"
    )
    assert lateness(start=start, arrived_at=start + timedelta(minutes=10), notify_from=5, reschedule_from=10).level == (
        "very_late"
    )
