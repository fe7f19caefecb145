"""Reads for the campaign pages and API: the organisation's campaigns, live statistics and the recipient list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, Count, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext_lazy as _

from kabinet.campaigns.models import Campaign, CampaignRecipient
from kabinet.campaigns.services import CAMPAIGN_ROLES
from kabinet.core import permissions
from kabinet.core.exceptions import NotFound
from kabinet.core.models import Organisation
from kabinet.notifications.models import Message, OptOut

MState = Message.State
RState = CampaignRecipient.State
WITHHELD_CODES = ("no_consent", "opted_out")


def can_run_campaigns(user: Any, organisation: Organisation | None) -> bool:
    return permissions.has_role(user, organisation, *CAMPAIGN_ROLES)


def campaigns_of(*, user: Any, organisation: Organisation) -> QuerySet[Campaign]:
    permissions.require_role(user, organisation, *CAMPAIGN_ROLES)
    return Campaign.objects.filter(organisation=organisation).order_by("-created_at", "-pk")


def campaign_get(*, user: Any, organisation: Organisation, campaign_id: int) -> Campaign:
    """The campaign of the caller's organisation; another clinic's campaign is "not found"."""
    permissions.require_role(user, organisation, *CAMPAIGN_ROLES)
    campaign = Campaign.objects.filter(pk=campaign_id, organisation=organisation).first()
    if campaign is None:
        raise NotFound()
    return campaign


# The figures, in the order of the page, with their labels (the API uses the keys).
FIGURES: list[tuple[str, Any]] = [
    ("audience", _("audience (patients)")),
    ("pending", _("waiting to be released")),
    ("queued", _("in the outbox")),
    ("sent", _("sent")),
    ("delivered", _("delivered")),
    ("opened", _("opened / read")),
    ("bounced", _("rejected / bounced")),
    ("failed", _("failed")),
    ("invalid", _("invalid address")),
    ("skipped", _("skipped (no consent, unsubscribed, no address)")),
    ("unsubscribed", _("unsubscribed from this campaign")),
    ("cancelled", _("cancelled")),
]
# Chart bars: where each planned message is now (the audience and unsubscribes are counted apart).
CHART = ["pending", "queued", "sent", "delivered", "opened", "bounced", "failed", "invalid", "skipped", "cancelled"]


@dataclass(frozen=True)
class Stats:
    figures: dict[str, int]
    recipients: int

    def rows(self) -> list[tuple[str, Any, int]]:
        return [(key, label, self.figures[key]) for key, label in FIGURES]

    def chart(self) -> dict[str, Any]:
        labels = dict(FIGURES)
        return {"labels": [str(labels[k]) for k in CHART], "values": [self.figures[k] for k in CHART]}


def campaign_stats(*, campaign: Campaign) -> Stats:
    """Counts over the recipients and their messages (three grouped queries, whatever the audience)."""
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    figures = {key: 0 for key, _label in FIGURES}
    figures["audience"] = campaign.audience
    total = 0
    for row in recipients.values("state").annotate(n=Count("pk")):
        total += row["n"]
        if row["state"] == RState.PENDING:
            figures["pending"] += row["n"]
        elif row["state"] == RState.SKIPPED:
            figures["skipped"] += row["n"]
        elif row["state"] == RState.CANCELLED:
            figures["cancelled"] += row["n"]
    by_message = (
        recipients.filter(state=RState.QUEUED).values("message__state", "message__error_code").annotate(n=Count("pk"))
    )
    for message_row in by_message:
        state, code, n = message_row["message__state"], message_row["message__error_code"], message_row["n"]
        if state in (MState.QUEUED, MState.SENDING):
            figures["queued"] += n
        elif state == MState.SENT:
            figures["sent"] += n
        elif state == MState.DELIVERED:
            figures["delivered"] += n
        elif state == MState.READ:
            figures["opened"] += n
        elif state in (MState.BOUNCED, MState.REJECTED):
            figures["bounced"] += n
        elif state == MState.FAILED:
            figures["failed"] += n
        elif state == MState.INVALID:
            figures["invalid"] += n
        elif state == MState.CANCELLED and code in WITHHELD_CODES:
            figures["skipped"] += n
        else:  # cancelled with the campaign, or the message row is gone
            figures["cancelled"] += n
    sources = (
        recipients.filter(message__isnull=False)
        .annotate(source=Concat(Value("message:"), Cast("message_id", output_field=CharField())))
        .values("source")
    )
    figures["unsubscribed"] = OptOut.objects.filter(
        organisation_id=campaign.organisation_id, source__in=sources
    ).count()
    return Stats(figures=figures, recipients=total)


# States a recipient row can be filtered by on the drill-down: its own, or its message's.
RECIPIENT_FILTERS: list[tuple[str, Any]] = [
    ("pending", _("waiting")),
    ("skipped", _("skipped")),
    ("queued", _("in the outbox")),
    ("sent", _("sent")),
    ("delivered", _("delivered")),
    ("read", _("opened / read")),
    ("bounced", _("bounced")),
    ("rejected", _("rejected")),
    ("failed", _("failed")),
    ("invalid", _("invalid address")),
    ("cancelled", _("cancelled")),
]


def campaign_recipients(*, campaign: Campaign, state: str = "") -> QuerySet[CampaignRecipient]:
    """The campaign's recipients with their patient and message, in release order; `state` as RECIPIENT_FILTERS."""
    rows = CampaignRecipient.objects.filter(campaign=campaign).select_related("patient", "message").order_by("pk")
    if state in (RState.PENDING, RState.SKIPPED):
        rows = rows.filter(state=state)
    elif state == RState.CANCELLED:
        rows = rows.filter(state=RState.CANCELLED) | rows.filter(state=RState.QUEUED, message__state=MState.CANCELLED)
    elif state == "queued":
        rows = rows.filter(state=RState.QUEUED, message__state__in=(MState.QUEUED, MState.SENDING))
    elif state in MState.values:
        rows = rows.filter(state=RState.QUEUED, message__state=state)
    return rows.order_by("pk")


def recipient_state(row: CampaignRecipient) -> tuple[str, str]:
    """(state, detail) of one recipient for the drill-down and the export."""
    if row.state != RState.QUEUED or row.message is None:
        return row.state, row.get_reason_display() if row.reason else ""
    message = row.message
    return message.state, message.error_code or ""
