"""Staff pages for patients: the search list (/patients/) and the patient card (/patients/<id>/) with its tabs.

Thin views: validate a form, call one service or selector, render. Changes are POST + redirect back to the card's
tab; the list and the timeline answer htmx requests with partials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q
from django.forms import Form
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kabinet.core import permissions
from kabinet.core.decorators import staff_page
from kabinet.core.exceptions import DomainError, Invalid, NotAllowed, NotFound
from kabinet.core.models import Organisation
from kabinet.patients import cards, importing, selectors, services
from kabinet.patients.forms import (
    EmailForm,
    ImportUploadForm,
    NoteForm,
    PatientDetailsForm,
    PatientSearchForm,
    PhoneForm,
    RelativeForm,
    StatusForm,
    TagsForm,
)
from kabinet.patients.models import (
    ImportJob,
    Patient,
    PatientEmail,
    PatientPhone,
    Relationship,
    Segment,
    TimelineEntry,
)

TABS = ("timeline", "relatives", "notes", "details")
PER_PAGE = 25


def _patient(request: HttpRequest, organisation: Organisation, patient_id: int) -> Patient:
    return selectors.patient_get(user=request.user, patient_id=patient_id, organisation=organisation)


def _card_url(patient_id: int, tab: str = "timeline") -> str:
    return f"{reverse('patients:card', args=[patient_id])}?{urlencode({'tab': tab})}"


@require_GET
@staff_page
def patient_list(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    choices = selectors.filter_choices(organisation=organisation)
    form = PatientSearchForm(request.GET or None, choices=choices)
    if form.is_bound:
        form.is_valid()  # invalid filters are shown with their errors and left out of the search
    criteria = form.criteria()
    page = selectors.search_page(
        selectors.patient_search(user=request.user, organisation=organisation, criteria=criteria),
        request.GET.get("page"),
        PER_PAGE,
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "searched": bool(criteria.query) or form.filters_used(),
        "filters_used": form.filters_used(),
        "segments": [
            {"segment": segment, "query": segment_query(segment)}
            for segment in selectors.segments_of(user=request.user, organisation=organisation)
        ],
        "can_import": permissions.has_role(request.user, organisation, *importing.IMPORT_ROLES),
        "actions": cards.actions_for(request.user, organisation),
    }
    template = "patients/_results.html" if request.htmx else "patients/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _render_card(
    request: HttpRequest,
    organisation: Organisation,
    patient_id: int,
    *,
    tab: str = "",
    bound: dict[str, Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    card = selectors.patient_card(user=request.user, patient_id=patient_id, organisation=organisation)
    patient = card.patient
    kind = request.GET.get("kind", "")
    timeline = selectors.timeline(user=request.user, patient=patient, kind=kind, page=1, audit=False)
    forms: dict[str, Form] = {
        "details": PatientDetailsForm(initial={name: getattr(patient, name) for name in services.EDITABLE_FIELDS}),
        "note": NoteForm(),
        "status": StatusForm(initial={"status": patient.status, "reason": patient.status_reason}),
        "tags": TagsForm(initial={"tags": ", ".join(t.name for t in card.tags)}),
        "phone": PhoneForm(),
        "email": EmailForm(),
        "relative": RelativeForm(),
    }
    forms.update(bound or {})
    extra_tabs = []  # registered by higher apps (documents, consents…); None: not for this user
    for registered in cards.tabs():
        data = registered.context(request.user, patient)
        if data is not None:
            extra_tabs.append(
                {"name": registered.name, "label": registered.label, "template": registered.template, "data": data}
            )
    names = (*TABS, *(t["name"] for t in extra_tabs))
    tab = tab if tab in names else request.GET.get("tab", "timeline")
    roles = permissions.roles_in(request.user, organisation)
    own_labels = {"timeline": _("Timeline"), "relatives": _("Relatives"), "notes": _("Notes"), "details": _("Details")}
    own_badges = {"relatives": len(card.relatives), "notes": len(card.notes)}
    tab_list = [  # the card's own tabs and the registered ones, in one order (the nav)
        {"name": name, "label": own_labels[name], "badge": own_badges.get(name)} for name in TABS
    ] + [{"name": t["name"], "label": t["label"], "badge": t["data"].get("badge")} for t in extra_tabs]
    tab_list.sort(key=lambda t: (cards.tab_order(t["name"]), t["name"]))
    context = {
        "card": card,
        "patient": patient,
        "timeline": timeline,
        "kind": kind,
        "kinds": TimelineEntry.Kind.choices,
        "tab": tab if tab in names else "timeline",
        "extra_tabs": extra_tabs,
        "tab_list": tab_list,
        "forms": forms,
        "can_edit": bool(roles & set(services.EDIT_ROLES)),
        "can_set_status": bool(roles & set(services.STATUS_ROLES)),
        "can_link": bool(roles & set(services.FAMILY_ROLES)),
        "actions": cards.actions_for(request.user, organisation),
    }
    return render(request, "patients/card.html", context, status=status)


@require_GET
@staff_page
def patient_card(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    return _render_card(request, organisation, patient_id)


@require_GET
@staff_page
def patient_timeline(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    kind = request.GET.get("kind", "")
    page = selectors.timeline(user=request.user, patient=patient, kind=kind, page=request.GET.get("page"))
    return render(request, "patients/_timeline.html", {"patient": patient, "timeline": page, "kind": kind})


def _change(
    request: HttpRequest,
    organisation: Organisation,
    patient_id: int,
    *,
    tab: str,
    form: Form,
    form_name: str,
    action: Callable[[Patient, dict[str, Any]], Any],
    done: str,
) -> HttpResponse:
    """The shape of every POST on the card: valid form → service → message and redirect; errors → the tab again."""
    patient = _patient(request, organisation, patient_id)
    if form.is_valid():
        try:
            action(patient, form.cleaned_data)
        except Invalid as exc:
            for name, errors in exc.errors.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        except DomainError as exc:
            if isinstance(exc, NotAllowed | NotFound):
                raise
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, done)
            return redirect(_card_url(patient.pk, tab))
    return _render_card(request, organisation, patient.pk, tab=tab, bound={form_name: form}, status=422)


@require_POST
@staff_page
def patient_details(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    return _change(
        request,
        organisation,
        patient_id,
        tab="details",
        form=PatientDetailsForm(request.POST),
        form_name="details",
        action=lambda patient, data: services.patient_update(actor=request.user, patient=patient, changes=data),
        done=_("The details were saved."),
    )


@require_POST
@staff_page
def note_add(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    return _change(
        request,
        organisation,
        patient_id,
        tab="notes",
        form=NoteForm(request.POST),
        form_name="note",
        action=lambda patient, data: services.note_add(
            actor=request.user, patient=patient, text=data["text"], scope=data["scope"]
        ),
        done=_("The note was added."),
    )


@require_POST
@staff_page
def status_set(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    return _change(
        request,
        organisation,
        patient_id,
        tab="details",
        form=StatusForm(request.POST),
        form_name="status",
        action=lambda patient, data: services.patient_status_set(
            actor=request.user, patient=patient, status=data["status"], reason=data["reason"]
        ),
        done=_("The status was changed."),
    )


@require_POST
@staff_page
def tags_set(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    form = TagsForm(request.POST)
    return _change(
        request,
        organisation,
        patient_id,
        tab="details",
        form=form,
        form_name="tags",
        action=lambda patient, data: services.patient_tags_set(actor=request.user, patient=patient, names=form.names()),
        done=_("The tags were saved."),
    )


@require_POST
@staff_page
def phone_add(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    return _change(
        request,
        organisation,
        patient_id,
        tab="details",
        form=PhoneForm(request.POST),
        form_name="phone",
        action=lambda patient, data: services.patient_phone_add(
            actor=request.user, patient=patient, number=data["number"], kind=data["kind"], primary=data["primary"]
        ),
        done=_("The phone was added."),
    )


@require_POST
@staff_page
def phone_remove(request: HttpRequest, organisation: Organisation, patient_id: int, phone_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    phone = get_object_or_404(PatientPhone, pk=phone_id, patient=patient)
    services.patient_phone_remove(actor=request.user, phone=phone)
    messages.success(request, _("The phone was removed."))
    return redirect(_card_url(patient.pk, "details"))


@require_POST
@staff_page
def email_add(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    return _change(
        request,
        organisation,
        patient_id,
        tab="details",
        form=EmailForm(request.POST),
        form_name="email",
        action=lambda patient, data: services.patient_email_add(
            actor=request.user, patient=patient, address=data["address"], primary=data["primary"]
        ),
        done=_("The email address was added."),
    )


@require_POST
@staff_page
def email_remove(request: HttpRequest, organisation: Organisation, patient_id: int, email_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    email = get_object_or_404(PatientEmail, pk=email_id, patient=patient)
    services.patient_email_remove(actor=request.user, email=email)
    messages.success(request, _("The email address was removed."))
    return redirect(_card_url(patient.pk, "details"))


@require_POST
@staff_page
def relative_add(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    def link(patient: Patient, data: dict[str, Any]) -> Relationship:
        try:
            relative = _patient(request, organisation, data["relative"])
        except NotFound as exc:
            raise Invalid(errors={"relative": [_("Choose the relative from the search results.")]}) from exc
        return services.relative_link(
            actor=request.user, patient=patient, relative=relative, kind=data["kind"], is_proxy=data["is_proxy"]
        )

    return _change(
        request,
        organisation,
        patient_id,
        tab="relatives",
        form=RelativeForm(request.POST),
        form_name="relative",
        action=link,
        done=_("The relative was linked."),
    )


@require_POST
@staff_page
def relative_remove(request: HttpRequest, organisation: Organisation, patient_id: int, link_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    links = Relationship.objects.filter(Q(patient=patient) | Q(relative=patient), organisation=organisation)
    link = get_object_or_404(links.select_related("patient", "relative"), pk=link_id)
    services.relative_unlink(actor=request.user, relationship=link)
    messages.success(request, _("The family link was removed."))
    return redirect(_card_url(patient.pk, "relatives"))


@require_GET
@staff_page
def relative_candidates(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    query = request.GET.get("relative_query", "")
    found = selectors.relative_candidates(user=request.user, patient=patient, query=query)
    return render(request, "patients/_relative_candidates.html", {"found": found, "query": query})


# --- import of a patient list ----------------------------------------------------------------------------------


def _import_job(request: HttpRequest, organisation: Organisation, job_id: int) -> ImportJob:
    return selectors.import_job_get(user=request.user, job_id=job_id, organisation=organisation)


@staff_page
def import_start(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """Step 1: upload. The file is checked at once and a dry run is queued; its page is the mapping step."""
    if not permissions.has_role(request.user, organisation, *importing.IMPORT_ROLES):
        raise NotAllowed()
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                job = importing.patient_import_start(
                    actor=request.user, organisation=organisation, file=form.cleaned_data["file"], dry_run=True
                )
            except Invalid as exc:
                for errors in exc.errors.values():
                    for error in errors:
                        form.add_error("file", error)
            else:
                return redirect("patients:import_job", job.pk)
        status = 422
    jobs = ImportJob.objects.filter(organisation=organisation, dry_run=False).select_related("created_by")[:10]
    return render(request, "patients/import_start.html", {"form": form, "jobs": jobs}, status=status)


@staff_page
def import_job(request: HttpRequest, organisation: Organisation, job_id: int) -> HttpResponse:
    """Step 2 (a dry run): choose a field per column, see the first rows and what would happen; check again or run.
    Step 3 (a real run): the progress, then the counts and the error report."""
    job = _import_job(request, organisation, job_id)
    errors: list[str] = []
    header, preview = importing.preview(job)
    if request.method == "POST":
        mapping = {column: request.POST.get(f"col-{i}", "") for i, column in enumerate(header)}
        try:
            new = importing.patient_import_repeat(
                actor=request.user, job=job, mapping=mapping, dry_run=request.POST.get("action") != "run"
            )
        except Invalid as exc:
            errors = [str(error) for values in exc.errors.values() for error in values]
        else:
            return redirect("patients:import_job", new.pk)
    labels = importing.field_labels()
    columns = [{"index": i, "name": column, "field": job.mapping.get(column, "")} for i, column in enumerate(header)]
    context = {
        "job": job,
        "columns": columns,
        "choices": [(name, labels[name]) for name in importing.FIELDS],
        "preview": preview,
        "errors": errors,
    }
    return render(request, "patients/import_job.html", context, status=422 if errors else 200)


@require_GET
@staff_page
def import_progress(request: HttpRequest, organisation: Organisation, job_id: int) -> HttpResponse:
    return render(request, "patients/_import_progress.html", {"job": _import_job(request, organisation, job_id)})


@require_GET
@staff_page
def import_errors(request: HttpRequest, organisation: Organisation, job_id: int) -> HttpResponse:
    job = _import_job(request, organisation, job_id)
    response = HttpResponse(importing.error_report_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


# --- saved segments ----------------------------------------------------------------------------------------------


def segment_query(segment: Segment) -> str:
    """The list page's query string for a segment's criteria."""
    criteria = dict(segment.criteria)
    params: dict[str, Any] = {}
    if criteria.pop("query", ""):
        params["q"] = segment.criteria["query"]
    if (criteria.pop("extra", None) or {}).get("debt"):
        params["debt"] = "on"
    params.update(criteria)
    return urlencode(params)


@require_POST
@staff_page
def segment_save(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """Save the search the list shows (its query string comes along in a hidden field) under a name."""
    choices = selectors.filter_choices(organisation=organisation)
    if request.htmx:  # type: ignore[attr-defined]  # the search form's current fields come along (hx-include)
        data = request.POST.copy()
        for name in ("csrfmiddlewaretoken", "name", "query"):
            data.pop(name, None)
        query = data.urlencode()
    else:  # without JavaScript the page's query string, as rendered
        query = request.POST.get("query", "")
    search = PatientSearchForm(QueryDict(query), choices=choices)
    search.is_valid()
    try:
        segment = services.segment_save(
            actor=request.user, organisation=organisation, name=request.POST.get("name", ""), criteria=search.criteria()
        )
    except Invalid as exc:
        for errors in exc.errors.values():
            for error in errors:
                messages.error(request, error)
        return _go(request, f"{reverse('patients:list')}?{query}")
    messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    return _go(request, f"{reverse('patients:list')}?{segment_query(segment)}")


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """Redirect; an htmx request is told to load the page itself (a followed redirect would be swapped in)."""
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)


@require_POST
@staff_page
def segment_delete(request: HttpRequest, organisation: Organisation, segment_id: int) -> HttpResponse:
    segment = selectors.segment_get(user=request.user, segment_id=segment_id, organisation=organisation)
    services.segment_delete(actor=request.user, segment=segment)
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    return redirect("patients:list")
