"""The day's board (/frontdesk/), the call worklists (confirmations, recall) and the waiting list, with the outcome
buttons answered by htmx partials (a plain POST and redirect without JavaScript)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kabinet.core.exceptions import DomainError, Invalid, NotAllowed, NotFound
from kabinet.core.models import Organisation
from kabinet.frontdesk import selectors
from kabinet.frontdesk.forms import AttemptForm, WaitlistForm, aware, reason_choices
from kabinet.frontdesk.models import WorklistItem
from kabinet.frontdesk.services import waitlist, worklists
from kabinet.frontdesk.views.common import day_of, staff_page
from kabinet.patients import selectors as patient_selectors
from kabinet.patients.filters import PatientCriteria

Kind = WorklistItem.Kind
PAGES = {
    Kind.CONFIRMATION: "frontdesk:confirmations",
    Kind.WAITLIST: "frontdesk:waitlist",
    Kind.RECALL: "frontdesk:recall",
}


def _list_url(kind: str, day: Any) -> str:
    return f"{reverse(PAGES[WorklistItem.Kind(kind)])}?{urlencode({'date': day.isoformat()})}"


def _require_work(request: HttpRequest, organisation: Organisation) -> None:
    """Writes are for the front office (WORK_ROLES): others get the 403 page, not a message."""
    if not selectors.can_work(request.user, organisation):
        raise NotAllowed()


def _panel(request: HttpRequest) -> bool:
    """`?panel=1`: only the list's live part, fetched again by board.js when the clinic's worklists change."""
    return request.GET.get("panel") == "1"


def _panel_query(day: Any) -> str:
    return urlencode({"date": day.isoformat(), "panel": "1"})


def _common(request: HttpRequest, organisation: Organisation) -> dict[str, Any]:
    cancel, refusal = reason_choices(organisation)
    return {
        "organisation": organisation,
        "can_work": selectors.can_work(request.user, organisation),
        "cancel_reasons": cancel,
        "refusal_reasons": refusal,
        "now": timezone.now(),
    }


@require_GET
@staff_page
def board(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    day = day_of(request, organisation)
    context = {
        **_common(request, organisation),
        "board": selectors.board(user=request.user, organisation=organisation, day=day),
        "day": day,
    }
    return render(request, "frontdesk/board.html", context)


@require_GET
@staff_page
def board_panel(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """The board's live part: fetched again when the clinic's worklists change (or polled while the socket is down)."""
    day = day_of(request, organisation)
    context = {
        **_common(request, organisation),
        "board": selectors.board(user=request.user, organisation=organisation, day=day),
        "day": day,
    }
    return render(request, "frontdesk/_board.html", context)


@require_GET
@staff_page
def worklist_page(request: HttpRequest, organisation: Organisation, kind: str) -> HttpResponse:
    day = day_of(request, organisation)
    items = selectors.worklist(user=request.user, organisation=organisation, kind=kind, day=day)
    context = {
        **_common(request, organisation),
        "kind": kind,
        "kind_label": WorklistItem.Kind(kind).label,
        "items": items,
        "day": day,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "open_count": sum(1 for i in items if i.is_open),
        "panel_query": _panel_query(day),
    }
    if _panel(request):
        return render(request, "frontdesk/_worklist_panel.html", context)
    if kind == Kind.RECALL:
        context["rules"] = selectors.recall_rules(user=request.user, organisation=organisation)
    return render(request, "frontdesk/worklist.html", context)


@require_POST
@staff_page
def generate(request: HttpRequest, organisation: Organisation, kind: str) -> HttpResponse:
    _require_work(request, organisation)
    day = day_of(request, organisation)
    if kind not in Kind.values:
        raise NotFound()
    try:
        result = worklists.worklist_generate(actor=request.user, organisation=organisation, kind=kind, day=day)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The list is up to date: %(created)s added, %(closed)s closed.") % result.__dict__)
    return redirect(_list_url(kind, day))


@require_POST
@staff_page
def attempt(request: HttpRequest, organisation: Organisation, item_id: int) -> HttpResponse:
    """Log one outcome. htmx gets the item back (with the error in it, if any); a plain POST is redirected."""
    _require_work(request, organisation)
    item = selectors.worklist_item_get(user=request.user, organisation=organisation, item_id=item_id)
    zone = item.location.zone if item.location else timezone.get_current_timezone()
    form = AttemptForm(request.POST)
    error = ""
    notice = ""
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    else:
        data = form.cleaned_data
        try:
            result = worklists.attempt_record(
                actor=request.user,
                item=item,
                data=worklists.AttemptInput(
                    outcome=data["outcome"],
                    note=data["note"],
                    callback_at=aware(data["callback_at"], zone),
                    follow_up=data["follow_up"] or "",
                    cancel_reason_id=data["cancel_reason"],
                    new_start=aware(data["new_start"], zone),
                    practitioner_id=data["practitioner"],
                    refusal_reason_id=data["refusal_reason"],
                    callback_date=data["callback_date"],
                ),
            )
        except DomainError as exc:
            error = " ".join([str(exc.message), *(str(m) for ms in exc.errors.values() for m in ms)])
        else:
            if result.error is not None:
                error = str(result.error.message)
            else:
                notice = _("Saved: %(outcome)s.") % {"outcome": WorklistItem.Outcome(data["outcome"]).label}
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        return redirect(_list_url(item.kind, item.day) + f"#item-{item.pk}")
    fresh = selectors.worklist_item_get(user=request.user, organisation=organisation, item_id=item_id)
    context = {
        **_common(request, organisation),
        "item": fresh,
        "day": day_of(request, organisation),
        "error": error,
        "notice": notice,
        "focus": True,
    }
    return render(request, "frontdesk/_item.html", context)


# --- the waiting list ------------------------------------------------------------------------------------------


def _waitlist_context(
    request: HttpRequest, organisation: Organisation, form: WaitlistForm | None = None
) -> dict[str, Any]:
    day = day_of(request, organisation)
    patient = None
    wanted = request.GET.get("patient", "")
    if wanted.isdigit():
        try:
            patient = patient_selectors.patient_get(
                user=request.user, patient_id=int(wanted), organisation=organisation
            )
        except NotFound:
            patient = None
    if form is None:
        form = WaitlistForm(organisation=organisation, initial={"patient": patient.pk if patient else None})
    return {
        **_common(request, organisation),
        "kind": Kind.WAITLIST,
        "day": day,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "items": selectors.worklist(user=request.user, organisation=organisation, kind=Kind.WAITLIST, day=day),
        "entries": selectors.waitlist_entries(user=request.user, organisation=organisation),
        "form": form,
        "chosen_patient": patient,
        "panel_query": _panel_query(day),
    }


@require_GET
@staff_page
def waitlist_page(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    if _panel(request):
        return render(request, "frontdesk/_waitlist_panel.html", _waitlist_context(request, organisation))
    return render(request, "frontdesk/waitlist.html", _waitlist_context(request, organisation))


@require_POST
@staff_page
def waitlist_add(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    _require_work(request, organisation)
    form = WaitlistForm(request.POST, organisation=organisation)
    if form.is_valid():
        data = form.cleaned_data
        try:
            patient = patient_selectors.patient_get(
                user=request.user, patient_id=data["patient"], organisation=organisation
            )
            waitlist.waitlist_add(
                actor=request.user,
                patient=patient,
                service=data["service"],
                practitioners=list(data["practitioners"]),
                location=data["location"],
                date_from=data["date_from"],
                date_to=data["date_to"],
                weekdays=data["weekdays"],
                time_from=data["time_from"],
                time_to=data["time_to"],
                note=data["note"],
                callback_date=data["callback_date"],
            )
        except NotFound:
            form.add_error(None, _("Choose a patient first."))
        except Invalid as exc:
            for field, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("%(patient)s is on the waiting list.") % {"patient": patient})
            return redirect("frontdesk:waitlist")
    return render(request, "frontdesk/waitlist.html", _waitlist_context(request, organisation, form), status=422)


@require_POST
@staff_page
def waitlist_remove(request: HttpRequest, organisation: Organisation, entry_id: int) -> HttpResponse:
    _require_work(request, organisation)
    entry = selectors.waitlist_entry_get(user=request.user, organisation=organisation, entry_id=entry_id)
    try:
        waitlist.waitlist_remove(actor=request.user, entry=entry, note=request.POST.get("note", "")[:500])
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Removed from the waiting list."))
    return redirect("frontdesk:waitlist")


@require_GET
@staff_page
def patient_search(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """htmx: patients matching the typed text, to choose one for the waiting list."""
    query = request.GET.get("q", "").strip()
    found = []
    if len(query) >= 2:
        found = list(
            patient_selectors.patient_search(
                user=request.user, organisation=organisation, criteria=PatientCriteria(query=query)
            )[:10]
        )
    return render(request, "frontdesk/_patient_choices.html", {"patients": found, "query": query})
