"""The demo clinic's front desk: refusal reasons, recall rules, tomorrow's visits on today's call list and a patient
waiting with a call-back today; seeding twice adds nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kabinet.core.models import Location
from kabinet.demo.seed import seed
from kabinet.frontdesk.models import RecallRule, RefusalReason, WaitlistEntry, WorklistItem


@pytest.mark.django_db
def test_the_demo_clinic_has_a_front_desk_morning() -> None:
    org = seed().organisation
    location = Location.objects.filter(organisation=org).order_by("pk").first()
    assert location is not None
    today = timezone.localdate(timezone.now(), location.zone)
    counts = (
        RefusalReason.objects.filter(organisation=org).count(),
        RecallRule.objects.filter(organisation=org).count(),
        WaitlistEntry.objects.filter(organisation=org).count(),
        WorklistItem.objects.filter(organisation=org).count(),
    )
    assert counts[0] >= 5 and counts[1] >= 3 and counts[2] == 1
    confirmations = WorklistItem.objects.filter(organisation=org, kind="confirmations", day=today)
    assert confirmations.count() >= 4
    assert WorklistItem.objects.filter(organisation=org, kind="waitlist", day=today).count() == 1
    seed()
    assert counts == (
        RefusalReason.objects.filter(organisation=org).count(),
        RecallRule.objects.filter(organisation=org).count(),
        WaitlistEntry.objects.filter(organisation=org).count(),
        WorklistItem.objects.filter(organisation=org).count(),
    )
