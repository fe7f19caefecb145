"""Front-desk API: worklists and call attempts, the waiting list, arrival (with lateness and prompts), next visit."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, time
from typing import Any, Literal

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import AwareDatetime, Field

from kabinet.core import tenancy
from kabinet.core.exceptions import DomainError, Invalid, NotAllowed, NotFound
from kabinet.core.idempotency import run_once
from kabinet.core.models import Location, Member, Organisation
from kabinet.frontdesk import selectors
from kabinet.frontdesk.models import WaitlistEntry, WorklistItem
from kabinet.frontdesk.services import arrivals, next_visit, waitlist, worklists
from kabinet.frontdesk.services.common import organisation_today
from kabinet.patients.selectors import patient_get
from kabinet.scheduling import selectors as scheduling_selectors
from kabinet.scheduling.api import AppointmentOut, appointment_out
from kabinet.scheduling.models import Service

router = Router(tags=["front desk"])

KindPath = Literal["confirmations", "waitlist", "recall"]


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    return organisation


def _problem(request: HttpRequest, exc: DomainError) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"https://kabinet.dev/problems/{exc.code}",
        "title": "Conflict" if exc.status == 409 else "Error",
        "status": exc.status,
        "detail": str(exc.message),
        "code": exc.code,
        "instance": request.path,
    }
    return exc.status, body


def _respond(status: int, body: dict[str, Any]) -> Any:
    if status >= 400:
        return JsonResponse(body, status=status, content_type="application/problem+json")
    return Status(status, body)


# --- schemas ------------------------------------------------------------------------------------------------------


class PatientRef(Schema):
    id: int
    name: str
    phone: str


class VisitRef(Schema):
    id: int
    start: datetime
    end: datetime
    status: str
    service: int
    service_name: str
    practitioner: int
    practitioner_name: str
    location: int


class OfferOut(Schema):
    id: int
    state: str
    start: datetime
    end: datetime
    expires_at: datetime
    service: int
    service_name: str
    practitioner: int
    practitioner_name: str
    location: int


class AttemptOut(Schema):
    id: int
    at: datetime
    outcome: str
    follow_up: str
    callback_at: datetime | None
    note: str
    operator: str


class WorklistItemOut(Schema):
    id: int
    kind: str
    day: date
    state: str
    outcome: str
    follow_up: str
    attempts: int
    next_call_at: datetime | None
    last_attempt_at: datetime | None
    note: str
    patient: PatientRef
    appointment: VisitRef | None
    offer: OfferOut | None
    waitlist_entry: int | None
    recall_rule: str
    call_attempts: list[AttemptOut]


class WorklistFilter(Schema):
    date: dt.date | None = Field(None, description="The day of the calls (the organisation's today by default).")


class AttemptIn(Schema):
    outcome: Literal["confirmed", "cancelled", "no_answer", "wrong_number", "call_back"]
    note: str = Field("", max_length=1000)
    callback_at: AwareDatetime | None = Field(None, description="`call_back`: when to call again.")
    follow_up: Literal["", "reschedule", "waitlist", "refusal", "remove"] = Field(
        "",
        description="`cancelled`: for a confirmation call `reschedule` (with `new_start`), `waitlist` or `refusal` "
        "(both with `cancel_reason`); for the waiting list `remove` or `refusal`; for recall `refusal` or nothing.",
    )
    cancel_reason: int | None = Field(None, description="A cancellation reason (GET /reasons?kind=cancel).")
    new_start: AwareDatetime | None = None
    practitioner: int | None = None
    refusal_reason: int | None = None
    callback_date: date | None = Field(None, description="Waiting list: when to call the patient back.")


class AttemptResultOut(Schema):
    attempt: AttemptOut
    item: WorklistItemOut
    appointment: int | None
    messages: list[int]


class ProblemOut(Schema):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str


class GenerateOut(Schema):
    created: int
    closed: int


class WaitlistIn(Schema):
    patient: int
    service: int
    practitioners: list[int] = Field(default_factory=list, max_length=50)
    location: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    weekdays: list[int] = Field(default_factory=list, max_length=7, description="0 = Monday … 6 = Sunday")
    time_from: time | None = None
    time_to: time | None = None
    note: str = Field("", max_length=2000)
    callback_date: date | None = None


class WaitlistEntryOut(Schema):
    id: int
    patient: int
    patient_name: str
    service: int
    service_name: str
    practitioners: list[int]
    location: int | None
    date_from: date | None
    date_to: date | None
    weekdays: list[int]
    time_from: time | None
    time_to: time | None
    note: str
    callback_date: date | None
    state: str
    appointment: int | None
    created_at: datetime


class WaitlistFilter(Schema):
    state: Literal["waiting", "booked", "removed", ""] = "waiting"
    service: int | None = None


class ArriveIn(Schema):
    seen_late: bool = Field(False, description="Let the doctor see a patient late enough to reschedule.")


class ArrivalOut(Schema):
    arrived_at: datetime
    late_minutes: int
    lateness: str
    doctor_notified: bool
    seen_late: bool


class PromptLinkOut(Schema):
    label: str
    url: str


class PromptOut(Schema):
    code: str
    text: str
    items: list[str]
    links: list[PromptLinkOut]


class SlotOut(Schema):
    start: datetime
    end: datetime
    practitioner: int
    location: int


class ArriveOut(Schema):
    appointment: AppointmentOut
    arrival: ArrivalOut
    prompts: list[PromptOut]
    suggestions: list[SlotOut]


class NextVisitIn(Schema):
    start: AwareDatetime


# --- serialisers --------------------------------------------------------------------------------------------------


def _attempt_out(a: Any) -> dict[str, Any]:
    return {
        "id": a.pk,
        "at": a.at,
        "outcome": a.outcome,
        "follow_up": a.follow_up,
        "callback_at": a.callback_at,
        "note": a.note,
        "operator": str(a.operator) if a.operator_id else "",
    }


def item_out(item: WorklistItem) -> dict[str, Any]:
    a, o = item.appointment, item.offer
    return {
        "id": item.pk,
        "kind": item.kind,
        "day": item.day,
        "state": item.state,
        "outcome": item.outcome,
        "follow_up": item.follow_up,
        "attempts": item.attempts,
        "next_call_at": item.next_call_at,
        "last_attempt_at": item.last_attempt_at,
        "note": item.note,
        "patient": {"id": item.patient_id, "name": str(item.patient), "phone": item.patient.phone},
        "appointment": None
        if a is None
        else {
            "id": a.pk,
            "start": a.start,
            "end": a.end,
            "status": a.status,
            "service": a.service_id,
            "service_name": a.service.display_name(),
            "practitioner": a.practitioner_id,
            "practitioner_name": str(a.practitioner.user),
            "location": a.location_id,
        },
        "offer": None
        if o is None
        else {
            "id": o.pk,
            "state": o.state,
            "start": o.start,
            "end": o.end,
            "expires_at": o.expires_at,
            "service": o.service_id,
            "service_name": o.service.display_name(),
            "practitioner": o.practitioner_id,
            "practitioner_name": str(o.practitioner.user),
            "location": o.location_id,
        },
        "waitlist_entry": item.waitlist_entry_id,
        "recall_rule": item.recall_rule.name if item.recall_rule else "",
        "call_attempts": [_attempt_out(x) for x in item.call_attempts.all()],
    }


def entry_out(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "patient": entry.patient_id,
        "patient_name": str(entry.patient),
        "service": entry.service_id,
        "service_name": entry.service.display_name(),
        "practitioners": sorted(m.pk for m in entry.practitioners.all()),
        "location": entry.location_id,
        "date_from": entry.date_from,
        "date_to": entry.date_to,
        "weekdays": entry.weekdays,
        "time_from": entry.time_from,
        "time_to": entry.time_to,
        "note": entry.note,
        "callback_date": entry.callback_date,
        "state": entry.state,
        "appointment": entry.appointment_id,
        "created_at": entry.created_at,
    }


def _slot_out(slot: Any) -> dict[str, Any]:
    return {"start": slot.start, "end": slot.end, "practitioner": slot.practitioner_id, "location": slot.location_id}


# --- endpoints ----------------------------------------------------------------------------------------------------


@router.get(
    "/worklists/{kind}",
    response=list[WorklistItemOut],
    summary="The calls of a worklist for a day",
    description="`confirmations`: the day's calls about the next day's visits; `waitlist`: freed times offered and "
    "call-backs (with earlier open ones); `recall`: the recall diary (with earlier open ones). Administrators, "
    "registrars and operators; doctors and coordinators read.",
)
def frontdesk_worklist(request: HttpRequest, kind: KindPath, filters: Query[WorklistFilter]) -> Any:
    organisation = _organisation(request)
    day = filters.date or organisation_today(organisation.pk)
    return [item_out(i) for i in selectors.worklist(user=request.user, organisation=organisation, kind=kind, day=day)]


@router.post(
    "/worklists/{kind}/generate",
    response=GenerateOut,
    summary="Bring a worklist up to date now (idempotent)",
    description="The clock does this every quarter of an hour; generating twice adds nothing twice.",
)
def frontdesk_worklist_generate(request: HttpRequest, kind: KindPath, filters: Query[WorklistFilter]) -> Any:
    organisation = _organisation(request)
    day = filters.date or organisation_today(organisation.pk)
    result = worklists.worklist_generate(actor=request.user, organisation=organisation, kind=kind, day=day)
    return {"created": result.created, "closed": result.closed}


@router.post(
    "/worklist-items/{item_id}/attempts",
    response={201: AttemptResultOut, 409: ProblemOut},
    summary="Log a call and its outcome",
    description="422 `item_closed` when the call is already closed. 409 `slot_taken` when the patient accepted a "
    "freed time that someone else took first (the outcome is kept, the patient stays on the waiting list). Send an "
    "`Idempotency-Key` header to make retries safe.",
)
def frontdesk_attempt(request: HttpRequest, item_id: int, payload: AttemptIn) -> Any:
    organisation = _organisation(request)

    def log() -> tuple[int, dict[str, Any]]:
        item = selectors.worklist_item_get(user=request.user, organisation=organisation, item_id=item_id)
        result = worklists.attempt_record(
            actor=request.user,
            item=item,
            data=worklists.AttemptInput(
                outcome=payload.outcome,
                note=payload.note,
                callback_at=payload.callback_at,
                follow_up=payload.follow_up,
                cancel_reason_id=payload.cancel_reason,
                new_start=payload.new_start,
                practitioner_id=payload.practitioner,
                refusal_reason_id=payload.refusal_reason,
                callback_date=payload.callback_date,
            ),
        )
        if result.error is not None:
            return _problem(request, result.error)
        fresh = selectors.worklist_item_get(user=request.user, organisation=organisation, item_id=item_id)
        body = AttemptResultOut.model_validate(
            {
                "attempt": _attempt_out(result.attempt),
                "item": item_out(fresh),
                "appointment": result.appointment.pk if result.appointment else None,
                "messages": result.messages,
            }
        ).model_dump(mode="json")
        return 201, body

    return _respond(*run_once(request, f"frontdesk.attempt:{item_id}", log))


@router.get("/waitlist", response=list[WaitlistEntryOut], summary="The waiting list")
def frontdesk_waitlist(request: HttpRequest, filters: Query[WaitlistFilter]) -> Any:
    entries = selectors.waitlist_entries(
        user=request.user, organisation=_organisation(request), state=filters.state, service_id=filters.service
    )
    return [entry_out(e) for e in entries]


@router.post(
    "/waitlist",
    response={201: WaitlistEntryOut},
    summary="Put a patient on the waiting list",
    description="Freed times that suit the entry are offered to it (worklist, and by SMS/push with a booking link "
    "when the clinic wants it). Administrators, registrars and operators.",
)
def frontdesk_waitlist_add(request: HttpRequest, payload: WaitlistIn) -> Any:
    organisation = _organisation(request)
    try:
        patient = patient_get(user=request.user, patient_id=payload.patient, organisation=organisation)
    except NotFound as exc:
        raise Invalid(errors={"patient": [_("Unknown patient.")]}) from exc
    service = Service.objects.filter(pk=payload.service, organisation=organisation).first()
    if service is None:
        raise Invalid(errors={"service": [_("Unknown service.")]})
    doctors = list(Member.objects.filter(pk__in=payload.practitioners, organisation=organisation))
    if len(doctors) != len(set(payload.practitioners)):
        raise Invalid(errors={"practitioners": [_("Unknown doctor.")]})
    location = None
    if payload.location is not None:
        location = Location.objects.filter(pk=payload.location, organisation=organisation).first()
        if location is None:
            raise Invalid(errors={"location": [_("Unknown location.")]})
    entry = waitlist.waitlist_add(
        actor=request.user,
        patient=patient,
        service=service,
        practitioners=doctors,
        location=location,
        date_from=payload.date_from,
        date_to=payload.date_to,
        weekdays=payload.weekdays,
        time_from=payload.time_from,
        time_to=payload.time_to,
        note=payload.note,
        callback_date=payload.callback_date,
    )
    fresh = selectors.waitlist_entry_get(user=request.user, organisation=organisation, entry_id=entry.pk)
    return Status(201, entry_out(fresh))


@router.post(
    "/appointments/{appointment_id}/arrive",
    response=ArriveOut,
    summary="Mark the patient arrived (lateness and prompts)",
    description="Records the arrival time. Late (the clinic's thresholds, default under 15 minutes): the visit "
    "becomes `arrived` and the doctor is told in the app. Later: the visit stays, `prompts` holds `reschedule` and "
    "`suggestions` the first free times; send `seen_late: true` to let the doctor see the patient anyway. Prompts "
    "also ask to re-check personal data (`recheck_details`, last visit long ago), list missing mandatory documents "
    "(`missing_documents`: none or expired, with links to fill in the template or upload the signed scan) and those "
    "made but not signed yet (`missing_signatures`: links to sign that document on the screen or upload the signed "
    "scan). Repeating the call answers with the first arrival; send an `Idempotency-Key` header to make retries "
    "safe.",
)
def frontdesk_arrive(request: HttpRequest, appointment_id: int, payload: ArriveIn) -> Any:
    def arrive() -> tuple[int, dict[str, Any]]:
        appointment = scheduling_selectors.appointment_get(
            user=request.user, organisation=None, appointment_id=appointment_id
        )
        result = arrivals.appointment_arrive(actor=request.user, appointment=appointment, seen_late=payload.seen_late)
        fresh = scheduling_selectors.appointment_get(
            user=request.user, organisation=None, appointment_id=appointment_id
        )
        arrival = result.arrival
        body = ArriveOut.model_validate(
            {
                "appointment": appointment_out(fresh),
                "arrival": {
                    "arrived_at": arrival.arrived_at,
                    "late_minutes": arrival.late_minutes,
                    "lateness": arrival.lateness,
                    "doctor_notified": arrival.doctor_notified,
                    "seen_late": arrival.seen_late,
                },
                "prompts": [
                    {
                        "code": p.code,
                        "text": p.text,
                        "items": p.items,
                        "links": [{"label": link.label, "url": link.url} for link in p.links],
                    }
                    for p in result.prompts
                ],
                "suggestions": [_slot_out(s) for s in result.suggestions],
            }
        ).model_dump(mode="json")
        return 200, body

    return _respond(*run_once(request, f"frontdesk.arrive:{appointment_id}", arrive))


@router.get(
    "/appointments/{appointment_id}/next-visit-slots",
    response=list[SlotOut],
    summary="First free times for the next visit (same doctor and service)",
)
def frontdesk_next_visit_slots(request: HttpRequest, appointment_id: int, weeks: int | None = None) -> Any:
    appointment = scheduling_selectors.appointment_get(
        user=request.user, organisation=None, appointment_id=appointment_id
    )
    return [_slot_out(s) for s in next_visit.next_visit_slots(user=request.user, appointment=appointment, weeks=weeks)]


@router.post(
    "/appointments/{appointment_id}/next-visit",
    response={201: AppointmentOut},
    summary="Book the next visit (same patient, doctor and service)",
)
def frontdesk_next_visit_book(request: HttpRequest, appointment_id: int, payload: NextVisitIn) -> Any:
    appointment = scheduling_selectors.appointment_get(
        user=request.user, organisation=None, appointment_id=appointment_id
    )

    def book() -> tuple[int, dict[str, Any]]:
        booked = next_visit.next_visit_book(actor=request.user, appointment=appointment, start=payload.start)
        fresh = scheduling_selectors.appointment_get(user=request.user, organisation=None, appointment_id=booked.pk)
        return 201, AppointmentOut.model_validate(appointment_out(fresh)).model_dump(mode="json")

    return _respond(*run_once(request, f"frontdesk.next_visit:{appointment_id}", book))
