"""Background tasks of campaigns: the clock's release of throttled batches into the outbox."""

from __future__ import annotations

from django_tasks import task

from kabinet.campaigns.services import campaign_release_due


@task()
def release_campaigns() -> dict[str, int]:
    """Release each running campaign's share of this tick (idempotent: released recipients are never taken again)."""
    released = campaign_release_due()
    return {str(pk): r.queued for pk, r in released.items()}
