"""Staff pages for patients: the search list (/patients/) and the patient card (/patients/<id>/) with its tabs.

Thin views: validate a form, call one service or selector, render. Changes are POST + redirect back to the card's
tab; the list and the timeline answer htmx requests with partials.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kabinet.core import permissions, tenancy
from kabinet.core.exceptions import DomainError, Invalid, NotAllowed, NotFound
from kabinet.core.models import Organisation
from kabinet.patients import selectors, services
from kabinet.patients.forms import (
    EmailForm,
    NoteForm,
    PatientDetailsForm,
    PatientSearchForm,
    PhoneForm,
    RelativeForm,
    StatusForm,
    TagsForm,
)
from kabinet.patients.models import Patient, PatientEmail, PatientPhone, Relationship, TimelineEntry

TABS = ("timeline", "relatives", "notes", "details")
PER_PAGE = 25

View = Callable[..., HttpResponse]


def staff_page(view: View) -> View:
    """Logged-in staff of the current organisation only; domain errors become the matching error pages."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        organisation = tenancy.current_organisation(request)
        if organisation is None or not permissions.is_staff_of(request.user, organisation):
            return render(request, "403.html", status=403)
        try:
            return view(request, organisation, *args, **kwargs)
        except NotFound:
            return render(request, "404.html", status=404)
        except NotAllowed:
            return render(request, "403.html", status=403)

    return wrapper


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
    tab = tab if tab in TABS else request.GET.get("tab", "timeline")
    roles = permissions.roles_in(request.user, organisation)
    context = {
        "card": card,
        "patient": patient,
        "timeline": timeline,
        "kind": kind,
        "kinds": TimelineEntry.Kind.choices,
        "tab": tab if tab in TABS else "timeline",
        "forms": forms,
        "can_edit": bool(roles & set(services.EDIT_ROLES)),
        "can_set_status": bool(roles & set(services.STATUS_ROLES)),
        "can_link": bool(roles & set(services.FAMILY_ROLES)),
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
