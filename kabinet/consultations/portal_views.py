"""Patient pages at /my/consultations/: the patient's conversations and requests (ask a question, request a
callback), and a phone-friendly conversation with voice messages, readings, files and the clinic's emergency line."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kabinet.consultations import access, selectors, services
from kabinet.consultations.forms import MessageForm, RatingForm, ReadingForm, RequestForm
from kabinet.consultations.models import ConsultationContract, ContractRating
from kabinet.consultations.views import conversation_context, send_from_form
from kabinet.core.exceptions import DomainError, NotAllowed, NotFound
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids


def _patients(user: Any) -> list[Patient]:
    return list(Patient.objects.filter(pk__in=own_patient_ids(user)).select_related("organisation").order_by("pk"))


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    patients = _patients(request.user)
    form = RequestForm(request.POST or None, patients=patients)
    status = 200
    if request.method == "POST" and patients:
        status = 422
        if form.is_valid():
            patient = next((p for p in patients if p.pk == form.cleaned_data["patient"]), None)
            try:
                if patient is None:
                    raise NotFound()
                services.request_create(
                    actor=request.user,
                    patient=patient,
                    kind=form.cleaned_data["kind"],
                    question=form.cleaned_data["question"],
                )
            except DomainError as exc:
                for name, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
                status = exc.status
            else:
                flash.success(request, _("Your request is in the queue. We will tell you when a doctor takes it."))
                return redirect("consultations_portal:index")
    conversations = selectors.conversation_list(user=request.user)
    conversations = [c for c in conversations if c.patient_id in {p.pk for p in patients}]
    prices = {p.organisation_id: selectors.policy_for(p.organisation_id) for p in patients}
    context = {
        "conversations": conversations,
        "requests": selectors.patient_requests(user=request.user)[:50],
        "form": form,
        "patients": patients,
        "policies": list(prices.values()),
    }
    return render(request, "consultations/portal/index.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        found = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    except NotFound as exc:
        raise Http404 from exc
    side = access.side_of(request.user, found)
    if side != access.PATIENT:
        raise Http404  # the clinic's side reads it at /consultations/c/<id>/
    message_form, reading_form, status = MessageForm(prefix="m"), ReadingForm(prefix="r"), 200
    if request.method == "POST":
        try:
            message_form, reading_form, status = send_from_form(request, found)
        except NotAllowed as exc:
            flash.error(request, str(exc.message))
            return redirect("consultations_portal:conversation", conversation_id=found.pk)
        if status == 201:
            return redirect("consultations_portal:conversation", conversation_id=found.pk)
    context = conversation_context(request, found, side)
    latest: ConsultationContract | None = context["latest"]
    rateable = None
    if (
        latest is not None
        and latest.status == ConsultationContract.Status.ENDED
        and not ContractRating.objects.filter(contract=latest).exists()
    ):
        rateable = latest
    context.update(
        {
            "message_form": message_form,
            "reading_form": reading_form,
            "emergency_phone": selectors.emergency_phone(found),
            "rateable": rateable,
            "rating_form": RatingForm(),
        }
    )
    with timezone.override(selectors.zone_for(found.organisation_id, found.location)):
        return render(request, "consultations/portal/conversation.html", context, status=status)


@login_required
@require_POST
def rate(request: HttpRequest, contract_id: int) -> HttpResponse:
    try:
        contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    except NotFound as exc:
        raise Http404 from exc
    form = RatingForm(request.POST)
    target = (
        redirect("consultations_portal:conversation", conversation_id=contract.conversation_id)
        if contract.conversation_id
        else redirect("consultations_portal:index")
    )
    if not form.is_valid():
        flash.error(request, _("Choose from 1 to 5 stars."))
        return target
    try:
        services.contract_rate(
            actor=request.user,
            contract=contract,
            score=form.cleaned_data["score"],
            comment=form.cleaned_data["comment"],
        )
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        flash.error(request, str(exc.message))
    else:
        flash.success(request, _("Thank you for your rating!"))
    return target
