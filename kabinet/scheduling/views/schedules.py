"""Schedules: the month grid of shifts per location (select cells, apply a template or custom hours, copy and paste
days, remove shifts, add time off), monthly hour norms, private calendar feeds and one visit's .ics file.

Views only read the request, call one service or selector and render; the rules (who may change what, which
appointments a change would strand) live in services.py and selectors.py.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kabinet.core import permissions, tenancy
from kabinet.core.exceptions import DomainError, NotAllowed, NotFound
from kabinet.core.models import Location, Member, Organisation
from kabinet.scheduling import ical, selectors, services
from kabinet.scheduling.models import ShiftTemplate, TimeOff

# --- forms --------------------------------------------------------------------------------------------------------


def parse_month(value: str | None) -> date | None:
    """ "2026-05" → 2026-05-01; None when the value is not a month (or so far off that the grid's month arithmetic
    would leave the calendar)."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1) if 1900 <= year <= 2999 else None
    except ValueError:
        return None


class GridForm(forms.Form):
    """Which grid: a location of the clinic and a month ("2026-05")."""

    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False)
    month = forms.CharField(required=False)

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        locations = selectors.locations_for(organisation=organisation)
        self.fields["location"].queryset = locations  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "location" in self.errors:
            return data  # a location of another clinic (or gone): never fall back to another one
        locations = self.fields["location"].queryset  # type: ignore[attr-defined]
        location = data.get("location") or locations.first()
        if location is None:
            raise forms.ValidationError(_("Add a location to the clinic first (in the admin), then plan its shifts."))
        data["location"] = location
        data["month"] = parse_month(data.get("month")) or timezone.localtime(timezone.now(), location.zone).date()
        data["month"] = data["month"].replace(day=1)
        return data


class CellsForm(GridForm):
    """The selected cells ("<doctor id>:<YYYY-MM-DD>,…") and what to do with days that have appointments."""

    cells = forms.CharField(required=False)
    on_conflict = forms.ChoiceField(choices=[("refuse", "refuse"), ("keep", "keep")], required=False)

    def clean_on_conflict(self) -> str:
        return self.cleaned_data.get("on_conflict") or "refuse"

    def clean_cells(self) -> list[services.Cell]:
        pairs: list[tuple[int, date]] = []
        for item in (part.strip() for part in (self.cleaned_data.get("cells") or "").split(",")):
            if not item:
                continue
            pid, _sep, day = item.partition(":")
            try:
                pairs.append((int(pid), date.fromisoformat(day)))
            except ValueError as exc:
                raise forms.ValidationError(
                    _("The selection is out of date. Reload the page and select again.")
                ) from exc
        if not pairs:
            raise forms.ValidationError(_("Select at least one day on the grid first (drag over the cells)."))
        if len(pairs) > services.MAX_CELLS:
            raise forms.ValidationError(_("Select fewer days at a time."))
        members = _members(self.organisation, {pid for pid, _day in pairs})
        if len(members) != len({pid for pid, _day in pairs}):
            raise forms.ValidationError(_("The selection is out of date. Reload the page and select again."))
        return [(members[pid], day) for pid, day in pairs]


def _members(organisation: Organisation, ids: set[int]) -> dict[int, Member]:
    return {m.pk: m for m in Member.objects.filter(organisation=organisation, pk__in=ids).select_related("user")}


class ApplyForm(CellsForm):
    """A template, or custom hours in 5-minute steps with breaks (break_start / break_end pairs)."""

    template = forms.ModelChoiceField(queryset=ShiftTemplate.objects.none(), required=False)
    start_time = forms.TimeField(required=False)
    end_time = forms.TimeField(required=False)

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, organisation=organisation, **kwargs)
        self.fields["template"].queryset = ShiftTemplate.objects.filter(organisation=organisation)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("template") is not None:
            return data
        if data.get("start_time") is None or data.get("end_time") is None:
            raise forms.ValidationError(_("Choose a shift template, or enter custom start and end times."))
        breaks: list[tuple[time, time]] = []
        starts, ends = self.data.getlist("break_start"), self.data.getlist("break_end")  # type: ignore[attr-defined]
        for raw_start, raw_end in zip(starts, ends, strict=False):
            if not raw_start and not raw_end:
                continue
            try:
                breaks.append((time.fromisoformat(raw_start), time.fromisoformat(raw_end)))
            except ValueError as exc:
                raise forms.ValidationError(_("Give each break a start and an end time, or leave both empty.")) from exc
        data["breaks"] = tuple(breaks)
        return data


class PasteForm(CellsForm):
    source_days = forms.CharField(required=False)
    source_practitioner = forms.IntegerField(required=False)

    def clean_source_days(self) -> list[date]:
        try:
            days = [date.fromisoformat(d) for d in (self.cleaned_data.get("source_days") or "").split(",") if d]
        except ValueError as exc:
            raise forms.ValidationError(_("Copy the days again, then paste.")) from exc
        if not days:
            raise forms.ValidationError(_("Copy a day or a week first: select it and press Copy."))
        return days

    def clean_source_practitioner(self) -> Member | None:
        pid = self.cleaned_data.get("source_practitioner")
        if pid is None:
            return None
        member = _members(self.organisation, {pid}).get(pid)
        if member is None:
            raise forms.ValidationError(_("Copy the days again, then paste."))
        return member


class TimeOffForm(CellsForm):
    kind = forms.ChoiceField(choices=TimeOff.Kind.choices, required=False)

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or TimeOff.Kind.VACATION


class NormForm(GridForm):
    practitioner = forms.IntegerField()
    hours = forms.DecimalField(required=False, min_value=Decimal(0), max_value=Decimal(744), decimal_places=2)


# --- helpers ------------------------------------------------------------------------------------------------------


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None or not permissions.is_staff_of(request.user, organisation):
        raise NotAllowed()
    return organisation


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "403.html", status=403)


def _first_error(form: forms.Form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("Check the form and try again.")


def _grid_context(
    request: HttpRequest, organisation: Organisation, location: Location, month: date, **extra: Any
) -> dict[str, Any]:
    grid = selectors.schedule_month(user=request.user, organisation=organisation, location=location, month=month)
    return {
        "grid": grid,
        "locations": selectors.locations_for(organisation=organisation),
        "time_off_kinds": TimeOff.Kind.choices,
        "month_value": f"{grid.month:%Y-%m}",
        **extra,
    }


def _render_grid(
    request: HttpRequest, organisation: Organisation, form: GridForm, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The grid partial after a change (or its refusal): htmx swaps it in place."""
    location = form.cleaned_data.get("location") if hasattr(form, "cleaned_data") else None
    month = form.cleaned_data.get("month") if hasattr(form, "cleaned_data") else None
    if location is None:
        location = selectors.locations_for(organisation=organisation).first()
        if location is None:
            message = extra.get("error") or _("Add a location to the clinic first, then plan its shifts.")
            return HttpResponse(
                format_html('<div id="schedule-grid"><p class="errorlist" role="alert">{}</p></div>', message),
                status=422,
            )
    month = month or timezone.localtime(timezone.now(), location.zone).date().replace(day=1)
    context = _grid_context(request, organisation, location, month, **extra)
    return render(request, "scheduling/_schedule_grid.html", context, status=status)


def _resubmit(request: HttpRequest) -> list[tuple[str, str]]:
    """The posted fields, to offer the same change again with on_conflict=keep."""
    return [
        (key, value)
        for key, values in request.POST.lists()
        if key not in ("csrfmiddlewaretoken", "on_conflict")
        for value in values
    ]


def _grid_action(request: HttpRequest, form_class: type[CellsForm], run: Any, *, keepable: bool) -> HttpResponse:
    try:
        organisation = _organisation(request)
    except NotAllowed:
        return _forbidden(request)
    form = form_class(request.POST, organisation=organisation)
    if not form.is_valid():
        return _render_grid(request, organisation, form, error=_first_error(form))
    data = form.cleaned_data
    try:
        result = run(data)
    except services.ScheduleConflict as exc:
        return _render_grid(
            request,
            organisation,
            form,
            conflict=exc,
            conflict_keepable=keepable,
            conflict_action=request.path,
            conflict_fields=_resubmit(request),
        )
    except NotAllowed:
        return _forbidden(request)
    except DomainError as exc:
        messages = [str(m) for ms in exc.errors.values() for m in ms] or [str(exc.message)]
        return _render_grid(request, organisation, form, error=" ".join(messages))
    return _render_grid(request, organisation, form, result=result, done=True)


# --- pages --------------------------------------------------------------------------------------------------------


@login_required
@require_GET
def schedule(request: HttpRequest) -> HttpResponse:
    try:
        organisation = _organisation(request)
    except NotAllowed:
        return _forbidden(request)
    form = GridForm(request.GET, organisation=organisation)
    if not form.is_valid():
        return render(request, "scheduling/schedule.html", {"setup_error": _first_error(form)})
    context = _grid_context(request, organisation, form.cleaned_data["location"], form.cleaned_data["month"])
    context["feeds"] = selectors.calendar_feeds_for(user=request.user, organisation=organisation)
    template = "scheduling/_schedule_grid.html" if getattr(request, "htmx", False) else "scheduling/schedule.html"
    return render(request, template, context)


@login_required
@require_POST
def schedule_apply(request: HttpRequest) -> HttpResponse:
    def run(data: dict[str, Any]) -> services.ScheduleResult:
        location, cells, on_conflict = data["location"], data["cells"], data["on_conflict"]
        if data.get("template") is not None:
            return services.shifts_apply_template(
                actor=request.user, location=location, cells=cells, template=data["template"], on_conflict=on_conflict
            )
        pattern = services.ShiftPattern(start_time=data["start_time"], end_time=data["end_time"], breaks=data["breaks"])
        return services.shifts_apply(
            actor=request.user, location=location, cells=cells, pattern=pattern, on_conflict=on_conflict
        )

    return _grid_action(request, ApplyForm, run, keepable=True)


@login_required
@require_POST
def schedule_paste(request: HttpRequest) -> HttpResponse:
    def run(data: dict[str, Any]) -> services.ScheduleResult:
        return services.shifts_copy_days(
            actor=request.user,
            location=data["location"],
            source_days=data["source_days"],
            cells=data["cells"],
            source_practitioner=data.get("source_practitioner"),
            on_conflict=data["on_conflict"],
        )

    return _grid_action(request, PasteForm, run, keepable=True)


@login_required
@require_POST
def schedule_remove(request: HttpRequest) -> HttpResponse:
    def run(data: dict[str, Any]) -> services.ScheduleResult:
        return services.shifts_remove(
            actor=request.user, location=data["location"], cells=data["cells"], on_conflict=data["on_conflict"]
        )

    return _grid_action(request, CellsForm, run, keepable=True)


@login_required
@require_POST
def schedule_time_off(request: HttpRequest) -> HttpResponse:
    def run(data: dict[str, Any]) -> list[TimeOff]:
        return services.time_off_add_days(
            actor=request.user, location=data["location"], cells=data["cells"], kind=data["kind"]
        )

    return _grid_action(request, TimeOffForm, run, keepable=False)


@login_required
@require_POST
def schedule_time_off_delete(request: HttpRequest, time_off_id: int) -> HttpResponse:
    try:
        organisation = _organisation(request)
    except NotAllowed:
        return _forbidden(request)
    form = GridForm(request.POST, organisation=organisation)
    form.is_valid()
    try:
        time_off = selectors.time_off_get(user=request.user, organisation=organisation, time_off_id=time_off_id)
        services.time_off_delete(actor=request.user, time_off=time_off)
    except NotAllowed:
        return _forbidden(request)
    except NotFound as exc:
        raise Http404() from exc
    return _render_grid(request, organisation, form, done=True)


@login_required
@require_POST
def schedule_norm(request: HttpRequest) -> HttpResponse:
    try:
        organisation = _organisation(request)
    except NotAllowed:
        return _forbidden(request)
    form = NormForm(request.POST, organisation=organisation)
    if not form.is_valid():
        return _render_grid(request, organisation, form, error=_first_error(form))
    member = _members(organisation, {form.cleaned_data["practitioner"]}).get(form.cleaned_data["practitioner"])
    if member is None:
        raise Http404()
    hours = form.cleaned_data.get("hours")
    try:
        services.hour_norm_set(
            actor=request.user,
            practitioner=member,
            month=form.cleaned_data["month"],
            norm_minutes=None if hours is None else int(hours * 60),
        )
    except NotAllowed:
        return _forbidden(request)
    except DomainError as exc:
        return _render_grid(request, organisation, form, error=str(exc.message))
    return _render_grid(request, organisation, form, done=True)


# --- calendar feeds and .ics files --------------------------------------------------------------------------------


def _render_feeds(request: HttpRequest, organisation: Organisation, **extra: Any) -> HttpResponse:
    context = {"feeds": selectors.calendar_feeds_for(user=request.user, organisation=organisation), **extra}
    return render(request, "scheduling/_calendar_feeds.html", context)


@login_required
@require_POST
def feed_create(request: HttpRequest) -> HttpResponse:
    try:
        organisation = _organisation(request)
    except NotAllowed:
        return _forbidden(request)
    try:
        pid = int(request.POST.get("practitioner", ""))
    except ValueError as exc:
        raise Http404() from exc
    member = _members(organisation, {pid}).get(pid)
    if member is None:
        raise Http404()
    try:
        feed, token = services.calendar_feed_create(actor=request.user, practitioner=member)
    except NotAllowed:
        return _forbidden(request)
    url = request.build_absolute_uri(reverse("scheduling:feed", args=[token]))
    return _render_feeds(request, organisation, new_feed=feed, new_feed_url=url)


@login_required
@require_POST
def feed_revoke(request: HttpRequest, feed_id: int) -> HttpResponse:
    try:
        organisation = _organisation(request)
        feed = selectors.calendar_feed_get(user=request.user, organisation=organisation, feed_id=feed_id)
        services.calendar_feed_revoke(actor=request.user, feed=feed)
    except NotAllowed:
        return _forbidden(request)
    except NotFound as exc:
        raise Http404() from exc
    return _render_feeds(request, organisation, revoked=True)


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private feed: no login (calendar apps cannot log in); the unguessable token is the key."""
    found = selectors.calendar_feed_by_token(token)
    if found is None:
        raise Http404()
    services.calendar_feed_touch(feed=found)
    doctor = found.practitioner
    body = ical.feed_calendar(
        selectors.calendar_feed_appointments(feed=found),
        name=f"{found.organisation.name} · {doctor.user}",
        language=doctor.user.language or translation.get_language() or "en",
    )
    response = HttpResponse(body, content_type=ical.CONTENT_TYPE)
    response["Content-Disposition"] = 'inline; filename="kabinet.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_GET
def appointment_ics(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """One visit as an .ics file, for whoever may see the appointment (staff of its clinic, the patient)."""
    try:
        appointment = selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment_id)
    except NotFound as exc:
        raise Http404() from exc
    body = ical.appointment_ics(appointment, language=translation.get_language() or "en")
    response = HttpResponse(body, content_type=ical.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{ical.ics_filename(appointment)}"'
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("schedule/", schedule, name="schedule"),
    path("schedule/apply/", schedule_apply, name="schedule_apply"),
    path("schedule/paste/", schedule_paste, name="schedule_paste"),
    path("schedule/remove/", schedule_remove, name="schedule_remove"),
    path("schedule/time-off/", schedule_time_off, name="schedule_time_off"),
    path("schedule/time-off/<int:time_off_id>/delete/", schedule_time_off_delete, name="schedule_time_off_delete"),
    path("schedule/norm/", schedule_norm, name="schedule_norm"),
    path("feeds/", feed_create, name="feed_create"),
    path("feeds/<int:feed_id>/revoke/", feed_revoke, name="feed_revoke"),
    path("feeds/<slug:token>.ics", feed, name="feed"),
    path("appointments/<int:appointment_id>.ics", appointment_ics, name="appointment_ics"),
]
