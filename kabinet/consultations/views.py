"""Staff pages at /consultations/: my conversations, a conversation, the request queue, the administrators' SLA
panel, contracts and the monthly report; plus the pieces both areas share (the messages partial, files)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kabinet.audit.services import record
from kabinet.consultations import access, notices, reports, selectors, services, voice
from kabinet.consultations.forms import (
    AnswerForm,
    ContractForm,
    EndForm,
    MessageForm,
    PaymentForm,
    PolicyForm,
    ReadingForm,
    RenewForm,
)
from kabinet.consultations.models import (
    ConsultationContract,
    ConsultationMessage,
    ContractRating,
    Conversation,
    Reading,
)
from kabinet.consultations.serving import file_response
from kabinet.core.decorators import staff_page, staff_page_for
from kabinet.core.exceptions import DomainError, NotAllowed, NotFound
from kabinet.core.models import Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import patient_get


def _apply(form: Form, exc: DomainError) -> None:
    for name, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


def _tabs(user: Any, organisation: Organisation) -> dict[str, bool]:
    return {
        "can_manage_contracts": access.can_manage_contracts(user, organisation.pk),
        "can_supervise": access.can_supervise(user, organisation.pk),
        "can_take_requests": access.can_take_requests(user, organisation.pk),
    }


# --- shared by both areas ----------------------------------------------------------------------------------------


def message_context(user: Any, conversation: Conversation, side: str) -> dict[str, Any]:
    return {
        "viewer_side": "patient" if side == access.PATIENT else "staff",
        "conversation": conversation,
        "now": timezone.now(),
    }


@require_GET
@login_required
def messages_partial(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The conversation's messages after `?after=<id>` as list items: what the page shows live and what a
    reconnecting page missed (it asks from the last id it shows, so nothing arrives twice)."""
    try:
        conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        after = int(request.GET.get("after", "0") or 0)
    except (NotFound, ValueError) as exc:
        raise Http404 from exc
    side = access.side_of(request.user, conversation) or ""
    rows = selectors.messages_of(user=request.user, conversation=conversation, after=after)
    with timezone.override(selectors.zone_for(conversation.organisation_id, conversation.location)):
        return render(
            request,
            "consultations/_messages.html",
            {"messages_list": rows, **message_context(request.user, conversation, side)},
        )


@require_GET
@login_required
def message_file(request: HttpRequest, message_id: int) -> HttpResponseBase:
    """A message's file for whoever may read the conversation: `?inline=1` for pictures and voice in the page,
    else a download (audited)."""
    message = ConsultationMessage.objects.filter(pk=message_id).only("conversation_id").first()
    if message is None:
        raise Http404
    try:
        conversation = selectors.conversation_get(user=request.user, conversation_id=message.conversation_id)
    except NotFound as exc:
        raise Http404 from exc
    message = ConsultationMessage.objects.get(pk=message_id)
    inline = request.GET.get("inline") == "1"
    if not inline:
        record(
            actor=request.user,
            action="consultation.file.downloaded",
            obj=message,
            patient=conversation.patient_id,
        )
    return file_response(message, inline=inline)


@require_GET
@login_required
def readings_chart(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The readings of one kind sent in the conversation, over time, with the clinic's normal range highlighted;
    for both sides (a table too, for screen readers and without JavaScript)."""
    try:
        found = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    except NotFound as exc:
        raise Http404 from exc
    side = access.side_of(request.user, found) or ""
    kinds = selectors.reading_kinds(found)
    kind = request.GET.get("kind") or (kinds[0] if kinds else "blood_pressure")
    if kind not in Reading.Kind.values or kind == Reading.Kind.ECG:
        raise Http404
    record(actor=request.user, action="consultation.readings.viewed", obj=found, patient=found.patient_id)
    context = {
        "conversation": found,
        "base_template": "portal/base.html" if side == access.PATIENT else "base.html",
        "back_url": reverse(
            "consultations_portal:conversation" if side == access.PATIENT else "consultations:conversation",
            args=[found.pk],
        ),
        "kinds": [(k, Reading.Kind(k).label) for k in kinds if k != Reading.Kind.ECG],
        "kind": kind,
        "kind_label": Reading.Kind(kind).label,
        "rows": selectors.reading_series(conversation=found, kind=kind),
        "chart": selectors.chart_data(conversation=found, kind=kind),
    }
    with timezone.override(selectors.zone_for(found.organisation_id, found.location)):
        return render(request, "consultations/readings.html", context)


def send_from_form(request: HttpRequest, conversation: Conversation) -> tuple[MessageForm, ReadingForm, int]:
    """The no-JavaScript way to send: a text/file form or a reading form posted to the conversation page."""
    message_form = MessageForm(prefix="m")
    reading_form = ReadingForm(prefix="r")
    if request.POST.get("action") == "reading":
        reading_form = ReadingForm(request.POST, request.FILES, prefix="r")
        if not reading_form.is_valid():
            return message_form, reading_form, 422
        try:
            services.message_send(
                actor=request.user,
                conversation=conversation,
                reading=reading_form.reading(),
                upload=reading_form.cleaned_data.get("file"),
            )
        except (NotFound, NotAllowed):
            raise
        except DomainError as exc:
            _apply(reading_form, exc)
            return message_form, reading_form, exc.status
        return MessageForm(prefix="m"), ReadingForm(prefix="r"), 201
    message_form = MessageForm(request.POST, request.FILES, prefix="m")
    if not message_form.is_valid():
        return message_form, reading_form, 422
    try:
        services.message_send(
            actor=request.user,
            conversation=conversation,
            text=message_form.cleaned_data["text"],
            upload=message_form.cleaned_data.get("file"),
        )
    except (NotFound, NotAllowed):
        raise
    except DomainError as exc:
        _apply(message_form, exc)
        return message_form, reading_form, exc.status
    return MessageForm(prefix="m"), ReadingForm(prefix="r"), 201


def conversation_context(request: HttpRequest, conversation: Conversation, side: str) -> dict[str, Any]:
    contract = selectors.active_contract(conversation)
    return {
        **message_context(request.user, conversation, side),
        "messages_list": selectors.messages_of(user=request.user, conversation=conversation),
        "contract": contract,
        "latest": contract or selectors.latest_contract(conversation),
        "writable": contract is not None and side in (access.PATIENT, access.STAFF),
        "side": side,
        "doctor_name": notices.doctor_name(conversation.doctor),
        "voice_max_seconds": voice.max_seconds(),
        "voice_limits": voice.limits_text(),
        "has_readings": bool(selectors.reading_kinds(conversation)),
        "video_call": selectors.open_video_call(conversation),
    }


# --- staff pages -------------------------------------------------------------------------------------------------


@require_GET
@staff_page
def home(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    conversations = selectors.conversation_list(user=request.user, organisation=organisation)
    context = {
        "conversations": conversations,
        "my_requests": selectors.my_requests(user=request.user, organisation=organisation),
        "waiting": selectors.request_queue(user=request.user, organisation=organisation).count(),
        "now": timezone.now(),
        "tab": "home",
        **_tabs(request.user, organisation),
    }
    return render(request, "consultations/home.html", context)


@require_http_methods(["GET", "POST"])
@staff_page
def conversation(request: HttpRequest, organisation: Organisation, conversation_id: int) -> HttpResponse:
    found = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if found.organisation_id != organisation.pk:
        raise NotFound()
    side = access.side_of(request.user, found) or ""
    if side == access.PATIENT:
        return redirect("consultations_portal:conversation", conversation_id=found.pk)
    message_form, reading_form, status = MessageForm(prefix="m"), ReadingForm(prefix="r"), 200
    if request.method == "POST":
        message_form, reading_form, status = send_from_form(request, found)
        if status == 201:
            return redirect("consultations:conversation", conversation_id=found.pk)
    from kabinet.records.selectors import patient_documents

    context = {
        **conversation_context(request, found, side),
        "message_form": message_form,
        "reading_form": reading_form,
        "documents": patient_documents(user=request.user, patient=found.patient, organisation=organisation)[:10],
        "readings": found.patient.consultation_readings.order_by("-measured_at", "-pk")[:5],
        "tab": "home",
        **_tabs(request.user, organisation),
    }
    with timezone.override(selectors.zone_for(found.organisation_id, found.location)):
        return render(request, "consultations/conversation.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_page
def queue(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    if request.method == "POST":
        try:
            if request.POST.get("request"):
                found = selectors.request_get(user=request.user, request_id=int(request.POST["request"]))
                taken = services.request_take(actor=request.user, request=found)
            else:
                taken = services.request_take_next(actor=request.user, organisation=organisation)  # type: ignore[assignment]
        except (DomainError, ValueError) as exc:
            flash.error(request, str(getattr(exc, "message", exc)))
            return redirect("consultations:queue")
        if taken is None:
            flash.info(request, _("The queue is empty."))
            return redirect("consultations:queue")
        return redirect("consultations:request", request_id=taken.pk)
    context = {
        "waiting": selectors.request_queue(user=request.user, organisation=organisation),
        "mine": selectors.my_requests(user=request.user, organisation=organisation),
        "tab": "queue",
        **_tabs(request.user, organisation),
    }
    return render(request, "consultations/queue.html", context)


@require_http_methods(["GET", "POST"])
@staff_page
def request_detail(request: HttpRequest, organisation: Organisation, request_id: int) -> HttpResponse:
    found = selectors.request_get(user=request.user, request_id=request_id)
    if found.organisation_id != organisation.pk:
        raise NotFound()
    form = AnswerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.request_answer(actor=request.user, request=found, answer=form.cleaned_data["answer"])
            except (NotFound, NotAllowed):
                raise
            except DomainError as exc:
                _apply(form, exc)
                status = exc.status
            else:
                flash.success(request, _("The answer is sent; the patient has been told."))
                return redirect("consultations:queue")
    record(actor=request.user, action="consultation.request.viewed", obj=found, patient=found.patient_id)
    context = {
        "item": found,
        "form": form,
        "is_mine": found.taken_by is not None and found.taken_by.user_id == request.user.pk,
        "tab": "queue",
        **_tabs(request.user, organisation),
    }
    return render(request, "consultations/request.html", context, status=status)


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


@require_GET
@staff_page
def panel(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    data = selectors.sla_panel(
        user=request.user,
        organisation=organisation,
        doctor_id=_int(request.GET.get("doctor")),
        location_id=_int(request.GET.get("location")),
    )
    context = {
        "panel": data,
        "doctor_id": _int(request.GET.get("doctor")),
        "location_id": _int(request.GET.get("location")),
        "now": timezone.now(),
        "tab": "panel",
        **_tabs(request.user, organisation),
    }
    with timezone.override(selectors.zone_for(organisation.pk)):
        return render(request, "consultations/panel.html", context)


@require_http_methods(["GET", "POST"])
@staff_page_for(*access.SUPERVISOR_ROLES)
def policy(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """The clinic's consultation settings: working hours for SLAs, escalation, prices, emergency line, normal ranges."""
    current = selectors.policy_for(organisation.pk)
    ranges = selectors.thresholds_for(organisation.pk)
    form = PolicyForm(request.POST or None, policy=current, ranges=ranges)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.policy_update(
                    actor=request.user, organisation=organisation, values=form.policy_values(), ranges=form.ranges()
                )
            except DomainError as exc:
                _apply(form, exc)
            else:
                flash.success(request, _("The consultation settings are saved."))
                return redirect("consultations:policy")
        status = 422
    context = {"form": form, "tab": "policy", **_tabs(request.user, organisation)}
    return render(request, "consultations/policy.html", context, status=status)


@require_GET
@staff_page
def contracts(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    status = request.GET.get("status", "")
    context = {
        "contracts": selectors.contract_list(user=request.user, organisation=organisation, status=status)[:300],
        "status": status,
        "statuses": ConsultationContract.Status.choices,
        "tab": "contracts",
        **_tabs(request.user, organisation),
    }
    return render(request, "consultations/contracts.html", context)


def _patient_for_form(request: HttpRequest, organisation: Organisation, form: ContractForm) -> Patient | None:
    raw_id = form.cleaned_data.get("patient") if form.is_bound else None
    card = (form.cleaned_data.get("card_number") or "").strip() if form.is_bound else ""
    if raw_id:
        try:
            return patient_get(user=request.user, patient_id=raw_id, organisation=organisation)
        except NotFound:
            return None
    if card:
        found = Patient.objects.filter(organisation=organisation, card_number__in=[card, card.zfill(6)]).first()
        return found
    return None


@require_http_methods(["GET", "POST"])
@staff_page
def contract_new(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    if not access.can_manage_contracts(request.user, organisation.pk):
        raise NotAllowed()
    policy = selectors.policy_for(organisation.pk)
    preset = None
    patient_param = _int(request.GET.get("patient"))
    if patient_param:
        preset = patient_get(user=request.user, patient_id=patient_param, organisation=organisation)
    form = ContractForm(
        request.POST or None,
        doctors=selectors.doctors_of(organisation),
        staff=selectors.staff_of(organisation),
        locations=list(organisation.locations.filter(is_active=True)),
        initial={"patient": preset.pk if preset else None, "sla_hours": policy.default_sla_hours, "kind": "written"},
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            patient = _patient_for_form(request, organisation, form)
            if patient is None:
                form.add_error("card_number", _("No patient of this clinic has this card number."))
            else:
                data = form.cleaned_data
                try:
                    contract = services.contract_create(
                        actor=request.user,
                        patient=patient,
                        doctor=data["doctor"],
                        care_team=list(data["care_team"]),
                        location=data["location"],
                        kind=data["kind"],
                        starts_on=data["starts_on"],
                        ends_on=data["ends_on"],
                        price=data["price"],
                        sla_hours=data["sla_hours"],
                        sla_working_hours=data["sla_working_hours"],
                        note=data["note"],
                        activate=data["activate"],
                    )
                except (NotFound, NotAllowed):
                    raise
                except DomainError as exc:
                    _apply(form, exc)
                    status = exc.status
                else:
                    flash.success(
                        request,
                        _("The contract is open: the patient can write now.")
                        if contract.is_active
                        else _("The contract is saved as a draft."),
                    )
                    return redirect("consultations:contract", contract_id=contract.pk)
        if preset is None and form.is_bound:
            preset = _patient_for_form(request, organisation, form) if form.is_valid() else None
    context = {"form": form, "preset": preset, "tab": "contracts", **_tabs(request.user, organisation)}
    return render(request, "consultations/contract_new.html", context, status=status)


@require_GET
@staff_page
def contract_detail(request: HttpRequest, organisation: Organisation, contract_id: int) -> HttpResponse:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    if contract.organisation_id != organisation.pk:
        raise NotFound()
    context = {
        "contract": contract,
        "end_form": EndForm(),
        "renew_form": RenewForm(initial={"ends_on": contract.ends_on, "price": contract.price}),
        "payment_form": PaymentForm(initial={"payment_state": contract.payment_state}),
        "can_read_conversation": contract.conversation_id is not None
        and selectors.conversations_visible_to(request.user).filter(pk=contract.conversation_id).exists(),
        "rating": ContractRating.objects.filter(contract=contract).first(),
        "tab": "contracts",
        **_tabs(request.user, organisation),
    }
    return render(request, "consultations/contract.html", context)


@require_POST
@staff_page
def contract_action(request: HttpRequest, organisation: Organisation, contract_id: int, action: str) -> HttpResponse:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    if contract.organisation_id != organisation.pk:
        raise NotFound()
    target = reverse("consultations:contract", args=[contract.pk])
    try:
        if action == "activate":
            services.contract_activate(actor=request.user, contract=contract)
            flash.success(request, _("The contract is open: the patient can write now."))
        elif action == "end":
            form = EndForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            services.contract_end(actor=request.user, contract=contract, reason=reason)
            flash.success(request, _("The contract has ended. The patient can still read the conversation."))
        elif action == "renew":
            renew = RenewForm(request.POST)
            if not renew.is_valid():
                flash.error(request, _("Enter the last day of the renewal."))
                return redirect(target)
            renewal = services.contract_renew(
                actor=request.user,
                contract=contract,
                ends_on=renew.cleaned_data["ends_on"],
                price=renew.cleaned_data["price"],
                activate=True,
            )
            flash.success(request, _("The renewal is saved."))
            return redirect("consultations:contract", contract_id=renewal.pk)
        elif action == "payment":
            payment = PaymentForm(request.POST)
            if payment.is_valid():
                services.contract_payment_set(
                    actor=request.user, contract=contract, state=payment.cleaned_data["payment_state"]
                )
                flash.success(request, _("The payment is recorded."))
        else:
            raise NotFound()
    except (NotFound, NotAllowed):
        raise
    except DomainError as exc:
        flash.error(request, str(exc.message))
    return redirect(target)


def _month(raw: str, default: date) -> date:
    try:
        year, number = (int(part) for part in raw.split("-", 1))
        return date(year, number, 1)
    except ValueError:
        return default


@require_GET
@staff_page
def reviews(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """Administrators score the quality of a sample of the month's conversations."""
    if not access.can_supervise(request.user, organisation.pk):
        raise NotAllowed()
    month = _month(request.GET.get("month", ""), timezone.localdate().replace(day=1))
    context = {
        "sample": reports.review_sample(organisation=organisation, month=month, reviewer=request.user),
        "month": month,
        "scores": [5, 4, 3, 2, 1],
        "tab": "reviews",
        **_tabs(request.user, organisation),
    }
    return render(request, "consultations/reviews.html", context)


@require_POST
@staff_page
def review_save(request: HttpRequest, organisation: Organisation, contract_id: int) -> HttpResponse:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    if contract.organisation_id != organisation.pk:
        raise NotFound()
    try:
        services.quality_review_save(
            actor=request.user,
            contract=contract,
            score=request.POST.get("score", ""),
            comment=request.POST.get("comment", ""),
        )
    except (NotFound, NotAllowed):
        raise
    except DomainError as exc:
        flash.error(request, str(exc.message))
    else:
        flash.success(request, _("The review is saved."))
    month = request.POST.get("month", "")
    return redirect(reverse("consultations:reviews") + (f"?month={month}" if month else ""))


@require_GET
@staff_page
def report(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    if not access.can_supervise(request.user, organisation.pk):
        raise NotAllowed()
    month = _month(request.GET.get("month", ""), reports.previous_month(timezone.localdate()))
    rows = reports.monthly_report(organisation=organisation, month=month)
    record(
        actor=request.user,
        action="consultation.report.viewed",
        organisation=organisation,
        after={"month": f"{month:%Y-%m}"},
    )
    if request.GET.get("format") == "csv":
        response = HttpResponse(reports.as_csv(rows, month), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="consultations-{month:%Y-%m}.csv"'
        return response
    context = {"rows": rows, "month": month, "tab": "reports", **_tabs(request.user, organisation)}
    return render(request, "consultations/report.html", context)
