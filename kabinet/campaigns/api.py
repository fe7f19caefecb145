"""Campaigns API (administrators and coordinators): list, create, read, start, pause, resume, cancel, statistics and
the recipients. POSTs of create and start honour `Idempotency-Key`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import AwareDatetime, Field

from kabinet.campaigns import selectors, services
from kabinet.campaigns.models import Campaign, CampaignRecipient
from kabinet.core import tenancy
from kabinet.core.exceptions import Invalid, NotFound
from kabinet.core.idempotency import run_once
from kabinet.core.models import Organisation
from kabinet.core.paging import page
from kabinet.patients.models import Segment

router = Router(tags=["campaigns"])


class CampaignOut(Schema):
    id: int
    name: str
    segment: int | None
    segment_name: str
    channels: list[str]
    event: str
    subject: str
    body: str
    start_at: datetime | None
    rate_per_minute: int
    state: str
    audience: int
    created_at: datetime
    started_at: datetime | None
    paused_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None


class CampaignIn(Schema):
    name: str = Field(..., max_length=200)
    segment: int
    channels: list[Literal["email", "sms"]] = Field(..., min_length=1)
    event: str = Field(services.CAMPAIGN_EVENT, max_length=100)
    subject: str = Field("", max_length=300)
    body: str = Field("", max_length=5000)
    start_at: AwareDatetime | None = None
    rate_per_minute: int = Field(600, ge=1, le=services.MAX_RATE)


class StartIn(Schema):
    start_at: AwareDatetime | None = None


class StatsOut(Schema):
    audience: int
    pending: int
    queued: int
    sent: int
    delivered: int
    opened: int
    bounced: int
    failed: int
    invalid: int
    skipped: int
    unsubscribed: int
    cancelled: int
    state: str


class RecipientOut(Schema):
    id: int
    patient: int
    channel: str
    state: str
    detail: str
    message: int | None
    released_at: datetime | None


class RecipientFilters(Schema):
    state: str = Field(
        "",
        description="pending, skipped, queued, sent, delivered, read, bounced, rejected, failed, invalid or cancelled",
    )
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotFound()
    return organisation


def _campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    return selectors.campaign_get(user=request.user, organisation=_organisation(request), campaign_id=campaign_id)


def _out(campaign: Campaign) -> dict[str, Any]:
    fields = {name: getattr(campaign, name) for name in CampaignOut.model_fields if name not in ("id", "segment")}
    data = {"id": campaign.pk, "segment": campaign.segment_id, **fields}
    return CampaignOut.model_validate(data).model_dump(mode="json")


@router.get(
    "/campaigns",
    response=list[CampaignOut],
    summary="The organisation's campaigns, newest first (administrators, coordinators)",
    description="The total number is in the X-Total-Count header.",
)
def list_campaigns(
    request: HttpRequest, response: HttpResponse, limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)
) -> Any:
    campaigns = selectors.campaigns_of(user=request.user, organisation=_organisation(request))
    return [_out(campaign) for campaign in page(response, campaigns, offset=offset, limit=limit)]


@router.post(
    "/campaigns",
    response={201: CampaignOut},
    summary="Create a draft campaign for a saved segment",
    description="Honours `Idempotency-Key`. Nothing is sent until the campaign is started.",
)
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Any:
    organisation = _organisation(request)

    def create() -> tuple[int, dict[str, Any]]:
        segment = Segment.objects.filter(pk=payload.segment, organisation=organisation).first()
        if segment is None:
            raise Invalid(errors={"segment": [_("Choose one of the saved segments.")]}, code="bad_campaign")
        campaign = services.campaign_create(
            actor=request.user,
            organisation=organisation,
            name=payload.name,
            segment=segment,
            channels=list(payload.channels),
            event=payload.event,
            subject=payload.subject,
            body=payload.body,
            start_at=payload.start_at,
            rate_per_minute=payload.rate_per_minute,
        )
        return 201, _out(campaign)

    status, body = run_once(request, "campaigns.create", create)
    return Status(status, body)


@router.get("/campaigns/{campaign_id}", response=CampaignOut, summary="One campaign")
def get_campaign(request: HttpRequest, campaign_id: int) -> Any:
    return _out(_campaign(request, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/start",
    response=CampaignOut,
    summary="Start a draft campaign: freeze its audience and release it at the throttle rate",
    description="Honours `Idempotency-Key`. 409 `campaign_state` unless the campaign is a draft.",
)
def start_campaign(request: HttpRequest, campaign_id: int, payload: StartIn | None = None) -> Any:
    campaign = _campaign(request, campaign_id)

    def start() -> tuple[int, dict[str, Any]]:
        started = services.campaign_start(
            actor=request.user, campaign=campaign, start_at=payload.start_at if payload else None
        )
        return 200, _out(started)

    status, body = run_once(request, f"campaigns.start:{campaign_id}", start)
    return Status(status, body)


@router.post("/campaigns/{campaign_id}/pause", response=CampaignOut, summary="Pause a running campaign")
def pause_campaign(request: HttpRequest, campaign_id: int) -> Any:
    return _out(services.campaign_pause(actor=request.user, campaign=_campaign(request, campaign_id)))


@router.post("/campaigns/{campaign_id}/resume", response=CampaignOut, summary="Resume a paused campaign")
def resume_campaign(request: HttpRequest, campaign_id: int) -> Any:
    return _out(services.campaign_resume(actor=request.user, campaign=_campaign(request, campaign_id)))


@router.post(
    "/campaigns/{campaign_id}/cancel",
    response=CampaignOut,
    summary="Cancel a campaign: unreleased recipients and queued messages are cancelled",
)
def cancel_campaign(request: HttpRequest, campaign_id: int) -> Any:
    return _out(services.campaign_cancel(actor=request.user, campaign=_campaign(request, campaign_id)))


@router.get("/campaigns/{campaign_id}/stats", response=StatsOut, summary="Live statistics of a campaign")
def campaign_stats(request: HttpRequest, campaign_id: int) -> Any:
    campaign = _campaign(request, campaign_id)
    return {**selectors.campaign_stats(campaign=campaign).figures, "state": campaign.state}


@router.get(
    "/campaigns/{campaign_id}/recipients",
    response=list[RecipientOut],
    summary="The campaign's recipients and where each message is",
    description="The total number of matches is in the X-Total-Count header.",
)
def campaign_recipients(
    request: HttpRequest, response: HttpResponse, campaign_id: int, filters: Query[RecipientFilters]
) -> Any:
    campaign = _campaign(request, campaign_id)
    rows = selectors.campaign_recipients(campaign=campaign, state=filters.state)
    return [_recipient(row) for row in page(response, rows, offset=filters.offset, limit=filters.limit)]


def _recipient(row: CampaignRecipient) -> dict[str, Any]:
    state, detail = selectors.recipient_state(row)
    return {
        "id": row.pk,
        "patient": row.patient_id,
        "channel": row.channel,
        "state": state,
        "detail": detail,
        "message": row.message_id,
        "released_at": row.released_at,
    }
