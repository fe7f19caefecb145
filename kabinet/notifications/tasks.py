"""Background tasks of notifications: the outbox dispatcher, enqueued by the clock every few seconds."""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django_tasks import task

from kabinet.notifications.dispatch import dispatch_until_idle


@task()
def dispatch_outbox() -> dict[str, int]:
    """Send what is due; stops when nothing is due or after two clock periods (the next run takes over)."""
    report = dispatch_until_idle(seconds=2 * settings.NOTIFICATIONS_TICK_SECONDS)
    return {k: v for k, v in asdict(report).items() if k != "ids"}
