"""Notification pages: the outbox (administrators, registrars), templates and reminder policy (administrators),
messages to chosen patients (the desk roles), the user's in-app notifications, push subscription endpoints for the
PWA, Kannel's delivery reports, unsubscribe and the open-tracking image.

Thin views: validate, call one service or selector, render.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kabinet.core.decorators import organisation_page
from kabinet.core.exceptions import DomainError, NotAllowed, NotFound
from kabinet.core.models import Organisation
from kabinet.notifications import compose, events, providers, selectors, services
from kabinet.notifications.forms import ComposeForm, OutboxFilterForm, ReminderPolicyForm, TemplateForm
from kabinet.notifications.models import Channel, Message
from kabinet.notifications.providers.kannel import (
    DLR_BUFFERED,
    DLR_DELIVERED,
    DLR_REJECTED,
    DLR_SUBMITTED,
    DLR_UNDELIVERED,
)

logger = logging.getLogger(__name__)


# --- outbox -------------------------------------------------------------------------------------------------------


@organisation_page(selectors.can_see_outbox)
def outbox(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    form = OutboxFilterForm(request.GET or None)
    rows = selectors.outbox(user=request.user, organisation=organisation, **form.to_filter())
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "notifications/outbox.html", {"form": form, "page": page, "query": query.urlencode()})


@organisation_page(selectors.can_see_outbox)
def message_detail(request: HttpRequest, organisation: Organisation, message_id: int) -> HttpResponse:
    message = selectors.message_detail(user=request.user, organisation=organisation, message_id=message_id)
    return render(request, "notifications/message.html", {"message": message})


# --- messages to chosen patients ----------------------------------------------------------------------------------


def _compose_form(request: HttpRequest, data: Any = None) -> ComposeForm:
    return ComposeForm(
        data,
        channels=compose.channel_choices(),
        templates=compose.event_choices(),
        initial={"channels": [Channel.EMAIL], "event": compose.DEFAULT_EVENT},
    )


def _safe_next(request: HttpRequest) -> str:
    target = str(request.POST.get("next", ""))
    return target if target.startswith("/") and not target.startswith("//") else reverse("patients:list")


@organisation_page(compose.may_send)
def send_message(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """GET: how to choose patients. POST from the patient list or card (ids in the body, never in the URL): the
    form; POST with `send`: the messages are written and the user goes back where they came from."""
    if request.method != "POST":
        return render(request, "notifications/send.html", {"patients": []})
    ids = request.POST.getlist("patients")
    patients = compose.chosen_patients(actor=request.user, organisation=organisation, patient_ids=ids)
    sending = "send" in request.POST
    form = _compose_form(request, request.POST if sending else None)
    back = request.POST.get("next") or request.META.get("HTTP_REFERER", "")
    context = {
        "form": form,
        "patients": patients,
        "send_key": request.POST.get("send_key") or secrets.token_urlsafe(16),
        "next": back if back.startswith("/") and not back.startswith("//") else "",
    }
    if sending and form.is_valid():
        data = form.cleaned_data
        try:
            draft = compose.check_draft(
                channels=data["channels"], event=data["event"], subject=data["subject"], text=data["text"]
            )
            result = compose.send(
                actor=request.user,
                organisation=organisation,
                patient_ids=ids,
                draft=draft,
                send_key=str(request.POST.get("send_key", "")),
            )
        except DomainError as exc:
            if isinstance(exc, NotFound | NotAllowed):
                raise
            _add_errors(form, exc)
        else:
            if result.repeated:
                messages.info(request, _("These messages were already sent; nothing was sent twice."))
            else:
                messages.success(
                    request,
                    _("%(messages)s messages to %(patients)s patients are on their way.")
                    % {"messages": result.messages, "patients": result.patients},
                )
            if result.invalid:
                messages.warning(
                    request,
                    _("%(n)s addresses are not valid: those messages will not be sent (see the outbox).")
                    % {"n": result.invalid},
                )
            if result.unreachable:
                messages.warning(
                    request,
                    _("%(n)s patients have no address on the chosen channels.") % {"n": result.unreachable},
                )
            return redirect(_safe_next(request))
    return render(request, "notifications/send.html", context)


@organisation_page(compose.may_send)
@require_POST
def send_preview(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """The message as the first chosen patient would get it (htmx partial)."""
    patients = compose.chosen_patients(
        actor=request.user, organisation=organisation, patient_ids=request.POST.getlist("patients")
    )
    form = _compose_form(request, request.POST)
    parts, errors = [], []
    if form.is_valid():
        data = form.cleaned_data
        try:
            draft = compose.check_draft(
                channels=data["channels"], event=data["event"], subject=data["subject"], text=data["text"]
            )
            parts = compose.preview(actor=request.user, organisation=organisation, patient=patients[0], draft=draft)
        except DomainError as exc:
            if isinstance(exc, NotFound | NotAllowed):
                raise
            errors = [str(e) for errs in exc.errors.values() for e in errs] or [str(exc.message)]
    else:
        errors = [str(e) for errs in form.errors.values() for e in errs]
    context = {"parts": parts, "errors": errors, "patient": patients[0]}
    return render(request, "notifications/_send_preview.html", context)


# --- templates and policy -----------------------------------------------------------------------------------------


@organisation_page(selectors.can_edit_templates)
def template_list(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    rows = selectors.template_rows(user=request.user, organisation=organisation)
    return render(request, "notifications/templates.html", {"rows": rows})


def _template_target(event: str, channel: str, language: str) -> events.EventType:
    if channel not in Channel.values or language not in dict(settings.LANGUAGES):
        raise NotFound()
    try:
        return events.get(event)
    except LookupError:
        raise NotFound() from None


@organisation_page(selectors.can_edit_templates)
def template_edit(
    request: HttpRequest, organisation: Organisation, event: str, channel: str, language: str
) -> HttpResponse:
    event_type = _template_target(event, channel, language)
    subject, body, html, own = services.template_effective(organisation.pk, event, channel, language)
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if "reset" in request.POST:
                    services.template_reset(
                        actor=request.user, organisation=organisation, event=event, channel=channel, language=language
                    )
                    messages.success(request, _("The built-in wording is back."))
                else:
                    services.template_save(
                        actor=request.user,
                        organisation=organisation,
                        event=event,
                        channel=channel,
                        language=language,
                        subject=data["subject"],
                        body=data["body"],
                        html=data["html"],
                    )
                    messages.success(request, _("The template is saved."))
                return redirect("notifications:template_edit", event=event, channel=channel, language=language)
            except DomainError as exc:
                _add_errors(form, exc)
    else:
        form = TemplateForm(initial={"subject": subject, "body": body, "html": html})
    context = {
        "form": form,
        "event": event_type,
        "channel": Channel(channel),
        "language": language,
        "language_name": dict(settings.LANGUAGES)[language],
        "own": own,
        "variables": sorted(event_type.variables),
        "has_subject": channel in events.CHANNELS_WITH_SUBJECT,
        "is_email": channel == Channel.EMAIL,
    }
    return render(request, "notifications/template_edit.html", context)


def _add_errors(form: Any, exc: DomainError) -> None:
    for field, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
        for error in errors:
            form.add_error(field if field in form.fields else None, str(error))


@organisation_page(selectors.can_edit_templates)
@require_POST
def template_preview(
    request: HttpRequest, organisation: Organisation, event: str, channel: str, language: str
) -> HttpResponse:
    _template_target(event, channel, language)
    form = TemplateForm(request.POST)
    rendered, errors = None, []
    if form.is_valid():
        try:
            rendered = services.template_preview(
                actor=request.user,
                organisation=organisation,
                event=event,
                channel=channel,
                language=language,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                html=form.cleaned_data["html"],
            )
        except DomainError as exc:
            errors = [str(e) for errs in exc.errors.values() for e in errs] or [str(exc.message)]
    else:
        errors = [str(e) for errs in form.errors.values() for e in errs]
    context = {"rendered": rendered, "errors": errors, "is_email": channel == Channel.EMAIL}
    return render(request, "notifications/_preview.html", context)


@organisation_page(selectors.can_edit_templates)
def policy_edit(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    policy = services.reminder_policy(organisation.pk)
    if request.method == "POST":
        form = ReminderPolicyForm(request.POST)
        if form.is_valid():
            try:
                services.reminder_policy_update(actor=request.user, organisation=organisation, **form.cleaned_data)
                messages.success(request, _("The reminder settings are saved."))
                return redirect("notifications:policy")
            except DomainError as exc:
                _add_errors(form, exc)
    else:
        form = ReminderPolicyForm(
            initial={
                "reminder_offsets": policy.reminder_offsets,
                "quiet_hours_start": policy.quiet_hours_start,
                "quiet_hours_end": policy.quiet_hours_end,
                "send_confirmations": policy.send_confirmations,
                "send_changes": policy.send_changes,
                "in_app_copies": policy.in_app_copies,
            }
        )
    return render(request, "notifications/policy.html", {"form": form})


# --- in-app notifications (any signed-in user) --------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.inbox(user=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page})


@login_required
@require_POST
def inbox_read(request: HttpRequest, notification_id: int | None = None) -> HttpResponse:
    try:
        services.inapp_mark_read(user=request.user, notification_id=notification_id)
    except NotFound:
        return render(request, "404.html", status=404)
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect("notifications:inbox")


# --- web push subscriptions (JSON from the PWA) -------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@login_required
@require_POST
def push_subscribe(request: HttpRequest) -> JsonResponse:
    try:
        subscription = services.push_subscribe(
            user=request.user, info=_json_body(request), user_agent=request.headers.get("User-Agent", "")
        )
    except DomainError as exc:
        return JsonResponse({"code": exc.code, "detail": str(exc.message)}, status=exc.status)
    return JsonResponse({"id": subscription.pk}, status=201)


@login_required
@require_POST
def push_unsubscribe(request: HttpRequest) -> JsonResponse:
    count = services.push_unsubscribe(user=request.user, endpoint=str(_json_body(request).get("endpoint", "")))
    return JsonResponse({"unsubscribed": count})


# --- Kannel delivery reports --------------------------------------------------------------------------------------

KANNEL_STATES: dict[int, str | None] = {
    DLR_DELIVERED: Message.State.DELIVERED,
    DLR_UNDELIVERED: Message.State.FAILED,
    DLR_REJECTED: Message.State.REJECTED,
    DLR_SUBMITTED: Message.State.SENT,
    DLR_BUFFERED: None,  # kept in the history only
}


@csrf_exempt
@require_GET
def dlr_kannel(request: HttpRequest, token: str) -> HttpResponse:
    """Kannel calls this dlr-url with the outbox id and the report type; the token in the path is the secret."""
    if not secrets.compare_digest(token.encode(), providers.dlr_token().encode()):
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    try:
        message_id, kind = int(request.GET.get("message", "")), int(request.GET.get("type", ""))
    except ValueError:
        logger.warning("malformed Kannel delivery report ignored")
        return HttpResponse("ignored", content_type="text/plain")
    answer = request.GET.get("answer", "")[:500]
    services.delivery_report(
        message_id=message_id, provider="kannel", state=KANNEL_STATES.get(kind), detail=f"type {kind}: {answer}"
    )
    return HttpResponse("ok", content_type="text/plain")


# --- unsubscribe --------------------------------------------------------------------------------------------------


@csrf_exempt  # RFC 8058 one-click unsubscribe POSTs come from mail providers, without our cookies
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        try:
            services.unsubscribe(token=token)
        except NotFound:
            return render(request, "404.html", status=404)
        return render(request, "notifications/unsubscribed.html")
    return render(request, "notifications/unsubscribe.html", {"token": token})


# --- opens of marketing email -------------------------------------------------------------------------------------

# The smallest transparent GIF (1×1).
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


@never_cache
@require_GET
def opened(request: HttpRequest, token: str) -> HttpResponse:
    """The image in a marketing email: loading it marks the message read. The token is signed; a forged one 404s."""
    try:
        services.message_opened(token=token)
    except NotFound:
        return HttpResponse(status=404)
    return HttpResponse(PIXEL, content_type="image/gif")
