"""The demo clinic has a consultation to show: an open contract with messages, an overdue question on the control
panel and a request in the queue; seeding twice adds nothing."""

from __future__ import annotations

import pytest

from kabinet.consultations import selectors
from kabinet.consultations.models import ConsultationContract, ConsultationMessage, ConsultationRequest
from kabinet.demo.seed import seed

pytestmark = pytest.mark.django_db


def test_the_demo_clinic_shows_consultations() -> None:
    result = seed()
    contracts = ConsultationContract.objects.filter(organisation=result.organisation, status="active")
    assert contracts.count() == 2
    assert ConsultationMessage.objects.filter(kind="reading").count() == 1
    assert ConsultationRequest.objects.filter(status="waiting").count() == 1
    admin = result.organisation.members.get(user__email="admin@kabinet.example").user
    panel = selectors.sla_panel(user=admin, organisation=result.organisation)
    assert [row.is_overdue for row in panel.rows] == [True, False]
    counts = (ConsultationContract.objects.count(), ConsultationMessage.objects.count())
    seed()
    assert (ConsultationContract.objects.count(), ConsultationMessage.objects.count()) == counts
