"""Notifications API: the caller's in-app notifications, web push subscriptions, and the organisation's outbox
(administrators and registrars)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from kabinet.core import tenancy
from kabinet.core.exceptions import NotFound
from kabinet.core.models import Organisation
from kabinet.core.paging import page
from kabinet.notifications import selectors, services
from kabinet.notifications.models import Channel, Message

router = Router(tags=["notifications"])


class InAppOut(Schema):
    id: int
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None


class PushKeys(Schema):
    p256dh: str = Field(..., max_length=200)
    auth: str = Field(..., max_length=100)


class PushSubscriptionIn(Schema):
    endpoint: str = Field(..., max_length=1000)
    keys: PushKeys


class PushSubscriptionOut(Schema):
    id: int
    endpoint: str
    is_active: bool


class MessageEventOut(Schema):
    state: str
    at: datetime
    detail: str


class MessageOut(Schema):
    id: int
    channel: str
    event: str
    address: str
    patient: int | None = Field(None, alias="patient_id")
    language: str
    subject: str
    state: str
    due_at: datetime
    attempts: int
    last_error: str
    provider: str
    provider_id: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class MessageDetailOut(MessageOut):
    body: str
    events: list[MessageEventOut]

    @staticmethod
    def resolve_events(obj: Message) -> list[Any]:
        return list(obj.events.all())


class OutboxFilters(Schema):
    state: Message.State | None = None
    channel: Channel | None = None
    patient: int | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotFound()
    return organisation


@router.get("/notifications", response=list[InAppOut], summary="My in-app notifications, newest first")
def my_notifications(
    request: HttpRequest, response: HttpResponse, unread: bool = False, limit: int = Query(50, ge=1, le=200)
) -> Any:
    notes = selectors.inbox(user=request.user)
    if unread:
        notes = notes.filter(read_at__isnull=True)
    response["X-Unread-Count"] = str(selectors.unread_count(user=request.user))
    return list(notes[:limit])


@router.post("/notifications/read", response={204: None}, summary="Mark all my notifications read")
def read_all(request: HttpRequest) -> Any:
    services.inapp_mark_read(user=request.user)
    return Status(204, None)


@router.post("/notifications/{notification_id}/read", response={204: None}, summary="Mark one notification read")
def read_one(request: HttpRequest, notification_id: int) -> Any:
    services.inapp_mark_read(user=request.user, notification_id=notification_id)
    return Status(204, None)


@router.post(
    "/push-subscriptions",
    response={201: PushSubscriptionOut},
    summary="Register this device for web push",
    description="The body is the browser's PushSubscription.toJSON().",
)
def push_subscribe(request: HttpRequest, payload: PushSubscriptionIn) -> Any:
    subscription = services.push_subscribe(
        user=request.user, info=payload.dict(), user_agent=request.headers.get("User-Agent", "")
    )
    return Status(201, subscription)


@router.get(
    "/outbox",
    response=list[MessageOut],
    summary="The organisation's outgoing messages, newest first (administrators, registrars)",
    description="The total number of matches is in the X-Total-Count header.",
)
def outbox(request: HttpRequest, response: HttpResponse, filters: Query[OutboxFilters]) -> Any:
    messages = selectors.outbox(
        user=request.user,
        organisation=_organisation(request),
        state=filters.state or "",
        channel=filters.channel or "",
        patient_id=filters.patient,
    )
    return list(page(response, messages, offset=filters.offset, limit=filters.limit))


@router.get("/outbox/{message_id}", response=MessageDetailOut, summary="One message with its state history")
def outbox_message(request: HttpRequest, message_id: int) -> Any:
    return selectors.message_detail(user=request.user, organisation=_organisation(request), message_id=message_id)
