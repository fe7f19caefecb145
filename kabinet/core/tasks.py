"""Background tasks of the core app."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from kabinet.core.models import Heartbeat


@task()
def worker_heartbeat() -> str:
    """Proves a worker is taking tasks: /healthz reads the time it last ran."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name="worker", defaults={"beat_at": now})
    return now.isoformat()
