"""The fast slot engine agrees with a naive minute-by-minute reference on random schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kabinet.scheduling import availability
from kabinet.scheduling.availability import Calendar, ShiftSpan, _ShiftInfo, free_slots

BASE = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


def _interval(start_min: int, length_min: int) -> tuple[datetime, datetime]:
    start = BASE + timedelta(minutes=start_min)
    return start, start + timedelta(minutes=length_min)


intervals = st.lists(
    st.tuples(st.integers(0, 600).map(lambda m: m - m % 5), st.integers(1, 24).map(lambda m: m * 5)), max_size=6
)


def _seconds(interval: tuple[datetime, datetime]) -> tuple[int, int]:
    return int(interval[0].timestamp()), int(interval[1].timestamp())


def _all_seconds(intervals: list[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
    return [_seconds(i) for i in intervals]


class _Service:
    def __init__(self, duration: int, before: int, after: int, grid: int) -> None:
        self.pk = 1
        self.duration = timedelta(minutes=duration)
        self.buffer_before = timedelta(minutes=before)
        self.buffer_after = timedelta(minutes=after)
        self.grid_minutes = grid
        self.room_kind = ""


def _naive(
    service: _Service, shift: tuple[datetime, datetime], blocked: list[tuple[datetime, datetime]], not_before: datetime
) -> list[datetime]:
    starts = []
    candidate = shift[0]
    while candidate < shift[1]:
        busy = (candidate - service.buffer_before, candidate + service.duration + service.buffer_after)
        fits = busy[0] >= shift[0] and busy[1] <= shift[1]
        free = not any(busy[0] < b[1] and b[0] < busy[1] for b in blocked)
        if fits and free and candidate >= not_before:
            starts.append(candidate)
        candidate += timedelta(minutes=service.grid_minutes)
    return starts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shift_len=st.integers(6, 144).map(lambda m: m * 5),
    breaks=intervals,
    busy=intervals,
    duration=st.sampled_from([5, 15, 30, 45, 60]),
    before=st.sampled_from([0, 5, 10]),
    after=st.sampled_from([0, 5, 15]),
    grid=st.sampled_from([5, 10, 15, 30]),
    not_before_min=st.integers(-60, 300),
)
def test_engine_matches_naive_reference(
    monkeypatch: pytest.MonkeyPatch,
    shift_len: int,
    breaks: list[tuple[int, int]],
    busy: list[tuple[int, int]],
    duration: int,
    before: int,
    after: int,
    grid: int,
    not_before_min: int,
) -> None:
    service = _Service(duration, before, after, grid)
    shift = (BASE, BASE + timedelta(minutes=shift_len))
    break_intervals = [_interval(*b) for b in breaks]
    busy_intervals = [_interval(*b) for b in busy]
    cal = Calendar()  # the engine's calendar is in whole Unix seconds
    cal.shifts[1].append(
        _ShiftInfo(
            shift=ShiftSpan(1, 1, 1, *_seconds(shift)), breaks=_all_seconds(break_intervals), allowed_service_ids=set()
        )
    )
    cal.busy[1] = _all_seconds(busy_intervals)
    monkeypatch.setattr(availability, "load_calendar", lambda **kwargs: cal)
    not_before = BASE + timedelta(minutes=not_before_min)
    got = [
        s.start
        for s in free_slots(
            service=service,  # type: ignore[arg-type]  # a stand-in with the same attributes
            practitioner_ids=[1],
            start=BASE - timedelta(days=1),
            end=BASE + timedelta(days=1),
            not_before=not_before,
        )
    ]
    assert got == _naive(service, shift, break_intervals + busy_intervals, not_before)
