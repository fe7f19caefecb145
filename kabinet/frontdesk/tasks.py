"""Periodic jobs of the front desk, enqueued by the clock: keep each clinic's worklists current (confirmation calls
for tomorrow, waiting-list call-backs, unreachable patients, expired offers, settled recall calls) and move
patients without visits to the passive list. Both are idempotent: running them twice changes nothing more."""

from __future__ import annotations

import logging

from django.utils import timezone
from django_tasks import task

from kabinet.core.models import Location, Organisation
from kabinet.frontdesk.services import recall, waitlist, worklists

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 15 * 60
PASSIVE_SECONDS = 6 * 60 * 60


def refresh_organisation(organisation: Organisation) -> dict[str, int]:
    """Today's lists of one clinic, "today" counted in each location's zone."""
    report = {"confirmations": 0, "callbacks": 0, "unreachable": 0, "recall_settled": 0}
    now = timezone.now()
    days = {
        timezone.localdate(now, location.zone)
        for location in Location.objects.filter(organisation=organisation, is_active=True)
    } or {timezone.localdate(now)}
    for day in sorted(days):
        report["confirmations"] += worklists.confirmations_generate(
            actor=None, organisation=organisation, day=day
        ).created
        report["callbacks"] += waitlist.callbacks_generate(organisation=organisation, day=day)
        report["recall_settled"] += recall.recall_settle(organisation=organisation, day=day)
    report["unreachable"] = worklists.confirmations_sweep(organisation=organisation, now=now)
    return report


@task()
def worklists_refresh() -> dict[str, int]:
    totals = {"expired_offers": waitlist.offers_expire()}
    for organisation in Organisation.objects.order_by("pk"):
        try:
            for name, value in refresh_organisation(organisation).items():
                totals[name] = totals.get(name, 0) + value
        except Exception:  # one clinic's bad data must not stop the others' lists
            logger.exception("front-desk worklists of organisation %s failed", organisation.pk)
    return totals


@task()
def passive_list_refresh() -> dict[str, int]:
    moved = 0
    for organisation in Organisation.objects.order_by("pk"):
        try:
            moved += recall.passive_list_update(organisation=organisation)
        except Exception:
            logger.exception("passive list of organisation %s failed", organisation.pk)
    return {"moved": moved}
