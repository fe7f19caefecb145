"""The patient's page for a waiting-list offer (/my/offers/<signed token>/): what is offered, and one button to book
it (or to say no). Opening the link changes nothing (phones and messengers open links to preview them); the button
POSTs. Shown in the patient's language; no login needed, the signed link is the permission for this one offer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods

from kabinet.core.exceptions import DomainError, NotFound
from kabinet.frontdesk.models import WaitlistOffer
from kabinet.frontdesk.services import waitlist
from kabinet.patients.selectors import own_patient_ids


def _actor(request: HttpRequest, offer: WaitlistOffer) -> object:
    """The logged-in patient (or proxy) when it is their offer; else nobody (the link acts for the clinic)."""
    user = request.user
    if getattr(user, "is_authenticated", False) and offer.entry.patient_id in own_patient_ids(user):
        return user
    return None


@require_http_methods(["GET", "POST"])
def offer(request: HttpRequest, token: str) -> HttpResponse:
    try:
        current = waitlist.offer_from_token(token)
    except NotFound:
        return render(request, "frontdesk/offer_invalid.html", status=404)
    patient = current.entry.patient
    language = patient.language or current.organisation.default_language
    status = 200
    error = ""
    done = ""
    with translation.override(language):
        if request.method == "POST":
            action = request.POST.get("action", "accept")
            try:
                if action == "decline":
                    waitlist.offer_decline(offer=current, actor=_actor(request, current))
                    done = "declined"
                else:
                    waitlist.waitlist_offer_accept(offer=current, actor=_actor(request, current), via_link=True)
                    done = "booked"
            except DomainError as exc:
                error, status = str(exc.message), exc.status
            current = waitlist.offer_from_token(token)
        zone = current.location.zone
        context = {
            "offer": current,
            "patient": patient,
            "start": timezone.localtime(current.start, zone),
            "end": timezone.localtime(current.end, zone),
            "expires": timezone.localtime(current.expires_at, zone),
            "is_open": current.is_open,
            "error": error,
            "done": done,
            "LANGUAGE_CODE": language,
        }
        return render(request, "frontdesk/offer.html", context, status=status)
