"""Calendar and booking API: locations, practitioners, services, reasons, slots, appointments."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.responses import NinjaJSONEncoder
from pydantic import AwareDatetime, Field

from kabinet.accounts.models import User
from kabinet.core import tenancy
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.core.idempotency import run_once
from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import patient_get
from kabinet.scheduling import selectors, services
from kabinet.scheduling.availability import Slot
from kabinet.scheduling.models import Appointment, Service, Shift, ShiftTemplate, TimeOff

router = Router(tags=["calendar"])


def _organisation(request: HttpRequest) -> Organisation:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    return organisation


class LocationOut(Schema):
    id: int
    name: str
    address: str
    time_zone: str


class PractitionerOut(Schema):
    id: int
    name: str
    title: str
    specialties: list[str]
    locations: list[int]
    services: list[int]


class ServiceOut(Schema):
    id: int
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    grid_minutes: int
    price: Decimal
    colour: str
    online_bookable: bool
    is_video: bool = Field(..., description="A video consultation: the visit happens by video call")
    practitioners: list[int]


class ReasonOut(Schema):
    id: int
    kind: str
    name: str


class SlotOut(Schema):
    start: datetime
    end: datetime
    practitioner: int
    location: int


class SlotFilter(Schema):
    service: int
    start: date
    end: date
    practitioner: int | None = None
    location: int | None = None


class AppointmentIn(Schema):
    patient: int
    practitioner: int
    service: int
    start: AwareDatetime
    location: int | None = None
    note: str = Field("", max_length=5000)
    overbook: bool = False


class AppointmentPatch(Schema):
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    practitioner: int | None = None
    location: int | None = None
    note: str | None = Field(None, max_length=5000)


class StatusIn(Schema):
    status: Appointment.Status
    reason: int | None = None
    reason_note: str = Field("", max_length=500)


class CancelIn(Schema):
    reason: int
    note: str = Field("", max_length=500)


class AppointmentOut(Schema):
    id: int
    status: str
    start: datetime
    end: datetime
    practitioner: int
    practitioner_name: str
    service: int
    service_name: str
    patient: int
    patient_name: str
    location: int
    room: int | None
    note: str
    is_overbooked: bool
    source: str
    reason: int | None
    reason_note: str
    colour: str
    is_video: bool = Field(..., description="The visit's service is a video consultation")


class AppointmentFilterIn(Schema):
    start: AwareDatetime
    end: AwareDatetime
    practitioner: int | None = None
    location: int | None = None
    status: Appointment.Status | None = None
    service: int | None = None


def appointment_out(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "status": a.status,
        "start": a.start,
        "end": a.end,
        "practitioner": a.practitioner_id,
        "practitioner_name": str(a.practitioner.user),
        "service": a.service_id,
        "service_name": a.service.display_name(),
        "patient": a.patient_id,
        "patient_name": str(a.patient),
        "location": a.location_id,
        "room": a.room_id,
        "note": a.note,
        "is_overbooked": a.is_overbooked,
        "source": a.source,
        "reason": a.reason_id,
        "reason_note": a.reason_note,
        "colour": a.service.colour,
        "is_video": a.service.is_video,
    }


@router.get("/locations", response=list[LocationOut], summary="Locations of the caller's clinic")
def list_locations(request: HttpRequest) -> Any:
    return selectors.locations_for(organisation=_organisation(request))


@router.get("/practitioners", response=list[PractitionerOut], summary="Doctors of the caller's clinic")
def list_practitioners(request: HttpRequest, location: int | None = None, service: int | None = None) -> Any:
    members = selectors.practitioners_for(organisation=_organisation(request), location_id=location, service_id=service)
    return [
        {
            "id": m.pk,
            "name": str(m.user),
            "title": m.title,
            "specialties": [s.name for s in m.specialties.all()],
            "locations": [loc.pk for loc in m.locations.all()],
            "services": [s.pk for s in m.services.all()],
        }
        for m in members
    ]


@router.get("/services", response=list[ServiceOut], summary="Services (patients see online-bookable ones)")
def list_services(request: HttpRequest) -> Any:
    return [
        {
            **{f: getattr(s, f) for f in ServiceOut.model_fields if f not in ("name", "practitioners")},
            "name": s.display_name(),
            "practitioners": [m.pk for m in s.practitioners.all()],
        }
        for s in selectors.services_for(user=request.user, organisation=_organisation(request))
    ]


@router.get("/reasons", response=list[ReasonOut], summary="Cancellation and no-show reasons")
def list_reasons(request: HttpRequest, kind: str | None = None) -> Any:
    return [
        {"id": r.pk, "kind": r.kind, "name": r.display_name()}
        for r in selectors.reasons_for(organisation=_organisation(request), kind=kind)
    ]


@router.get("/slots", response=list[SlotOut], summary="Free slots for a service")
def list_slots(request: HttpRequest, filters: Query[SlotFilter]) -> Any:
    query = selectors.SlotQuery(
        service_id=filters.service,
        start=filters.start,
        end=filters.end,
        practitioner_id=filters.practitioner,
        location_id=filters.location,
    )
    slots = selectors.slots_for(user=request.user, organisation=_organisation(request), query=query)
    return HttpResponse(slots_json(slots), content_type="application/json")


_SLOT_JSON = '{"start":"%s","end":"%s","practitioner":%d,"location":%d}'


def slots_json(slots: list[Slot]) -> str:
    """`slots` as the JSON of list[SlotOut], written directly.

    A month for ten doctors is ~5,000 slots: validating a SlotOut for each, or json.dumps of dicts with an isoformat()
    per datetime, took longer than finding the slots. Slots share their moments (every doctor has the same grid,
    one slot's end is the next one's start), so each moment is formatted once; ISO datetimes and integers need no
    JSON escaping.
    """
    iso: dict[datetime, str] = {}
    for slot in slots:
        if slot.start not in iso:
            iso[slot.start] = slot.start.isoformat()
        if slot.end not in iso:
            iso[slot.end] = slot.end.isoformat()
    rows = [_SLOT_JSON % (iso[start], iso[end], practitioner, location) for start, end, practitioner, location in slots]
    return "[" + ",".join(rows) + "]"


def _member(organisation: Organisation, member_id: int, field: str) -> Member:
    member = Member.objects.filter(pk=member_id, organisation=organisation).first()
    if member is None:
        raise Invalid(errors={field: [_("Unknown doctor.")]})
    return member


def _location(organisation: Organisation, location_id: int) -> Location:
    location = Location.objects.filter(pk=location_id, organisation=organisation).first()
    if location is None:
        raise Invalid(errors={"location": [_("Unknown location.")]})
    return location


@router.post(
    "/appointments",
    response={201: AppointmentOut},
    summary="Book an appointment",
    description="Send an `Idempotency-Key` header to make retries safe: a repeat returns the first result. "
    "409 `slot_taken` when the time is no longer free.",
)
def create_appointment(request: HttpRequest, payload: AppointmentIn) -> Any:
    organisation = _organisation(request)

    def book() -> tuple[int, dict[str, Any]]:
        service = Service.objects.filter(pk=payload.service, organisation=organisation).first()
        if service is None:
            raise Invalid(errors={"service": [_("Unknown service.")]})
        try:
            patient = patient_get(user=request.user, patient_id=payload.patient, organisation=organisation)
        except Exception as exc:
            raise Invalid(errors={"patient": [_("Unknown patient.")]}) from exc
        appointment = services.appointment_book(
            actor=request.user,
            patient=patient,
            practitioner=_member(organisation, payload.practitioner, "practitioner"),
            service=service,
            start=payload.start,
            location=_location(organisation, payload.location) if payload.location else None,
            note=payload.note,
            overbook=payload.overbook,
            source=Appointment.Source.API,
        )
        body = AppointmentOut.model_validate(appointment_out(appointment)).model_dump(mode="json")
        return 201, body

    status, body = run_once(request, "appointments.create", book)
    return Status(status, body)


@router.get("/appointments", response=list[AppointmentOut], summary="Appointments in a period")
def list_appointments(request: HttpRequest, filters: Query[AppointmentFilterIn]) -> Any:
    flt = selectors.AppointmentFilter(
        start=filters.start,
        end=filters.end,
        practitioner_id=filters.practitioner,
        location_id=filters.location,
        status=filters.status,
        service_id=filters.service,
    )
    appointments = selectors.appointments_list(user=request.user, organisation=_organisation(request), filters=flt)
    return HttpResponse(
        json.dumps(appointment_rows(appointments), cls=NinjaJSONEncoder), content_type="application/json; charset=utf-8"
    )


def appointment_rows(appointments: QuerySet[Appointment]) -> list[dict[str, Any]]:
    """`appointment_out` of each appointment, read as plain columns, and already valid AppointmentOut data.

    A calendar day of a busy clinic is ~100 visits; building each one's appointment, doctor, doctor's user, service
    and patient instances (with every column of them, password hashes included) and then validating the dicts again
    took three quarters of the request. The JSON is what the response schema would give (NinjaJSONEncoder)."""
    name_column = Service.name_column()
    columns = [
        "id",
        "status",
        "start",
        "end",
        "practitioner_id",
        "practitioner__user_id",
        "practitioner__user__full_name",
        "practitioner__user__email",
        "practitioner__user__phone",
        "service_id",
        "service__name",
        f"service__{name_column}" if name_column else "service__name",
        "service__colour",
        "service__is_video",
        "patient_id",
        "patient__family_name",
        "patient__given_name",
        "patient__middle_name",
        "location_id",
        "room_id",
        "note",
        "is_overbooked",
        "source",
        "reason_id",
        "reason_note",
    ]
    return [
        {
            "id": pk,
            "status": status,
            "start": start,
            "end": end,
            "practitioner": practitioner,
            "practitioner_name": User.label_of(user_id, full_name, email, phone),
            "service": service,
            "service_name": translated or name,
            "patient": patient,
            "patient_name": Patient.name_of(family, given, middle),
            "location": location,
            "room": room,
            "note": note,
            "is_overbooked": overbooked,
            "source": source,
            "reason": reason,
            "reason_note": reason_note,
            "colour": colour,
            "is_video": is_video,
        }
        for (
            pk,
            status,
            start,
            end,
            practitioner,
            user_id,
            full_name,
            email,
            phone,
            service,
            name,
            translated,
            colour,
            is_video,
            patient,
            family,
            given,
            middle,
            location,
            room,
            note,
            overbooked,
            source,
            reason,
            reason_note,
        ) in appointments.values_list(*columns)
    ]


@router.get("/appointments/{appointment_id}", response=AppointmentOut, summary="One appointment")
def get_appointment(request: HttpRequest, appointment_id: int) -> Any:
    return appointment_out(
        selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment_id)
    )


@router.patch("/appointments/{appointment_id}", response=AppointmentOut, summary="Move, resize or edit the note")
def patch_appointment(request: HttpRequest, appointment_id: int, payload: AppointmentPatch) -> Any:
    appointment = selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment_id)
    organisation = appointment.organisation
    if any(v is not None for v in (payload.start, payload.end, payload.practitioner, payload.location)):
        appointment = services.appointment_move(
            actor=request.user,
            appointment=appointment,
            start=payload.start,
            end=payload.end,
            practitioner=_member(organisation, payload.practitioner, "practitioner") if payload.practitioner else None,
            location=_location(organisation, payload.location) if payload.location else None,
        )
    if payload.note is not None:
        appointment = services.appointment_update_note(actor=request.user, appointment=appointment, note=payload.note)
    return appointment_out(
        selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment.pk)
    )


@router.post("/appointments/{appointment_id}/status", response=AppointmentOut, summary="Change the status")
def set_status(request: HttpRequest, appointment_id: int, payload: StatusIn) -> Any:
    appointment = selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment_id)
    services.appointment_set_status(
        actor=request.user,
        appointment=appointment,
        status=payload.status,
        reason_id=payload.reason,
        reason_note=payload.reason_note,
    )
    return appointment_out(
        selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment_id)
    )


@router.post("/appointments/{appointment_id}/cancel", response=AppointmentOut, summary="Cancel with a reason")
def cancel(request: HttpRequest, appointment_id: int, payload: CancelIn) -> Any:
    appointment = selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment_id)
    services.appointment_cancel(
        actor=request.user, appointment=appointment, reason_id=payload.reason, note=payload.note
    )
    return appointment_out(
        selectors.appointment_get(user=request.user, organisation=None, appointment_id=appointment_id)
    )


class BreakOut(Schema):
    start: datetime
    end: datetime


class ShiftOut(Schema):
    id: int
    practitioner: int
    location: int
    start: datetime
    end: datetime
    breaks: list[BreakOut]


class ShiftFilterIn(Schema):
    start: AwareDatetime
    end: AwareDatetime
    location: int | None = None
    practitioner: int | None = None


@router.get("/shifts", response=list[ShiftOut], summary="Working hours and breaks in a period (staff)")
def list_shifts(request: HttpRequest, filters: Query[ShiftFilterIn]) -> Any:
    flt = selectors.ShiftFilter(
        start=filters.start, end=filters.end, location_id=filters.location, practitioner_id=filters.practitioner
    )
    return [
        {
            "id": s.pk,
            "practitioner": s.practitioner_id,
            "location": s.location_id,
            "start": s.start,
            "end": s.end,
            "breaks": [{"start": b.start, "end": b.end} for b in s.breaks.all()],
        }
        for s in selectors.shifts_list(user=request.user, organisation=_organisation(request), filters=flt)
    ]


# --- schedules: the month grid's changes, time off and hour norms (/schedule/…) ------------------------------------


class ScheduleApplyIn(Schema):
    location: int
    practitioners: list[int] = Field(..., min_length=1, max_length=200)
    days: list[date] = Field(..., min_length=1, max_length=62)
    template: int | None = Field(None, description="A shift template; or give start_time, end_time and breaks.")
    start_time: time | None = None
    end_time: time | None = None
    breaks: list[tuple[time, time]] = Field(default_factory=list, max_length=10)
    on_conflict: Literal["refuse", "keep"] = Field(
        "refuse",
        description="`refuse`: change nothing when booked appointments would fall outside working time (409). "
        "`keep`: leave those days as they are and change the others.",
    )


class ScheduleBreakOut(Schema):
    start: datetime
    end: datetime


class ScheduleShiftOut(Schema):
    id: int
    practitioner: int
    location: int
    start: datetime
    end: datetime
    template: int | None
    breaks: list[ScheduleBreakOut]


class KeptCellOut(Schema):
    practitioner: int
    day: date


class ScheduleChangeOut(Schema):
    created: list[ScheduleShiftOut]
    removed: int
    kept: list[KeptCellOut]


class ConflictingAppointmentOut(Schema):
    id: int
    start: datetime
    end: datetime
    practitioner: int
    patient: int
    patient_name: str
    service: int
    service_name: str


class ScheduleConflictOut(Schema):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    appointments: list[ConflictingAppointmentOut]


class TimeOffIn(Schema):
    practitioner: int
    start: AwareDatetime
    end: AwareDatetime
    kind: TimeOff.Kind = TimeOff.Kind.VACATION


class TimeOffOut(Schema):
    id: int
    practitioner: int
    start: datetime
    end: datetime
    kind: str


# Month arithmetic (carry-over from the previous month) leaves the calendar at year 1 or 9999: such months get a 422.
FIRST_MONTH, LAST_MONTH = date(1900, 1, 1), date(2999, 12, 31)


class NormFilterIn(Schema):
    month: date = Field(..., description="Any day of the month.", ge=FIRST_MONTH, le=LAST_MONTH)
    practitioner: int | None = None


class NormIn(Schema):
    practitioner: int
    month: date = Field(..., description="Any day of the month.", ge=FIRST_MONTH, le=LAST_MONTH)
    norm_minutes: int | None = Field(None, ge=0, le=31 * 24 * 60, description="null clears the month's norm.")


class NormOut(Schema):
    practitioner: int
    month: date
    norm_minutes: int | None
    planned_minutes: int
    worked_minutes: int
    carry_in_minutes: int
    balance_minutes: int | None


def _schedule_conflict(request: HttpRequest, exc: services.ScheduleConflict) -> HttpResponse:
    """409 problem+json listing the appointments that would be left outside working time."""
    body = {
        "type": f"https://kabinet.dev/problems/{exc.code}",
        "title": "Conflict",
        "status": 409,
        "detail": str(exc.message),
        "code": exc.code,
        "instance": request.path,
        "appointments": [
            {
                "id": a.pk,
                "start": a.start,
                "end": a.end,
                "practitioner": a.practitioner_id,
                "patient": a.patient_id,
                "patient_name": str(a.patient),
                "service": a.service_id,
                "service_name": a.service.display_name(),
            }
            for a in exc.appointments
        ],
    }
    return JsonResponse(body, status=409, content_type="application/problem+json")


def _schedule_shift_out(shift: Shift) -> dict[str, Any]:
    return {
        "id": shift.pk,
        "practitioner": shift.practitioner_id,
        "location": shift.location_id,
        "start": shift.start,
        "end": shift.end,
        "template": shift.template_id,
        "breaks": [{"start": b.start, "end": b.end} for b in shift.breaks.all()],
    }


def _norm_out(summary: selectors.NormSummary) -> dict[str, Any]:
    return {
        "practitioner": summary.practitioner_id,
        "month": summary.month,
        "norm_minutes": summary.norm_minutes,
        "planned_minutes": summary.planned_minutes,
        "worked_minutes": summary.worked_minutes,
        "carry_in_minutes": summary.carry_in_minutes,
        "balance_minutes": summary.balance_minutes,
    }


@router.post(
    "/schedule/shifts",
    response={201: ScheduleChangeOut, 409: ScheduleConflictOut},
    summary="Give doctors a shift on some days (template or custom hours)",
    description="Each doctor gets exactly this shift on each day at the location, replacing that day's shifts "
    "there. 409 `appointments_outside_working_time` lists booked appointments the change would strand. "
    "Administrators and registrars.",
)
def apply_schedule_shifts(request: HttpRequest, payload: ScheduleApplyIn) -> Any:
    organisation = _organisation(request)
    location = _location(organisation, payload.location)
    members = [_member(organisation, pid, "practitioners") for pid in dict.fromkeys(payload.practitioners)]
    cells = services.cells_of(members, sorted(set(payload.days)))
    try:
        if payload.template is not None:
            template = ShiftTemplate.objects.filter(pk=payload.template, organisation=organisation).first()
            if template is None:
                raise Invalid(errors={"template": [_("Unknown shift template.")]})
            result = services.shifts_apply_template(
                actor=request.user, location=location, cells=cells, template=template, on_conflict=payload.on_conflict
            )
        else:
            if payload.start_time is None or payload.end_time is None:
                raise Invalid(errors={"start_time": [_("Give a template, or start_time and end_time.")]})
            pattern = services.ShiftPattern(
                start_time=payload.start_time, end_time=payload.end_time, breaks=tuple(payload.breaks)
            )
            result = services.shifts_apply(
                actor=request.user, location=location, cells=cells, pattern=pattern, on_conflict=payload.on_conflict
            )
    except services.ScheduleConflict as exc:
        return _schedule_conflict(request, exc)
    created = Shift.objects.filter(pk__in=[s.pk for s in result.created]).prefetch_related("breaks")
    return Status(
        201,
        {
            "created": [_schedule_shift_out(s) for s in created],
            "removed": result.removed,
            "kept": [{"practitioner": pid, "day": day} for pid, day in result.kept],
        },
    )


@router.delete(
    "/schedule/shifts/{shift_id}",
    response={204: None, 409: ScheduleConflictOut},
    summary="Remove a shift",
    description="409 `appointments_outside_working_time` while booked appointments lie in it.",
)
def delete_schedule_shift(request: HttpRequest, shift_id: int) -> Any:
    shift = selectors.shift_get(user=request.user, organisation=_organisation(request), shift_id=shift_id)
    try:
        services.shift_delete(actor=request.user, shift=shift)
    except services.ScheduleConflict as exc:
        return _schedule_conflict(request, exc)
    return Status(204, None)


@router.post(
    "/schedule/time-off",
    response={201: TimeOffOut, 409: ScheduleConflictOut},
    summary="Mark a doctor away (vacation, sick leave, other)",
    description="409 `appointments_outside_working_time` while the doctor has booked appointments then.",
)
def add_time_off(request: HttpRequest, payload: TimeOffIn) -> Any:
    organisation = _organisation(request)
    try:
        off = services.time_off_add(
            actor=request.user,
            practitioner=_member(organisation, payload.practitioner, "practitioner"),
            start=payload.start,
            end=payload.end,
            kind=payload.kind,
        )
    except services.ScheduleConflict as exc:
        return _schedule_conflict(request, exc)
    return Status(
        201, {"id": off.pk, "practitioner": off.practitioner_id, "start": off.start, "end": off.end, "kind": off.kind}
    )


@router.get("/schedule/norms", response=list[NormOut], summary="Monthly hour norms with planned, worked and balance")
def list_norms(request: HttpRequest, filters: Query[NormFilterIn]) -> Any:
    organisation = _organisation(request)
    ids = None if filters.practitioner is None else [_member(organisation, filters.practitioner, "practitioner").pk]
    summaries = selectors.hour_norms(
        user=request.user, organisation=organisation, month=filters.month, practitioner_ids=ids
    )
    return [_norm_out(s) for s in summaries.values()]


@router.post("/schedule/norms", response=NormOut, summary="Set a doctor's hour norm for a month (administrators)")
def set_norm(request: HttpRequest, payload: NormIn) -> Any:
    organisation = _organisation(request)
    member = _member(organisation, payload.practitioner, "practitioner")
    services.hour_norm_set(
        actor=request.user, practitioner=member, month=payload.month, norm_minutes=payload.norm_minutes
    )
    summaries = selectors.hour_norms(
        user=request.user, organisation=organisation, month=payload.month, practitioner_ids=[member.pk]
    )
    return _norm_out(summaries[member.pk])
