"""Campaign pages (administrators and coordinators): the list, a new campaign, the campaign with live statistics
(an htmx partial polled every few seconds), start / pause / resume / cancel, the recipient drill-down and its CSV.

Thin views: validate, call one service or selector, render.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from kabinet.campaigns import selectors, services
from kabinet.campaigns.forms import CampaignForm, RecipientFilterForm
from kabinet.campaigns.models import Campaign
from kabinet.core.decorators import staff_page_for
from kabinet.core.exceptions import DomainError, NotFound
from kabinet.core.models import Organisation
from kabinet.patients import selectors as patient_selectors

campaign_page = staff_page_for(*services.CAMPAIGN_ROLES)
ACTIONS: dict[str, Callable[..., Campaign]] = {
    "start": services.campaign_start,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "cancel": services.campaign_cancel,
}
DONE = {
    "start": gettext_lazy("The campaign is running."),
    "pause": gettext_lazy("The campaign is paused."),
    "resume": gettext_lazy("The campaign is running again."),
    "cancel": gettext_lazy("The campaign is cancelled."),
}


@require_GET
@campaign_page
def campaign_list(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    campaigns = selectors.campaigns_of(user=request.user, organisation=organisation)
    page = Paginator(campaigns, 30).get_page(request.GET.get("page"))
    return render(request, "campaigns/list.html", {"page": page})


@campaign_page
def campaign_new(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    segments = list(patient_selectors.segments_of(user=request.user, organisation=organisation))
    form = CampaignForm(
        request.POST if request.method == "POST" else None,
        segments=[(s.pk, s.name) for s in segments],
        templates=services.marketing_events(),
        initial={"channels": ["email"], "event": services.CAMPAIGN_EVENT, "rate_per_minute": 600},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                actor=request.user,
                organisation=organisation,
                name=data["name"],
                segment=next((s for s in segments if s.pk == data["segment"]), None),
                channels=data["channels"],
                event=data["event"],
                subject=data["subject"],
                body=data["body"],
                start_at=data["start_at"],
                rate_per_minute=data["rate_per_minute"],
            )
        except DomainError as exc:
            for field, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, str(error))
        else:
            messages.success(request, _("The campaign is saved as a draft. Check it, then start it."))
            return redirect("campaigns:detail", campaign_id=campaign.pk)
    return render(request, "campaigns/new.html", {"form": form, "has_segments": bool(segments)})


def _stats_context(campaign: Campaign) -> dict[str, Any]:
    stats = selectors.campaign_stats(campaign=campaign)
    live = campaign.is_live or stats.figures["queued"] > 0 or stats.figures["pending"] > 0
    return {"campaign": campaign, "stats": stats, "chart": stats.chart(), "live": live, "now": timezone.now()}


@require_GET
@campaign_page
def campaign_detail(request: HttpRequest, organisation: Organisation, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, organisation=organisation, campaign_id=campaign_id)
    return render(request, "campaigns/detail.html", _stats_context(campaign))


@require_GET
@campaign_page
def campaign_stats(request: HttpRequest, organisation: Organisation, campaign_id: int) -> HttpResponse:
    """The statistics partial the campaign page polls while the campaign runs."""
    campaign = selectors.campaign_get(user=request.user, organisation=organisation, campaign_id=campaign_id)
    return render(request, "campaigns/_stats.html", _stats_context(campaign))


@require_POST
@campaign_page
def campaign_action(request: HttpRequest, organisation: Organisation, campaign_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise NotFound()
    campaign = selectors.campaign_get(user=request.user, organisation=organisation, campaign_id=campaign_id)
    try:
        ACTIONS[action](actor=request.user, campaign=campaign)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, str(exc.message))
    else:
        messages.success(request, str(DONE[action]))
    return redirect("campaigns:detail", campaign_id=campaign_id)


@require_GET
@campaign_page
def campaign_recipients(request: HttpRequest, organisation: Organisation, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, organisation=organisation, campaign_id=campaign_id)
    form = RecipientFilterForm(request.GET or None)
    state = form.cleaned_data["state"] if form.is_valid() else ""
    page = Paginator(selectors.campaign_recipients(campaign=campaign, state=state), 50).get_page(
        request.GET.get("page")
    )
    rows = [(row, *selectors.recipient_state(row)) for row in page.object_list]
    context = {"campaign": campaign, "form": form, "page": page, "rows": rows, "state": state}
    return render(request, "campaigns/recipients.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@campaign_page
def campaign_export(request: HttpRequest, organisation: Organisation, campaign_id: int) -> HttpResponse:
    """Every recipient as CSV (streamed): patient, card number, channel, address, state, reason, times."""
    campaign = selectors.campaign_get(user=request.user, organisation=organisation, campaign_id=campaign_id)
    rows = selectors.campaign_recipients(campaign=campaign)
    services.campaign_export_logged(actor=request.user, campaign=campaign, rows=rows.count())
    writer = csv.writer(_Echo())
    header = [
        _("Patient id"),
        _("Patient"),
        _("Card number"),
        _("Channel"),
        _("Address"),
        _("State"),
        _("Reason"),
        _("Released"),
        _("Sent"),
        _("Delivered"),
        _("Opened / read"),
    ]

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)
        for row in rows.iterator(chunk_size=2000):
            state, detail = selectors.recipient_state(row)
            message = row.message
            stamps = [message.sent_at, message.delivered_at, message.read_at] if message else [None, None, None]
            yield writer.writerow(
                [
                    row.patient_id,
                    str(row.patient),
                    row.patient.card_number,
                    row.channel,
                    message.address if message else "",
                    state,
                    detail,
                    row.released_at.isoformat() if row.released_at else "",
                    *[s.isoformat() if s else "" for s in stamps],
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
    return response  # type: ignore[return-value]  # streamed: the file can hold 100,000 rows
