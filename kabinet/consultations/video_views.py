"""Video consultation pages for both sides: the doctor starts a call from the conversation (or from a video visit
in the calendar, through the API), each side opens the call's page (own camera, the other side's video, hang up);
the browsers connect through consumers.py."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kabinet.consultations import access, notices, selectors, services
from kabinet.consultations import video as video_settings
from kabinet.consultations.models import VideoCall
from kabinet.core.exceptions import DomainError, NotAllowed, NotFound


@require_POST
@login_required
def video_start(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        found = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        call = services.video_call_start(actor=request.user, conversation=found)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        if isinstance(exc, NotAllowed) and exc.code != "contract_ended":
            return render(request, "403.html", status=403)
        flash.error(request, str(exc.message))
        return redirect("consultations:conversation", conversation_id=conversation_id)
    return redirect("consultations:video", call_id=call.pk)


@require_GET
@login_required
def video_page(request: HttpRequest, call_id: int) -> HttpResponse:
    """The call's page for both sides: own camera, the other side's video, hang up."""
    try:
        call, side = selectors.video_call_get(user=request.user, call_id=call_id)
    except NotFound as exc:
        raise Http404 from exc
    patient_side = side == access.PATIENT
    if call.appointment is not None:
        patient, doctor = call.appointment.patient, call.appointment.practitioner
    else:
        assert call.conversation is not None
        patient, doctor = call.conversation.patient, call.conversation.doctor
    context = {
        "call": call,
        "side": side,
        "base_template": "portal/base.html" if patient_side else "base.html",
        "back_url": _back_url(call, side),
        "back_label": _("Back to the conversation") if call.conversation_id else _("Back to the visits"),
        "other_name": patient if not patient_side else notices.doctor_name(doctor),
        "ice_servers": video_settings.ice_servers(int(request.user.pk or 0)),
    }
    return render(request, "consultations/video.html", context)


def _back_url(call: VideoCall, side: str) -> str:
    """Where each side goes back to: the conversation, or for a video visit the patient's visits and the calendar
    of the visit's location."""
    patient_side = side == access.PATIENT
    if call.appointment is not None:
        if patient_side:
            return reverse("portal:home")
        return f"{reverse('scheduling:calendar')}?location={call.appointment.location_id}"
    name = "consultations_portal:conversation" if patient_side else "consultations:conversation"
    return reverse(name, args=[call.conversation_id])


@require_POST
@login_required
def video_end(request: HttpRequest, call_id: int) -> HttpResponse:
    try:
        call, side = selectors.video_call_get(user=request.user, call_id=call_id)
        services.video_call_end(actor=request.user, call=call)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError:
        pass  # already ended: nothing to do
    return redirect(_back_url(call, side))
