"""Consultations API: contracts, conversations and their messages, one-off requests and the queue.

Staff see what access.py allows (the front office every contract of the clinic, doctors their own conversations,
administrators every conversation); a patient's token sees their own and their wards'. Anything else is 404.
Writing to an ended contract is 403 `contract_ended`; an empty message, a voice message over the limits or an
impossible reading is 422; files over the size limit are 413.

The call of a video visit is started by the visit's doctor (or a nurse of its location) from 15 minutes before the
visit until its end: 422 `not_video`, `too_early` or `too_late`, 403 `visit_not_active` for a cancelled, no-show,
pending or completed visit and 403 for other staff and the patient.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field
from pydantic import ValidationError as PydanticError

from kabinet.audit.services import record
from kabinet.consultations import access, notices, selectors, services
from kabinet.consultations.models import ConsultationContract, ConsultationMessage, ConsultationRequest, Conversation
from kabinet.consultations.readings import summary
from kabinet.consultations.serving import file_response
from kabinet.core import permissions, tenancy
from kabinet.core.exceptions import Invalid, NotFound
from kabinet.core.idempotency import run_once
from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.selectors import patient_get
from kabinet.scheduling import selectors as scheduling_selectors

router = Router(tags=["consultations"])


# --- schemas ---------------------------------------------------------------------------------------------------


class PersonOut(Schema):
    id: int
    name: str = Field(..., description="Name only: personal contacts are never shown to the other side")


class ContractOut(Schema):
    id: int
    patient: PersonOut
    doctor: PersonOut = Field(..., description="The doctor (core member id)")
    care_team: list[PersonOut]
    location: int | None
    conversation: int | None
    kind: str = Field(..., description="written, phone or video")
    status: str = Field(..., description="draft, active, ended or cancelled")
    starts_on: date
    ends_on: date
    price: Decimal
    payment_state: str = Field(..., description="free, unpaid, paid or refunded (follows the invoice)")
    invoice: int | None = Field(..., description="Id of the billing invoice (/api/v1/invoices/{id}); null when free")
    sla_hours: int
    sla_working_hours: bool
    renewed_from: int | None
    created_at: datetime
    activated_at: datetime | None
    ended_at: datetime | None


class ContractIn(Schema):
    patient: int
    doctor: int = Field(..., description="Core member id of the doctor")
    care_team: list[int] = Field(default_factory=list, description="Core member ids of other staff who answer")
    location: int | None = None
    kind: Literal["written", "phone", "video"] = "written"
    starts_on: date | None = Field(None, description="Default: today")
    ends_on: date
    price: Decimal = Field(Decimal("0"), ge=0)
    sla_hours: int | None = Field(None, ge=1, le=720, description="Default: the clinic's")
    sla_working_hours: bool = False
    note: str = Field("", max_length=500)
    activate: bool = Field(True, description="Open the contract (and its conversation) now")


class EndIn(Schema):
    reason: str = Field("", max_length=500)


class ConversationOut(Schema):
    id: int
    patient: PersonOut
    doctor: PersonOut
    writable: bool = Field(..., description="An active contract: the participants may write")
    contract: int | None = Field(None, description="The active contract, if any")
    last_message_at: datetime | None
    patient_messages: int = Field(..., description="↑ messages from the patient side")
    staff_messages: int = Field(..., description="↓ messages from the doctor and the care team")
    unanswered: int
    due_at: datetime | None = Field(None, description="When the reply to the oldest unanswered message is due")


class ReadingOut(Schema):
    kind: str
    values: dict[str, float | int]
    measured_at: datetime
    comment: str
    out_of_range: bool
    summary: str


class MessageOut(Schema):
    id: int
    conversation: int
    side: str = Field(..., description="patient or staff")
    author: str
    kind: str = Field(..., description="text, file, photo, voice or reading")
    text: str
    created_at: datetime
    read_at: datetime | None
    due_at: datetime | None = Field(None, description="Patient messages: when the reply is due")
    answered_at: datetime | None
    file_url: str | None = None
    content_type: str = ""
    size: int = 0
    duration_seconds: int | None = None
    reading: ReadingOut | None = None


class ReadingIn(Schema):
    kind: Literal["blood_pressure", "glucose", "weight", "temperature", "spo2", "ecg"]
    values: dict[str, float | int | str | None] = Field(
        default_factory=dict,
        description="blood_pressure: systolic, diastolic, pulse; glucose (mmol/L); weight (kg); temperature (°C); "
        "spo2 (%). ECG: send the file as multipart with reading_kind=ecg.",
    )
    measured_at: datetime | None = None
    comment: str = Field("", max_length=1000)


class MessageIn(Schema):
    text: str = Field("", max_length=10_000)
    reading: ReadingIn | None = None


class ReadIn(Schema):
    up_to: int | None = Field(None, description="The last message id seen; default: everything")


class ReadOut(Schema):
    marked: int


class RequestIn(Schema):
    patient: int
    kind: Literal["question", "callback"]
    question: str = Field("", max_length=5000)
    location: int | None = None


class VideoCallOut(Schema):
    id: int
    appointment: int | None
    conversation: int | None
    started_at: datetime
    url: str = Field(..., description="The call's page for the caller")


class RequestOut(Schema):
    id: int
    patient: PersonOut
    kind: str
    status: str = Field(..., description="waiting, taken, answered or cancelled")
    question: str
    price: Decimal
    payment_state: str = Field(..., description="free, unpaid, paid or refunded (follows the invoice)")
    invoice: int | None = Field(..., description="Id of the billing invoice (/api/v1/invoices/{id}); null when free")
    created_at: datetime
    taken_by: PersonOut | None
    taken_at: datetime | None
    answer: str
    answered_at: datetime | None


# --- mapping -----------------------------------------------------------------------------------------------------


def _person_patient(patient: Any) -> dict[str, Any]:
    return {"id": patient.pk, "name": str(patient)}


def _person_member(member: Member) -> dict[str, Any]:
    return {"id": member.pk, "name": notices.doctor_name(member)}


def contract_out(contract: ConsultationContract) -> dict[str, Any]:
    return {
        "id": contract.pk,
        "patient": _person_patient(contract.patient),
        "doctor": _person_member(contract.doctor),
        "care_team": [_person_member(m) for m in contract.care_team.all()],
        "location": contract.location_id,
        "conversation": contract.conversation_id,
        "kind": contract.kind,
        "status": contract.status,
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "price": contract.price,
        "payment_state": contract.payment_state,
        "invoice": contract.invoice_id,
        "sla_hours": contract.sla_hours,
        "sla_working_hours": contract.sla_working_hours,
        "renewed_from": contract.renewed_from_id,
        "created_at": contract.created_at,
        "activated_at": contract.activated_at,
        "ended_at": contract.ended_at,
    }


def conversation_out(conversation: Conversation) -> dict[str, Any]:
    active = getattr(conversation, "active_contracts", None)
    contract = active[0] if active else None
    return {
        "id": conversation.pk,
        "patient": _person_patient(conversation.patient),
        "doctor": _person_member(conversation.doctor),
        "writable": contract is not None,
        "contract": contract.pk if contract else None,
        "last_message_at": conversation.last_message_at,
        "patient_messages": conversation.patient_messages,
        "staff_messages": conversation.staff_messages,
        "unanswered": conversation.unanswered,
        "due_at": conversation.due_at,
    }


def message_out(message: ConsultationMessage) -> dict[str, Any]:
    author = notices.author_name(message)
    reading = getattr(message, "reading", None) if message.kind == ConsultationMessage.Kind.READING else None
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "side": message.side,
        "author": author,
        "kind": message.kind,
        "text": message.text,
        "created_at": message.created_at,
        "read_at": message.read_at,
        "due_at": message.due_at,
        "answered_at": message.answered_at,
        "file_url": f"/api/v1/conversations/{message.conversation_id}/messages/{message.pk}/file"
        if message.file
        else None,
        "content_type": message.content_type,
        "size": message.size,
        "duration_seconds": message.duration_seconds,
        "reading": (
            {
                "kind": reading.kind,
                "values": reading.values,
                "measured_at": reading.measured_at,
                "comment": reading.comment,
                "out_of_range": reading.out_of_range,
                "summary": summary(reading.kind, reading.values),
            }
            if reading is not None
            else None
        ),
    }


def request_out(request: ConsultationRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "patient": _person_patient(request.patient),
        "kind": request.kind,
        "status": request.status,
        "question": request.question,
        "price": request.price,
        "payment_state": request.payment_state,
        "invoice": request.invoice_id,
        "created_at": request.created_at,
        "taken_by": _person_member(request.taken_by) if request.taken_by_id and request.taken_by else None,
        "taken_at": request.taken_at,
        "answer": request.answer,
        "answered_at": request.answered_at,
    }


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None or not permissions.is_staff_of(request.user, organisation):
        raise NotFound()
    return organisation


def _member(organisation: Organisation, member_id: int, field: str) -> Member:
    member = Member.objects.filter(pk=member_id, organisation=organisation).select_related("user").first()
    if member is None:
        raise Invalid(errors={field: [_("Unknown member of staff.")]})
    return member


# --- contracts ---------------------------------------------------------------------------------------------------


@router.get("/contracts", response=list[ContractOut], summary="Consultation contracts the caller may see")
def list_contracts(request: HttpRequest, status: str = "") -> Any:
    return [contract_out(c) for c in selectors.contract_list(user=request.user, status=status)[:500]]


@router.post(
    "/contracts",
    response={201: ContractOut},
    summary="Open a consultation contract (administrators, registrars)",
    description="Creates the contract and, unless `activate` is false, opens it: the patient's conversation with the "
    "doctor opens (or continues) and the patient is told. 409 `contract_active_exists` when the patient already has "
    "an active contract with this doctor.",
)
def create_contract(request: HttpRequest, payload: ContractIn) -> Any:
    organisation = _organisation(request)
    if not access.can_manage_contracts(request.user, organisation.pk):
        raise NotFound()
    try:
        patient = patient_get(user=request.user, patient_id=payload.patient, organisation=organisation)
    except NotFound:
        raise Invalid(errors={"patient": [_("Unknown patient.")]}) from None
    location = None
    if payload.location is not None:
        location = Location.objects.filter(pk=payload.location, organisation=organisation).first()
        if location is None:
            raise Invalid(errors={"location": [_("Unknown location.")]})
    contract = services.contract_create(
        actor=request.user,
        patient=patient,
        doctor=_member(organisation, payload.doctor, "doctor"),
        care_team=[_member(organisation, pk, "care_team") for pk in payload.care_team],
        location=location,
        kind=payload.kind,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        price=payload.price,
        sla_hours=payload.sla_hours,
        sla_working_hours=payload.sla_working_hours,
        note=payload.note,
        activate=payload.activate,
    )
    return Status(201, contract_out(selectors.contract_get(user=request.user, contract_id=contract.pk)))


@router.post(
    "/contracts/{contract_id}/end",
    response=ContractOut,
    summary="End a contract now (a draft is cancelled)",
    description="The patient keeps reading the conversation; nobody can write in it any more.",
)
def end_contract(request: HttpRequest, contract_id: int, payload: EndIn) -> Any:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    services.contract_end(actor=request.user, contract=contract, reason=payload.reason)
    return contract_out(selectors.contract_get(user=request.user, contract_id=contract_id))


# --- conversations -----------------------------------------------------------------------------------------------


@router.get("/conversations", response=list[ConversationOut], summary="Conversations the caller takes part in")
def list_conversations(request: HttpRequest) -> Any:
    return [conversation_out(c) for c in selectors.conversation_list(user=request.user)]


@router.get(
    "/conversations/{conversation_id}/messages",
    response=list[MessageOut],
    summary="Messages of a conversation, oldest first (audited)",
    description="`after`: only messages after this id — what a reconnecting client missed. At most `limit` "
    "(the latest ones when there are more).",
)
def list_messages(request: HttpRequest, conversation_id: int, after: int | None = None, limit: int = 200) -> Any:
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    rows = selectors.messages_of(
        user=request.user, conversation=conversation, after=after, limit=max(1, min(limit, 500))
    )
    return [message_out(m) for m in rows]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` written in place (OpenAPI would resolve them from the root)."""
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(definitions[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return dict(walk(schema))


_MESSAGE_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": _inlined(MessageIn.model_json_schema())},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "description": "Message or caption"},
                        "file": {"type": "string", "format": "binary", "description": "PDF or photo"},
                        "voice": {"type": "string", "format": "binary", "description": "WebM, Ogg or M4A"},
                        "duration": {"type": "number", "description": "Voice: seconds, from the recorder"},
                        "reading_kind": {"type": "string", "description": "ecg: the file is an ECG"},
                        "comment": {"type": "string"},
                    },
                }
            },
        },
        "required": True,
    }
}


def _message_payload(request: HttpRequest) -> dict[str, Any]:
    """The message's parts from a JSON body (text, reading) or a multipart form (file, voice, ECG)."""
    content_type = (request.content_type or "").lower()
    if content_type.startswith("multipart/form-data"):
        data = request.POST
        parts: dict[str, Any] = {"text": data.get("text", "")}
        if "voice" in request.FILES:
            parts["voice_upload"] = request.FILES["voice"]
            parts["voice_duration"] = data.get("duration")
        if "file" in request.FILES:
            parts["upload"] = request.FILES["file"]
        if data.get("reading_kind"):
            parts["reading"] = {"kind": data.get("reading_kind"), "comment": data.get("comment", ""), "values": {}}
        return parts
    try:
        raw = json.loads(request.body or b"{}")
        payload = MessageIn.model_validate(raw)
    except (ValueError, PydanticError) as exc:
        errors: dict[str, list[str]] = {}
        for error in getattr(exc, "errors", lambda: [])():
            loc = ".".join(str(p) for p in error.get("loc", ())) or "__all__"
            errors.setdefault(loc, []).append(str(error.get("msg", "")))
        raise Invalid(errors=errors or {"__all__": [_("Send JSON or a multipart form.")]}) from None
    parts = {"text": payload.text}
    if payload.reading is not None:
        parts["reading"] = payload.reading.model_dump()
    return parts


@router.post(
    "/conversations/{conversation_id}/messages",
    response={201: MessageOut},
    summary="Send a message: text or a reading as JSON; a file, photo, voice recording or ECG as multipart",
    description="Send an `Idempotency-Key` header to make retries safe: a repeat returns the first result. "
    "403 `contract_ended` when the contract has ended; 422 for an empty message, an impossible reading or a voice "
    "recording over the limits; 413 when a file is too large.",
    openapi_extra=_MESSAGE_BODY,
)
def send_message(request: HttpRequest, conversation_id: int) -> Any:
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)

    def send() -> tuple[int, dict[str, Any]]:
        message = services.message_send(actor=request.user, conversation=conversation, **_message_payload(request))
        return 201, MessageOut.model_validate(message_out(message)).model_dump(mode="json")

    status, body = run_once(request, f"consultations.message:{conversation_id}", send)
    return Status(status, body)


@router.get(
    "/conversations/{conversation_id}/messages/{message_id}/file",
    response={200: None},
    summary="A message's file: a download, or `?inline=1` for pictures and voice recordings (downloads are audited)",
)
def message_file(request: HttpRequest, conversation_id: int, message_id: int, inline: bool = False) -> HttpResponseBase:
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    message = ConsultationMessage.objects.filter(pk=message_id, conversation=conversation).first()
    if message is None or not message.file:
        raise NotFound()
    if not inline:
        record(actor=request.user, action="consultation.file.downloaded", obj=message, patient=conversation.patient_id)
    return file_response(message, inline=inline)


@router.post(
    "/conversations/{conversation_id}/read",
    response=ReadOut,
    summary="Mark the other side's messages as read (read receipts)",
)
def mark_read(request: HttpRequest, conversation_id: int, payload: ReadIn) -> Any:
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    return {
        "marked": services.conversation_mark_read(actor=request.user, conversation=conversation, up_to=payload.up_to)
    }


# --- requests ----------------------------------------------------------------------------------------------------


class QueueFilter(Schema):
    status: Literal["waiting", "taken", "answered", "cancelled", ""] = ""


@router.get(
    "/consultation-requests",
    response=list[RequestOut],
    summary="The waiting queue (doctors, administrators) or the caller's own requests (patients)",
)
def list_requests(request: HttpRequest, filters: Query[QueueFilter]) -> Any:
    organisation = tenancy.current_organisation(request)
    if organisation is not None and permissions.is_staff_of(request.user, organisation):
        rows = list(
            selectors.request_queue(user=request.user, organisation=organisation).select_related("taken_by__user")
        )
    else:
        rows = list(selectors.patient_requests(user=request.user))
    if filters.status:
        rows = [r for r in rows if r.status == filters.status]
    return [request_out(r) for r in rows]


@router.post(
    "/consultation-requests",
    response={201: RequestOut},
    summary="Ask a one-off written question or request a callback (no contract needed)",
)
def create_request(request: HttpRequest, payload: RequestIn) -> Any:
    patient = patient_get(user=request.user, patient_id=payload.patient)
    location = None
    if payload.location is not None:
        location = Location.objects.filter(pk=payload.location, organisation_id=patient.organisation_id).first()
        if location is None:
            raise Invalid(errors={"location": [_("Unknown location.")]})
    created = services.request_create(
        actor=request.user, patient=patient, kind=payload.kind, question=payload.question, location=location
    )
    return Status(201, request_out(selectors.request_get(user=request.user, request_id=created.pk)))


@router.post(
    "/consultation-requests/{request_id}/take",
    response=RequestOut,
    summary="Take a waiting request (doctors); 409 `request_taken` when another doctor was first",
)
def take_request(request: HttpRequest, request_id: int) -> Any:
    found = selectors.request_get(user=request.user, request_id=request_id)
    if not access.can_take_requests(request.user, found.organisation_id):
        raise NotFound()
    services.request_take(actor=request.user, request=found)
    return request_out(selectors.request_get(user=request.user, request_id=request_id))


# --- video visits -------------------------------------------------------------------------------------------------


@router.post(
    "/appointments/{appointment_id}/video-call",
    response={200: VideoCallOut, 201: VideoCallOut},
    summary="Start the video call of a video visit (its doctor or a nurse of its location); 200 with the open one",
)
def start_visit_call(request: HttpRequest, appointment_id: int) -> Any:
    appointment = scheduling_selectors.appointment_get(
        user=request.user, organisation=None, appointment_id=appointment_id
    )
    already_open = selectors.open_visit_calls(user=request.user, appointment_ids=[appointment.pk])
    call = services.video_call_start_for_appointment(actor=request.user, appointment=appointment)
    out = {
        "id": call.pk,
        "appointment": call.appointment_id,
        "conversation": call.conversation_id,
        "started_at": call.started_at,
        "url": reverse("consultations:video", args=[call.pk]),
    }
    return Status(200 if appointment.pk in already_open else 201, out)
