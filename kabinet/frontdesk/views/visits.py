"""The next visit at checkout (/frontdesk/visits/<id>/next/): first free times with the same doctor and service,
booked in one click, then the reminder card as a printable PDF or an SMS."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kabinet.core import permissions
from kabinet.core.exceptions import DomainError, NotAllowed
from kabinet.core.models import Organisation
from kabinet.frontdesk.services import next_visit as next_visits
from kabinet.frontdesk.services.common import ARRIVAL_ROLES, policy_for
from kabinet.frontdesk.views.common import staff_page
from kabinet.scheduling import selectors as scheduling_selectors
from kabinet.scheduling.models import Appointment


def _appointment(request: HttpRequest, organisation: Organisation, appointment_id: int) -> Appointment:
    appointment = scheduling_selectors.appointment_get(
        user=request.user, organisation=organisation, appointment_id=appointment_id
    )
    if appointment.organisation_id != organisation.pk:
        raise NotAllowed()
    return appointment


@require_http_methods(["GET", "POST"])
@staff_page
def next_visit(request: HttpRequest, organisation: Organisation, appointment_id: int) -> HttpResponse:
    appointment = _appointment(request, organisation, appointment_id)
    if not permissions.has_role(request.user, organisation, *ARRIVAL_ROLES):
        raise NotAllowed()
    if request.method == "POST":
        try:
            start = datetime.fromisoformat(request.POST.get("start", ""))
            if timezone.is_naive(start):
                raise ValueError
        except ValueError:
            messages.error(request, _("Choose one of the free times."))
            return redirect("frontdesk:next_visit", appointment_id=appointment.pk)
        try:
            new = next_visits.next_visit_book(actor=request.user, appointment=appointment, start=start)
        except DomainError as exc:
            messages.error(request, str(exc.message))
            return redirect("frontdesk:next_visit", appointment_id=appointment.pk)
        messages.success(request, _("The next visit is booked."))
        url = reverse("frontdesk:next_visit", args=[appointment.pk])
        return redirect(f"{url}?{urlencode({'booked': new.pk})}")
    weeks_raw = request.GET.get("weeks", "")
    weeks = int(weeks_raw) if weeks_raw.isdigit() else policy_for(organisation.pk).next_visit_weeks
    booked: Appointment | None = None
    if request.GET.get("booked", "").isdigit():
        booked = scheduling_selectors.appointment_get(
            user=request.user, organisation=organisation, appointment_id=int(request.GET["booked"])
        )
    slots = []
    error = ""
    try:
        slots = next_visits.next_visit_slots(user=request.user, appointment=appointment, weeks=weeks)
    except DomainError as exc:
        error = " ".join([str(exc.message), *(str(m) for ms in exc.errors.values() for m in ms)])
    upcoming = (
        Appointment.objects.filter(
            patient_id=appointment.patient_id,
            start__gt=timezone.now(),
            status__in=(Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED, Appointment.Status.PENDING),
        )
        .select_related("service", "practitioner__user", "location")
        .order_by("start")[:5]
    )
    context = {
        "appointment": appointment,
        "zone": appointment.location.zone,
        "weeks": weeks,
        "slots": slots,
        "booked": booked,
        "upcoming": upcoming,
        "error": error,
    }
    return render(request, "frontdesk/next_visit.html", context)


@require_http_methods(["GET"])
@staff_page
def visit_card_pdf(request: HttpRequest, organisation: Organisation, appointment_id: int) -> HttpResponse:
    """The printable reminder card of a visit, in the patient's language, times in the location's zone."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    appointment = _appointment(request, organisation, appointment_id)
    language = appointment.patient.language or organisation.default_language
    zone = appointment.location.zone
    with translation.override(language), timezone.override(zone):
        html = render_to_string(
            "frontdesk/pdf/visit_card.html",
            {
                "appointment": appointment,
                "organisation": organisation,
                "start": timezone.localtime(appointment.start, zone),
                "LANGUAGE_CODE": language,
            },
        )
    pdf = bytes(HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="visit-{appointment.pk}.pdf"'
    return response


@require_POST
@staff_page
def visit_card_sms(request: HttpRequest, organisation: Organisation, appointment_id: int) -> HttpResponse:
    appointment = _appointment(request, organisation, appointment_id)
    try:
        next_visits.visit_card_send(actor=request.user, appointment=appointment)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The card is on its way by SMS."))
    back = request.POST.get("back", "")
    if back.startswith("/frontdesk/"):
        return redirect(back)
    return redirect("frontdesk:next_visit", appointment_id=appointment.pk)
