"""Background tasks of consultations: the SLA job, enqueued by the clock every CONSULTATIONS_SLA_CHECK_SECONDS."""

from __future__ import annotations

from django_tasks import task

from kabinet.consultations import services


@task()
def sla_check() -> dict[str, int]:
    """End contracts whose period is over and escalate overdue replies (idempotent)."""
    return services.sla_check()
