"""The campaigns API: create (Idempotency-Key), start (Idempotency-Key), pause/resume/cancel with 409 for a wrong
state, stats and recipients; problem+json errors; other clinics' campaigns 404, doctors 403."""

from __future__ import annotations

from typing import Any

import pytest

from kabinet.campaigns.models import Campaign, CampaignRecipient
from tests.campaigns.conftest import Clinic, run_until_done

pytestmark = pytest.mark.django_db


def post(client: Any, url: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(url, body or {}, content_type="application/json", headers=headers)


def _body(clinic: Clinic) -> dict[str, Any]:
    return {
        "name": "Autumn",
        "segment": clinic.segment.pk,
        "channels": ["email"],
        "subject": "Autumn check-up",
        "body": "Hello {{ patient.first_name }}",
        "rate_per_minute": 1000,
    }


def test_create_and_start_honour_idempotency_keys(clinic: Clinic, login_client: Any) -> None:
    client = login_client(clinic.coordinator)
    key = {"Idempotency-Key": "c-1"}
    first = client.post("/api/v1/campaigns", _body(clinic), content_type="application/json", headers=key)
    second = client.post("/api/v1/campaigns", _body(clinic), content_type="application/json", headers=key)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert Campaign.objects.count() == 1
    campaign_id = first.json()["id"]
    assert first.json()["state"] == "draft" and first.json()["segment"] == clinic.segment.pk
    start, again_key = f"/api/v1/campaigns/{campaign_id}/start", {"Idempotency-Key": "s-1"}
    started = client.post(start, {}, content_type="application/json", headers=again_key)
    again = client.post(start, {}, content_type="application/json", headers=again_key)
    assert started.status_code == again.status_code == 200 and again.json()["audience"] == 6
    assert CampaignRecipient.objects.filter(campaign_id=campaign_id).count() == 6
    conflict = post(client, f"/api/v1/campaigns/{campaign_id}/start")
    assert conflict.status_code == 409 and conflict["Content-Type"] == "application/problem+json"
    assert conflict.json()["code"] == "campaign_state"


def test_pause_resume_cancel_stats_and_recipients(clinic: Clinic, login_client: Any, smtp_server: Any) -> None:
    client = login_client(clinic.admin)
    campaign_id = post(client, "/api/v1/campaigns", _body(clinic)).json()["id"]
    post(client, f"/api/v1/campaigns/{campaign_id}/start")
    assert post(client, f"/api/v1/campaigns/{campaign_id}/pause").json()["state"] == "paused"
    assert post(client, f"/api/v1/campaigns/{campaign_id}/pause").status_code == 409
    assert post(client, f"/api/v1/campaigns/{campaign_id}/resume").json()["state"] == "running"
    run_until_done(Campaign.objects.get(pk=campaign_id))
    stats = client.get(f"/api/v1/campaigns/{campaign_id}/stats").json()
    assert stats["audience"] == 6 and stats["sent"] == 6 and stats["state"] == "completed"
    recipients = client.get(f"/api/v1/campaigns/{campaign_id}/recipients", {"state": "sent", "limit": 4})
    assert recipients["X-Total-Count"] == "6" and len(recipients.json()) == 4
    assert {r["state"] for r in recipients.json()} == {"sent"}
    assert post(client, f"/api/v1/campaigns/{campaign_id}/cancel").status_code == 409
    listed = client.get("/api/v1/campaigns")
    assert listed["X-Total-Count"] == "1" and listed.json()[0]["id"] == campaign_id


def test_cancel_through_the_api(clinic: Clinic, login_client: Any) -> None:
    client = login_client(clinic.admin)
    campaign_id = post(client, "/api/v1/campaigns", _body(clinic)).json()["id"]
    post(client, f"/api/v1/campaigns/{campaign_id}/start")
    assert post(client, f"/api/v1/campaigns/{campaign_id}/cancel").json()["state"] == "cancelled"
    assert client.get(f"/api/v1/campaigns/{campaign_id}/stats").json()["cancelled"] == 6


def test_validation_errors_are_problem_documents(clinic: Clinic, login_client: Any, other_org: Any) -> None:
    client = login_client(clinic.admin)
    bad = post(client, "/api/v1/campaigns", {**_body(clinic), "body": "{{ patient.iban }}"})
    assert bad.status_code == 422 and bad.json()["code"] == "bad_campaign" and "body" in bad.json()["errors"]
    wrong_channel = post(client, "/api/v1/campaigns", {**_body(clinic), "channels": ["fax"]})
    assert wrong_channel.status_code == 422 and wrong_channel.json()["code"] == "validation_error"
    from kabinet.patients.models import Segment

    foreign = Segment.objects.create(organisation=other_org, name="Theirs")
    assert post(client, "/api/v1/campaigns", {**_body(clinic), "segment": foreign.pk}).status_code == 422


def test_other_clinics_get_404_and_doctors_403(clinic: Clinic, login_client: Any, outsider: Any) -> None:
    campaign = clinic.campaign()
    stranger = login_client(outsider)
    assert stranger.get(f"/api/v1/campaigns/{campaign.pk}").status_code == 404
    assert post(stranger, f"/api/v1/campaigns/{campaign.pk}/start").status_code == 404
    assert stranger.get("/api/v1/campaigns").json() == []
    doctor = login_client(clinic.doctor)
    assert doctor.get(f"/api/v1/campaigns/{campaign.pk}").status_code == 403
    assert doctor.get("/api/v1/campaigns").status_code == 403
    assert post(doctor, "/api/v1/campaigns", _body(clinic)).status_code == 403
    campaign.refresh_from_db()
    assert campaign.state == "draft"
