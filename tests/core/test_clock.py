"""The clock enqueues each periodic job once per window, however many clocks tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from kabinet.core import clock
from kabinet.core.models import Heartbeat, PeriodicRun


@pytest.mark.django_db
def test_heartbeat_job_is_registered_by_the_core_app() -> None:
    assert "core.heartbeat" in [job.name for job in clock.jobs()]


@pytest.mark.django_db
def test_two_ticks_in_the_same_window_enqueue_once_and_the_next_window_again(settings) -> None:
    every = settings.HEARTBEAT_INTERVAL_SECONDS
    now = datetime(2026, 11, 23, 10, 0, 1, tzinfo=UTC)
    assert "core.heartbeat" in clock.tick(now)
    assert "core.heartbeat" not in clock.tick(now + timedelta(seconds=1))
    assert "core.heartbeat" in clock.tick(now + timedelta(seconds=every))
    assert PeriodicRun.objects.filter(job="core.heartbeat").count() == 2
    assert DBTaskResult.objects.filter(task_path="kabinet.core.tasks.worker_heartbeat").count() == 2
    assert Heartbeat.objects.get(name="clock").beat_at == now + timedelta(seconds=every)


def test_window_start_is_aligned() -> None:
    now = datetime(2026, 1, 1, 0, 0, 47, tzinfo=UTC)
    assert clock.window_start(now, 30) == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)


def test_register_refuses_a_nonpositive_interval() -> None:
    with pytest.raises(ValueError):
        clock.register("bad", object(), every_seconds=0)


@pytest.mark.django_db
def test_prune_removes_old_windows_only() -> None:
    PeriodicRun.objects.create(job="a", window_start=datetime(2026, 1, 1, tzinfo=UTC))
    PeriodicRun.objects.filter(job="a").update(enqueued_at=datetime(2026, 1, 1, tzinfo=UTC))
    PeriodicRun.objects.create(job="b", window_start=datetime(2026, 1, 2, tzinfo=UTC))
    assert clock.prune() == 1
    assert list(PeriodicRun.objects.values_list("job", flat=True)) == ["b"]
