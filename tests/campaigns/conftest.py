"""Fixtures for campaign tests: a clinic with a segment of patients (most agreeing to news and offers), its
administrator, coordinator and a doctor, and helpers to run the clock and the dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.campaigns import services
from kabinet.campaigns.models import Campaign
from kabinet.core.models import Organisation, Role
from kabinet.notifications.dispatch import dispatch_due
from kabinet.notifications.models import ReminderPolicy
from kabinet.patients import services as patient_services
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import Patient, Segment, Tag
from tests.factories import PatientFactory


@dataclass
class Clinic:
    org: Organisation
    admin: User
    coordinator: User
    doctor: User
    segment: Segment
    patients: list[Patient]

    def campaign(self, **kwargs: Any) -> Campaign:
        fields: dict[str, Any] = {
            "name": "Spring check-up",
            "segment": self.segment,
            "channels": ["email"],
            "subject": "Spring check-up, {{ patient.first_name }}",
            "body": "Dear {{ patient.first_name }}, book your spring check-up.",
            "rate_per_minute": 600,
        }
        fields.update(kwargs)
        return services.campaign_create(actor=self.admin, organisation=self.org, **fields)


def make_patients(org: Organisation, tag: Tag, count: int, **fields: Any) -> list[Patient]:
    patients = []
    for i in range(count):
        defaults = {
            "family_name": f"Campaignson{i:03d}",
            "given_name": f"Anna{i}",
            "email": f"anna{i}@example.org",
            "phone": f"+3598881{i:05d}",
            "language": "en",
            "marketing_consent": True,
        }
        defaults.update(fields)
        patient = PatientFactory.create(organisation=org, **defaults)
        patient.tags.add(tag)
        patients.append(patient)
    return patients


@pytest.fixture
def clinic(org: Organisation, admin_user: User, make_user: Callable[..., User]) -> Clinic:
    policy, _ = ReminderPolicy.objects.get_or_create(organisation=org)
    policy.quiet_hours_start = policy.quiet_hours_end = None
    policy.save()
    coordinator = make_user(Role.COORDINATOR, organisation=org, email="cora@example.org", full_name="Cora Coordinator")
    doctor = make_user(Role.DOCTOR, organisation=org, email="doc@example.org", full_name="Dr Dmitrov")
    tag = Tag.objects.create(organisation=org, name="newsletter")
    patients = make_patients(org, tag, 6)
    segment = patient_services.segment_save(
        actor=admin_user, organisation=org, name="Newsletter", criteria=PatientCriteria(tag=tag.pk)
    )
    return Clinic(org=org, admin=admin_user, coordinator=coordinator, doctor=doctor, segment=segment, patients=patients)


def run_until_done(campaign: Campaign, *, rounds: int = 50) -> None:
    """Release and dispatch until nothing is left to release or send (the clock and the worker, in the test)."""
    from kabinet.campaigns.models import CampaignRecipient
    from kabinet.notifications.models import Message

    for _ in range(rounds):
        services.campaign_release(campaign_id=campaign.pk, budget=10_000)
        report = dispatch_due()
        pending = CampaignRecipient.objects.filter(campaign=campaign, state="pending").exists()
        queued = Message.objects.filter(ref_type="campaign", ref_id=str(campaign.pk), state="queued").exists()
        if report.claimed == 0 and not pending and not queued:
            return
    raise AssertionError("the campaign did not finish")
