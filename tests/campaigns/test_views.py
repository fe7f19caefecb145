"""Campaign pages: create and start from the browser's forms, live statistics partial, pause/resume/cancel buttons,
recipient drill-down with a state filter, CSV export; administrators and coordinators only, own clinic only."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from kabinet.audit.models import AuditEvent
from kabinet.campaigns import services
from kabinet.campaigns.models import Campaign
from kabinet.core.models import Role
from tests.campaigns.conftest import Clinic, run_until_done

pytestmark = pytest.mark.django_db


def test_coordinator_creates_starts_and_follows_a_campaign(clinic: Clinic, login_client: Any, smtp_server: Any):
    client = login_client(clinic.coordinator)
    assert 'href="/campaigns/"' in client.get("/").content.decode()
    form = client.get("/campaigns/new/").content.decode()
    assert "Newsletter" in form
    response = client.post(
        "/campaigns/new/",
        {
            "name": "Flu shots",
            "segment": clinic.segment.pk,
            "channels": ["email"],
            "event": "campaign.message",
            "subject": "Flu shots are here",
            "body": "Dear {{ patient.first_name }}, flu shots are available.",
            "rate_per_minute": "600",
        },
    )
    campaign = Campaign.objects.get(name="Flu shots")
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Start" in page and 'id="campaign-chart"' in page and "vendor/chartjs/chart.umd.min.js" in page
    assert client.post(f"/campaigns/{campaign.pk}/start/").status_code == 302
    stats = client.get(f"/campaigns/{campaign.pk}/stats/").content.decode()
    assert 'hx-trigger="every 3s"' in stats and 'data-figure="pending"><th scope="row">' in stats
    run_until_done(campaign)
    stats = client.get(f"/campaigns/{campaign.pk}/stats/").content.decode()
    assert '<tr data-figure="sent"><th scope="row">sent</th><td>6</td>' in stats
    assert "every 3s" not in stats  # finished: the page stops polling


def test_form_errors_are_shown_and_nothing_is_created(clinic: Clinic, login_client: Any) -> None:
    client = login_client(clinic.admin)
    page = client.post(
        "/campaigns/new/",
        {"name": "X", "segment": clinic.segment.pk, "channels": ["email"], "event": "campaign.message",
         "subject": "", "body": "Hi {{ patient.secret }}", "rate_per_minute": "10"},
    )  # fmt: skip
    html = page.content.decode()
    assert page.status_code == 200 and "Write a subject for the email." in html and "patient.secret" in html
    assert not Campaign.objects.exists()


def test_pause_resume_and_cancel_buttons(clinic: Clinic, login_client: Any) -> None:
    campaign = clinic.campaign()
    client = login_client(clinic.admin)
    client.post(f"/campaigns/{campaign.pk}/start/")
    client.post(f"/campaigns/{campaign.pk}/pause/")
    campaign.refresh_from_db()
    assert campaign.state == "paused" and "Resume" in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    client.post(f"/campaigns/{campaign.pk}/resume/")
    client.post(f"/campaigns/{campaign.pk}/cancel/")
    campaign.refresh_from_db()
    assert campaign.state == "cancelled"
    refused = client.post(f"/campaigns/{campaign.pk}/resume/", follow=True).content.decode()
    assert "The campaign is cancelled: this cannot be done now." in refused
    assert client.post(f"/campaigns/{campaign.pk}/explode/").status_code == 404


def test_recipient_drill_down_filters_by_state_and_paginates(clinic: Clinic, login_client: Any, smtp_server: Any):
    type(clinic.patients[0]).objects.filter(pk=clinic.patients[0].pk).update(marketing_consent=False)
    campaign = clinic.campaign()
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)
    client = login_client(clinic.admin)
    page = client.get(f"/campaigns/{campaign.pk}/recipients/").content.decode()
    assert page.count('class="recipient"') == 6
    skipped = client.get(f"/campaigns/{campaign.pk}/recipients/", {"state": "skipped"}).content.decode()
    assert skipped.count('class="recipient"') == 1 and "Campaignson000" in skipped and "no consent" in skipped
    sent = client.get(f"/campaigns/{campaign.pk}/recipients/", {"state": "sent"}).content.decode()
    assert sent.count('class="recipient"') == 5 and "Campaignson000" not in sent


def test_csv_export_lists_every_recipient_and_is_audited(clinic: Clinic, login_client: Any, smtp_server: Any):
    campaign = clinic.campaign(channels=["email", "sms"])
    services.campaign_start(actor=clinic.admin, campaign=campaign)
    run_until_done(campaign)  # SMS is off here: no provider, those messages fail
    response = login_client(clinic.coordinator).get(f"/campaigns/{campaign.pk}/recipients.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:6] == ["Patient id", "Patient", "Card number", "Channel", "Address", "State"]
    body = rows[1:]
    assert len(body) == 12
    email_rows = [r for r in body if r[3] == "email"]
    assert {r[5] for r in email_rows} == {"sent"} and {r[4] for r in email_rows} == {p.email for p in clinic.patients}
    assert {r[5] for r in body if r[3] == "sms"} == {"failed"}
    assert AuditEvent.objects.filter(action="campaign.recipients_exported", object_id=str(campaign.pk)).exists()


def test_doctors_are_refused_and_other_clinics_campaigns_are_not_found(
    clinic: Clinic, login_client: Any, make_user: Any, other_org: Any
) -> None:
    campaign = clinic.campaign()
    doctor = login_client(clinic.doctor)
    assert doctor.get("/campaigns/").status_code == 403
    assert doctor.get(f"/campaigns/{campaign.pk}/").status_code == 403
    assert doctor.post(f"/campaigns/{campaign.pk}/start/").status_code == 403
    assert 'href="/campaigns/"' not in doctor.get("/").content.decode()
    stranger = login_client(make_user(Role.ADMIN, organisation=other_org, email="beta@example.org"))
    for path in ("", "stats/", "recipients/", "recipients.csv"):
        assert stranger.get(f"/campaigns/{campaign.pk}/{path}").status_code == 404
    assert stranger.post(f"/campaigns/{campaign.pk}/start/").status_code == 404
    campaign.refresh_from_db()
    assert campaign.state == "draft"
