"""Patient area pages at /my/ and the public booking page at /book/."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kabinet.accounts.services import account_activate
from kabinet.consultations import selectors as consultations_selectors
from kabinet.core.exceptions import DomainError
from kabinet.core.models import Member, Organisation
from kabinet.core.request_context import client_ip
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids, patient_get
from kabinet.portal import forms, selectors, services
from kabinet.scheduling import selectors as scheduling_selectors
from kabinet.scheduling import services as scheduling_services
from kabinet.scheduling.models import Appointment, Reason


def _apply_errors(form: Any, exc: DomainError) -> None:
    for field, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The patient's own and their wards' upcoming visits, with cancel and move; video visits stay until they end
    and offer to join their call once the doctor has started it."""
    patient_ids = own_patient_ids(request.user)
    now = timezone.now()
    upcoming = list(
        Appointment.objects.filter(Q(start__gte=now) | Q(service__is_video=True, end__gt=now))
        .filter(patient_id__in=patient_ids, status__in=Appointment.ACTIVE_STATUSES)
        .select_related("patient", "service", "practitioner__user", "location", "organisation")
        .order_by("start")
    )
    calls = consultations_selectors.open_visit_calls(
        user=request.user, appointment_ids=[a.pk for a in upcoming if a.service.is_video]
    )
    for appointment in upcoming:
        appointment.video_call = calls.get(appointment.pk)  # type: ignore[attr-defined]
    org_ids = {a.organisation_id for a in upcoming}
    reasons = Reason.objects.filter(organisation_id__in=org_ids, kind=Reason.Kind.CANCEL, is_active=True)
    booking_orgs = Organisation.objects.filter(patients__pk__in=patient_ids).distinct()
    return render(request, "portal/home.html", {"upcoming": upcoming, "reasons": reasons, "booking_orgs": booking_orgs})


@login_required
@require_POST
def appointment_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    try:
        appointment = scheduling_selectors.appointment_get(
            user=request.user, organisation=None, appointment_id=appointment_id
        )
        form = forms.CancelForm(request.POST)
        scheduling_services.appointment_cancel(
            actor=request.user,
            appointment=appointment,
            reason_id=form.cleaned_data["reason"] if form.is_valid() else None,
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The visit is cancelled."))
    return redirect("portal:home")


def book_index(request: HttpRequest) -> HttpResponse:
    organisations = list(Organisation.objects.order_by("name"))
    if len(organisations) == 1:
        return redirect("book", slug=organisations[0].slug)
    return render(request, "portal/book_index.html", {"organisations": organisations})


def _step_url(slug: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return reverse("book", kwargs={"slug": slug}) + ("?" + urlencode(clean) if clean else "")


def book(request: HttpRequest, slug: str) -> HttpResponse:
    """Location → service → doctor (or any) → day and slot → identify → confirm, on one phone-friendly page.

    The choices travel in the query string, so every step is a plain link (works without JavaScript, and the
    back button does what people expect)."""
    organisation = services.organisation_for_booking(slug)
    if organisation is None:
        raise Http404
    params = request.GET if request.method == "GET" else request.POST
    try:
        state = selectors.booking_state(user=request.user, organisation=organisation, params=params)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("book", slug=slug)
    moving = _moving(request, params)
    signup_form = forms.SignupForm(prefix="signup")
    activate_form = forms.ActivateForm(prefix="activate")
    confirm_form = forms.ConfirmForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "signup":
            signup_form = forms.SignupForm(request.POST, prefix="signup")
            if signup_form.is_valid():
                try:
                    services.patient_signup_start(
                        organisation=organisation,
                        ip=client_ip(request),
                        language=request.LANGUAGE_CODE,
                        **signup_form.cleaned_data,
                    )
                except DomainError as exc:
                    _apply_errors(signup_form, exc)
                    status = exc.status
                else:
                    email = signup_form.cleaned_data["email"]
                    activate_form = forms.ActivateForm(
                        prefix="activate", initial={"login": email or signup_form.cleaned_data["phone"]}
                    )
                    messages.info(
                        request,
                        _("We have sent a code to your email. Enter it below and choose a password.")
                        if email
                        else _("We have sent a code by SMS. Enter it below and choose a password."),
                    )
            else:
                status = 400
        elif action == "activate":
            activate_form = forms.ActivateForm(request.POST, prefix="activate")
            if activate_form.is_valid():
                try:
                    user = account_activate(
                        login=activate_form.cleaned_data["login"],
                        code=activate_form.cleaned_data["code"],
                        new_password=activate_form.cleaned_data["new_password"],
                    )
                except DomainError as exc:
                    _apply_errors(activate_form, exc)
                    status = exc.status
                else:
                    auth_login(request, user, backend="kabinet.accounts.backends.EmailOrPhoneBackend")
                    return redirect(_step_url(slug, **_params_of(state)))
            else:
                status = 400
        elif action == "confirm" and state.slot is not None:
            confirm_form = forms.ConfirmForm(request.POST)
            if confirm_form.is_valid():
                try:
                    appointment = _confirm(request, state, confirm_form.cleaned_data, moving)
                except DomainError as exc:
                    _apply_errors(confirm_form, exc)
                    status = exc.status
                else:
                    return redirect("book_done", slug=slug, appointment_id=appointment.pk)
    context = {
        "state": state,
        "moving": moving,
        "signup_form": signup_form,
        "activate_form": activate_form,
        "confirm_form": confirm_form,
        "urls": _urls(slug, state, moving),
    }
    # Times on this page are the location's local times, whatever the visitor's own zone.
    with timezone.override(state.location.zone if state.location else timezone.get_current_timezone()):
        return render(request, "portal/book.html", context, status=status)


def _moving(request: HttpRequest, params: Any) -> Appointment | None:
    move_id = params.get("move")
    if not move_id or not request.user.is_authenticated:
        return None
    try:
        return scheduling_selectors.appointment_get(user=request.user, organisation=None, appointment_id=int(move_id))
    except (DomainError, ValueError):
        return None


def _params_of(state: selectors.BookingState) -> dict[str, Any]:
    return {
        "location": state.location.pk if state.location else None,
        "service": state.service.pk if state.service else None,
        "practitioner": state.practitioner.pk if state.practitioner else None,
        "date": state.day.isoformat() if state.day else None,
        "start": state.slot.start.isoformat() if state.slot else None,
        "with": state.slot.practitioner_id if state.slot else None,
    }


def _urls(slug: str, state: selectors.BookingState, moving: Appointment | None) -> dict[str, Any]:
    base = {"move": moving.pk if moving else None}
    loc = state.location.pk if state.location else None
    svc = state.service.pk if state.service else None
    doc = state.practitioner.pk if state.practitioner else None
    return {
        "locations": [(x, _step_url(slug, location=x.pk, **base)) for x in state.locations],
        "services": [(x, _step_url(slug, location=loc, service=x.pk, **base)) for x in state.services],
        "any_doctor": _step_url(slug, location=loc, service=svc, **base),
        "practitioners": [
            (x, _step_url(slug, location=loc, service=svc, practitioner=x.pk, **base)) for x in state.practitioners
        ],
        "days": [
            (d, _step_url(slug, location=loc, service=svc, practitioner=doc, date=d.isoformat(), **base))
            for d in state.days
        ],
        "slots": [
            (
                s,
                _step_url(
                    slug,
                    location=loc,
                    service=svc,
                    practitioner=doc,
                    date=state.day.isoformat() if state.day else None,
                    start=s.start.isoformat(),
                    **{"with": s.practitioner_id},
                    **base,
                ),
            )
            for s in state.slots
        ],
        "login": reverse("accounts:login") + "?" + urlencode({"next": _step_url(slug, **_params_of(state), **base)}),
    }


def _confirm(
    request: HttpRequest, state: selectors.BookingState, data: dict[str, Any], moving: Appointment | None
) -> Appointment:
    assert state.slot is not None and state.service is not None and state.location is not None
    slot = state.slot
    practitioner = Member.objects.get(pk=slot.practitioner_id)
    if moving is not None:
        return scheduling_services.appointment_move(
            actor=request.user,
            appointment=moving,
            start=slot.start,
            practitioner=practitioner if practitioner.pk != moving.practitioner_id else None,
            location=state.location if state.location.pk != moving.location_id else None,
        )
    patient_id = data.get("patient") or (state.patients[0].pk if state.patients else None)
    if patient_id is None:
        raise DomainError(_("Log in or sign up first."))
    patient: Patient = patient_get(user=request.user, patient_id=patient_id, organisation=state.organisation)
    return scheduling_services.appointment_book(
        actor=request.user,
        patient=patient,
        practitioner=practitioner,
        service=state.service,
        start=slot.start,
        location=state.location,
        note=data.get("note") or "",
        source=Appointment.Source.ONLINE,
    )


@login_required
def book_done(request: HttpRequest, slug: str, appointment_id: int) -> HttpResponse:
    try:
        appointment = scheduling_selectors.appointment_get(
            user=request.user, organisation=None, appointment_id=appointment_id
        )
    except DomainError as exc:
        raise Http404 from exc
    local_start: datetime = timezone.localtime(appointment.start, appointment.location.zone)
    return render(
        request, "portal/book_done.html", {"appointment": appointment, "local_start": local_start, "slug": slug}
    )
