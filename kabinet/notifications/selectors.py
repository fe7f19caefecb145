"""Reads for the notification pages and API, scoped to the caller's organisation and role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from kabinet.core import permissions
from kabinet.core.exceptions import NotFound
from kabinet.core.models import Organisation
from kabinet.notifications import events
from kabinet.notifications.models import Channel, InAppNotification, Message, MessageTemplate
from kabinet.notifications.services import OUTBOX_ROLES, TEMPLATE_ROLES


def can_see_outbox(user: Any, organisation: Organisation | None) -> bool:
    return permissions.has_role(user, organisation, *OUTBOX_ROLES)


def can_edit_templates(user: Any, organisation: Organisation | None) -> bool:
    return permissions.has_role(user, organisation, *TEMPLATE_ROLES)


def outbox(
    *,
    user: Any,
    organisation: Organisation,
    state: str = "",
    channel: str = "",
    q: str = "",
    patient_id: int | None = None,
) -> QuerySet[Message]:
    """The organisation's messages, newest first, for administrators and registrars."""
    permissions.require_role(user, organisation, *OUTBOX_ROLES)
    messages = Message.objects.filter(organisation=organisation).select_related("patient")
    if state:
        messages = messages.filter(state=state)
    if channel:
        messages = messages.filter(channel=channel)
    if patient_id:
        messages = messages.filter(patient_id=patient_id)
    if q:
        messages = messages.filter(Q(address__icontains=q) | Q(subject__icontains=q) | Q(idempotency_key__startswith=q))
    return messages.defer("html", "attachments").order_by("-created_at", "-pk")


def message_detail(*, user: Any, organisation: Organisation, message_id: int) -> Message:
    permissions.require_role(user, organisation, *OUTBOX_ROLES)
    message = (
        Message.objects.filter(organisation=organisation, pk=message_id)
        .select_related("patient", "user", "created_by")
        .prefetch_related("events")
        .first()
    )
    if message is None:
        raise NotFound()
    return message


@dataclass(frozen=True)
class TemplateRow:
    event: events.EventType
    channel: str
    channel_label: str
    languages: list[tuple[str, str, bool]]  # (code, name, the clinic has its own wording)


def template_rows(*, user: Any, organisation: Organisation) -> list[TemplateRow]:
    permissions.require_role(user, organisation, *TEMPLATE_ROLES)
    own = set(MessageTemplate.objects.filter(organisation=organisation).values_list("event", "channel", "language"))
    rows = []
    for event in events.all_events():
        for channel in Channel:
            languages = [
                (code, str(name), (event.key, channel.value, code) in own) for code, name in settings.LANGUAGES
            ]
            rows.append(
                TemplateRow(event=event, channel=channel.value, channel_label=str(channel.label), languages=languages)
            )
    return rows


def inbox(*, user: Any) -> QuerySet[InAppNotification]:
    return InAppNotification.objects.filter(user=user).order_by("-created_at", "-pk")


def unread_count(*, user: Any) -> int:
    return InAppNotification.objects.filter(user=user, read_at__isnull=True).count()
