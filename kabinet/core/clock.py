"""The clock: a registry of periodic jobs and the loop that enqueues each once per time window.

Enqueueing is idempotent: a PeriodicRun row keyed by (job, window start) is inserted first, so two clocks (or a
restarted one) never enqueue the same window twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from kabinet.core.models import Heartbeat, PeriodicRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Any  # a django_tasks Task
    every_seconds: int


_registry: dict[str, PeriodicJob] = {}


def heartbeat_interval() -> int:
    return int(settings.HEARTBEAT_INTERVAL_SECONDS)


def register(name: str, task: Any, *, every_seconds: int) -> None:
    """Register a task (taking no arguments) to be enqueued every `every_seconds`. Apps call this in ready()."""
    if every_seconds < 1:
        raise ValueError("every_seconds must be positive")
    _registry[name] = PeriodicJob(name=name, task=task, every_seconds=every_seconds)


def jobs() -> list[PeriodicJob]:
    return sorted(_registry.values(), key=lambda j: j.name)


def window_start(now: datetime, every_seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % every_seconds, tz=now.tzinfo)


def tick(now: datetime | None = None) -> list[str]:
    """Enqueue every job whose current window has not been enqueued yet; return the names enqueued."""
    now = now or timezone.now()
    enqueued = []
    for job in jobs():
        start = window_start(now, job.every_seconds)
        try:
            with transaction.atomic():
                PeriodicRun.objects.create(job=job.name, window_start=start)
                job.task.enqueue()
        except IntegrityError:
            continue
        enqueued.append(job.name)
    Heartbeat.objects.update_or_create(name="clock", defaults={"beat_at": now})
    return enqueued


def prune(now: datetime | None = None, keep: timedelta = timedelta(days=2)) -> int:
    now = now or timezone.now()
    deleted, _ = PeriodicRun.objects.filter(enqueued_at__lt=now - keep).delete()
    return deleted


def run_forever(interval: float = 5.0, max_ticks: int | None = None) -> None:
    ticks = 0
    while max_ticks is None or ticks < max_ticks:
        try:
            names = tick()
            if names:
                logger.info("clock enqueued %s", ", ".join(names))
            if ticks % 720 == 0:
                prune()
        except Exception:  # the clock must keep ticking through a transient database error
            logger.exception("clock tick failed")
        ticks += 1
        if max_ticks is None or ticks < max_ticks:
            time.sleep(interval)
