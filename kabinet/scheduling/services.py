"""Appointment use cases (book, move/resize, change status, cancel, note) and schedule use cases (shifts on the
month grid, time off, hour norms, calendar feeds). Each is one transaction, checked, audited, and announced to open
calendars after commit.

No double booking: the overlap re-check runs inside the write transaction (on SQLite that transaction is
BEGIN IMMEDIATE, so writers queue), and on PostgreSQL exclusion constraints over (practitioner, busy range) and
(room, busy range) refuse the loser of any race; both end as SlotTaken (409 `slot_taken`).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, override

from kabinet.audit.services import record, snapshot
from kabinet.core import permissions, realtime
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids
from kabinet.scheduling import hooks, notices
from kabinet.scheduling.availability import SlotTaken, check_start
from kabinet.scheduling.models import (
    Appointment,
    BookingPolicy,
    CalendarFeed,
    HourNorm,
    Reason,
    Service,
    Shift,
    ShiftBreak,
    ShiftTemplate,
    TimeOff,
    first_of_month,
)

Status = Appointment.Status
BOOKING_ROLES = (Role.ADMIN, Role.REGISTRAR, Role.OPERATOR, Role.COORDINATOR, Role.DOCTOR, Role.NURSE)
OVERBOOK_ROLES = (Role.ADMIN, Role.REGISTRAR)
AUDIT_FIELDS = [
    "start",
    "end",
    "status",
    "practitioner",
    "location",
    "service",
    "room",
    "is_overbooked",
    "note",
    "reason",
    "reason_note",
]

# Which status may follow which. Re-activating (no-show -> arrived) re-checks the time is still free.
TRANSITIONS: dict[str, set[str]] = {
    Status.PENDING: {Status.SCHEDULED, Status.CONFIRMED, Status.CANCELLED},
    Status.SCHEDULED: {Status.CONFIRMED, Status.ARRIVED, Status.NO_SHOW, Status.CANCELLED},
    Status.CONFIRMED: {Status.SCHEDULED, Status.ARRIVED, Status.NO_SHOW, Status.CANCELLED},
    Status.ARRIVED: {Status.COMPLETED, Status.CONFIRMED},
    Status.NO_SHOW: {Status.ARRIVED},
    Status.COMPLETED: set(),
    Status.CANCELLED: set(),
}
NEEDS_REASON: dict[str, str] = {Status.CANCELLED: Reason.Kind.CANCEL, Status.NO_SHOW: Reason.Kind.NO_SHOW}


def calendar_group(location_id: int) -> str:
    return f"calendar.{location_id}"


def booking_policy(organisation_id: int) -> BookingPolicy:
    policy, _created = BookingPolicy.objects.get_or_create(organisation_id=organisation_id)
    return policy


def _announce(appointment: Appointment, action: str) -> None:
    """Tell open calendars of the location; no personal data travels: pages fetch details through the API."""
    realtime.publish(
        calendar_group(appointment.location_id),
        "appointment.changed",
        {
            "action": action,
            "id": appointment.pk,
            "location": appointment.location_id,
            "practitioner": appointment.practitioner_id,
            "start": appointment.start.isoformat(),
            "end": appointment.end.isoformat(),
            "status": appointment.status,
        },
    )


def _is_staff_booker(actor: Any, organisation_id: int) -> bool:
    return permissions.has_role(actor, organisation_id, *BOOKING_ROLES)


def _require_access(actor: Any, appointment: Appointment) -> bool:
    """True for staff who may manage the appointment; False for the patient (or proxy); else NotAllowed."""
    if _is_staff_booker(actor, appointment.organisation_id):
        return True
    if appointment.patient_id in own_patient_ids(actor):
        return False
    raise NotAllowed()


def _require_patient_change_allowed(appointment: Appointment, now: datetime) -> None:
    policy = booking_policy(appointment.organisation_id)
    if appointment.start - now < timedelta(hours=policy.change_cutoff_hours):
        raise NotAllowed(
            ngettext(
                "Changes online are possible until %(hours)s hour before the visit. Please call the clinic.",
                "Changes online are possible until %(hours)s hours before the visit. Please call the clinic.",
                policy.change_cutoff_hours,
            )
            % {"hours": policy.change_cutoff_hours},
            code="change_cutoff",
        )


def _save_new(appointment: Appointment) -> None:
    # PostgreSQL's exclusion constraint is the last word on overlaps: a savepoint lets its error become SlotTaken
    # with the caller's transaction still usable. SQLite has no such constraint (the IMMEDIATE transaction and the
    # re-check decide), so it skips the savepoint's two statements inside the write lock.
    try:
        with transaction.atomic(savepoint=connection.vendor != "sqlite"):
            appointment.save()
    except IntegrityError as exc:
        if "no_overlap" in str(exc):
            raise SlotTaken() from exc
        raise


def _validate_booking_target(service: Service, practitioner: Member, location: Location) -> None:
    org_id = service.organisation_id
    if not service.is_active:
        raise Invalid(errors={"service": [_("This service is not offered any more.")]})
    if practitioner.organisation_id != org_id or location.organisation_id != org_id:
        raise Invalid(_("Doctor, service and location must belong to the same clinic."), code="wrong_organisation")
    if not practitioner.is_active or not service.practitioners.filter(pk=practitioner.pk).exists():
        raise Invalid(
            errors={"practitioner": [_("This doctor does not perform this service.")]}, code="service_not_performed"
        )


def appointment_book(
    *,
    actor: Any,
    patient: Patient,
    practitioner: Member,
    service: Service,
    start: datetime,
    location: Location | None = None,
    note: str = "",
    overbook: bool = False,
    source: str = Appointment.Source.STAFF,
    offered: bool = False,
) -> Appointment:
    """Book `patient` with `practitioner` for `service` at `start`.

    Staff with a booking role may book any time that fits the schedule; only administrators and registrars may
    add an explicit extra (overbooked) visit. A patient (or their proxy) books only online-bookable services,
    within the clinic's notice and horizon, and the booking waits for approval when the clinic says so.
    `offered=True`: the patient accepts a time the clinic itself offered (the front desk's waiting list, through a
    signed link), so the clinic's rules apply whoever the actor is, even nobody; only services that have checked
    the offer pass it.
    """
    org_id = service.organisation_id
    now = timezone.now()
    staff = offered or _is_staff_booker(actor, org_id)
    if not staff:
        if patient.pk not in own_patient_ids(actor) or patient.organisation_id != org_id:
            raise NotAllowed()
        if overbook:
            raise NotAllowed()
        if not service.online_bookable:
            raise Invalid(
                errors={"service": [_("This service cannot be booked online. Please call the clinic.")]},
                code="not_online_bookable",
            )
        policy = booking_policy(org_id)
        if start < now + timedelta(minutes=policy.min_notice_minutes):
            raise Invalid(_("This time is too soon to book online. Choose a later slot."), code="too_soon")
        if start > now + timedelta(days=policy.max_days_ahead):
            raise Invalid(_("This time is too far ahead to book online."), code="too_far_ahead")
        source = Appointment.Source.ONLINE
    elif patient.organisation_id != org_id:
        raise Invalid(errors={"patient": [_("This patient belongs to another clinic.")]}, code="wrong_organisation")
    if overbook and not permissions.has_role(actor, org_id, *OVERBOOK_ROLES):
        raise NotAllowed(_("Only administrators and registrars may add extra visits."), code="overbook_forbidden")
    if location is None:
        location = practitioner.locations.filter(is_active=True).order_by("pk").first()
        if location is None:
            raise Invalid(errors={"location": [_("Choose a location.")]})
    _validate_booking_target(service, practitioner, location)
    if start < now:
        raise Invalid(errors={"start": [_("This time is in the past.")]}, code="in_past")

    with transaction.atomic():
        _lock_practitioners(practitioner.pk)
        room_id = check_start(
            service=service, practitioner_id=practitioner.pk, location_id=location.pk, start=start, overbook=overbook
        )
        status = Status.SCHEDULED
        if source == Appointment.Source.ONLINE and booking_policy(org_id).online_requires_approval:
            status = Status.PENDING
        appointment = Appointment(
            organisation_id=org_id,
            location=location,
            practitioner=practitioner,
            patient=patient,
            service=service,
            room_id=room_id,
            start=start,
            end=start + service.duration,
            busy_start=start - service.buffer_before,
            busy_end=start + service.duration + service.buffer_after,
            status=status,
            is_overbooked=overbook,
            source=source,
            note=note.strip(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        _save_new(appointment)
        _timeline(appointment, actor, "booked")
        notices.appointment_notify(appointment, "booked", actor=actor, by_patient=not staff)
        record(
            actor=actor,
            action="appointment.booked",
            obj=appointment,
            patient=patient,
            after=snapshot(appointment, AUDIT_FIELDS),
        )
        _announce(appointment, "booked")
        if not staff:
            _tell_staff(appointment, "booked")
    return appointment


def _lock_practitioners(*practitioner_ids: int) -> None:
    """Queue behind schedule edits and other bookings of the same doctors (PostgreSQL row locks, sorted so two
    writers never wait on each other in a circle). On SQLite the IMMEDIATE transaction already serialises writers."""
    if connection.vendor == "sqlite":
        return
    list(Member.objects.select_for_update().filter(pk__in=sorted(set(practitioner_ids))).values_list("pk", flat=True))


def _locked(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update().select_related("service").get(pk=appointment.pk)


def appointment_move(
    *,
    actor: Any,
    appointment: Appointment,
    start: datetime | None = None,
    end: datetime | None = None,
    practitioner: Member | None = None,
    location: Location | None = None,
) -> Appointment:
    """Move (new start, doctor or location) and/or resize (new end, a multiple of 5 minutes long)."""
    now = timezone.now()
    staff = _require_access(actor, appointment)
    with transaction.atomic():
        current = _locked(appointment)
        if not current.is_active or current.status in (Status.COMPLETED, Status.ARRIVED):
            raise Invalid(_("Only upcoming appointments can be moved."), code="not_movable")
        if not staff:
            _require_patient_change_allowed(current, now)
            if end is not None or (practitioner is not None and practitioner.pk != current.practitioner_id):
                raise NotAllowed()
        before = snapshot(current, AUDIT_FIELDS)
        previous = hooks.previous_of(current)
        new_start = start or current.start
        duration = (end - new_start) if end is not None else (current.end - current.start)
        if duration <= timedelta(0) or duration % timedelta(minutes=5):
            raise Invalid(errors={"end": [_("The length must be a positive multiple of 5 minutes.")]})
        new_practitioner = practitioner or current.practitioner
        new_location = location or current.location
        if new_practitioner.pk != current.practitioner_id or new_location.pk != current.location_id:
            _validate_booking_target(current.service, new_practitioner, new_location)
        if new_start < now:
            raise Invalid(errors={"start": [_("This time is in the past.")]}, code="in_past")
        _lock_practitioners(current.practitioner_id, new_practitioner.pk)
        room_id = check_start(
            service=current.service,
            practitioner_id=new_practitioner.pk,
            location_id=new_location.pk,
            start=new_start,
            duration=duration,
            overbook=current.is_overbooked,
            exclude_appointment_id=current.pk,
        )
        old_location_id, old_start = current.location_id, current.start
        current.start, current.end = new_start, new_start + duration
        current.busy_start = new_start - current.service.buffer_before
        current.busy_end = current.end + current.service.buffer_after
        current.practitioner, current.location, current.room_id = new_practitioner, new_location, room_id
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError as exc:
            if "no_overlap" in str(exc):
                raise SlotTaken() from exc
            raise
        record(
            actor=actor,
            action="appointment.moved",
            obj=current,
            patient=current.patient_id,
            before=before,
            after=snapshot(current, AUDIT_FIELDS),
        )
        _announce(current, "moved")
        _timeline(current, actor, "moved")
        if old_start != current.start:  # a resize or a change of doctor keeps the reminders as they are
            notices.appointment_notify(current, "moved", actor=actor, by_patient=not staff, previous_start=old_start)
        hooks.appointment_changed(current, "moved", actor=actor, previous=previous)
        if old_location_id != current.location_id:
            realtime.publish(
                calendar_group(old_location_id),
                "appointment.changed",
                {"action": "moved_away", "id": current.pk, "location": old_location_id},
            )
        if not staff:
            _tell_staff(current, "moved")
    return current


def _reason_for(organisation_id: int, status: str, reason_id: int | None) -> Reason:
    kind = NEEDS_REASON[status]
    reason = None
    if reason_id is not None:
        reason = Reason.objects.filter(pk=reason_id, organisation_id=organisation_id, kind=kind, is_active=True).first()
    if reason is None:
        raise Invalid(errors={"reason": [_("Choose a reason from the list.")]}, code="reason_required")
    return reason


def appointment_set_status(
    *, actor: Any, appointment: Appointment, status: str, reason_id: int | None = None, reason_note: str = ""
) -> Appointment:
    """Change the status along an allowed transition; cancel and no-show need a reason from the catalogue.
    Patients may only cancel their own upcoming visits, until the clinic's cut-off."""
    now = timezone.now()
    staff = _require_access(actor, appointment)
    if status not in TRANSITIONS:
        raise Invalid(errors={"status": [_("Unknown status.")]})
    with transaction.atomic():
        current = _locked(appointment)
        if not staff:
            if status != Status.CANCELLED:
                raise NotAllowed()
            _require_patient_change_allowed(current, now)
        if status == current.status:
            return current
        if status not in TRANSITIONS[current.status]:
            raise Invalid(
                _("The status cannot change from “%(old)s” to “%(new)s”.")
                % {"old": current.get_status_display(), "new": Status(status).label},
                code="bad_transition",
            )
        before = snapshot(current, AUDIT_FIELDS)
        previous = hooks.previous_of(current)
        if status in NEEDS_REASON:
            current.reason = _reason_for(current.organisation_id, status, reason_id)
            current.reason_note = reason_note.strip()[:500]
        if current.status not in Appointment.ACTIVE_STATUSES and status in Appointment.ACTIVE_STATUSES:
            _lock_practitioners(current.practitioner_id)
            check_start(
                service=current.service,
                practitioner_id=current.practitioner_id,
                location_id=current.location_id,
                start=current.start,
                duration=current.end - current.start,
                overbook=current.is_overbooked,
                exclude_appointment_id=current.pk,
            )
        current.status = status
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError as exc:
            if "no_overlap" in str(exc):
                raise SlotTaken() from exc
            raise
        action = "appointment.cancelled" if status == Status.CANCELLED else "appointment.status_changed"
        record(
            actor=actor,
            action=action,
            obj=current,
            patient=current.patient_id,
            before=before,
            after=snapshot(current, AUDIT_FIELDS),
        )
        _announce(current, status)
        _timeline(current, actor, status)
        notices.appointment_notify(current, status, actor=actor, by_patient=not staff)
        hooks.appointment_changed(current, status, actor=actor, previous=previous)
        if status == Status.CANCELLED and not staff:
            _tell_staff(current, "cancelled")
    return current


def appointment_cancel(*, actor: Any, appointment: Appointment, reason_id: int | None, note: str = "") -> Appointment:
    return appointment_set_status(
        actor=actor, appointment=appointment, status=Status.CANCELLED, reason_id=reason_id, reason_note=note
    )


def appointment_update_note(*, actor: Any, appointment: Appointment, note: str) -> Appointment:
    if not _require_access(actor, appointment):
        raise NotAllowed()
    with transaction.atomic():
        current = _locked(appointment)
        before = snapshot(current, ["note"])
        current.note = note.strip()
        current.save(update_fields=["note", "updated_at"])
        record(
            actor=actor,
            action="appointment.note_changed",
            obj=current,
            patient=current.patient_id,
            before=before,
            after=snapshot(current, ["note"]),
        )
        _announce(current, "note")
    return current


# --- telling the other side -------------------------------------------------------------------------------------
# Patients hear about their visits through the notifications outbox (scheduling/notices.py); the doctor gets a live
# notice when a patient books, moves or cancels online.


def _timeline(appointment: Appointment, actor: Any, what: str) -> None:
    """One line on the patient's timeline, written in the clinic's language, with the time in the location's zone."""
    from django.utils.formats import date_format

    from kabinet.patients.services import timeline_add

    organisation = Organisation.objects.only("default_language").get(pk=appointment.organisation_id)
    with override(organisation.default_language), timezone.override(appointment.location.zone):
        when = date_format(timezone.localtime(appointment.start), "SHORT_DATETIME_FORMAT")
        titles = {
            "booked": _("Visit booked: %(service)s, %(when)s"),
            "moved": _("Visit moved to %(when)s: %(service)s"),
        }
        title = titles.get(what, _("Visit status “%(status)s”: %(service)s, %(when)s")) % {
            "service": appointment.service.display_name(),
            "when": when,
            "status": Status(what).label if what in Status.values else what,
        }
        body = str(appointment.practitioner.user)
        if appointment.reason_id and what in NEEDS_REASON:
            body += f" — {appointment.reason.display_name()}"  # type: ignore[union-attr]
    timeline_add(
        patient=appointment.patient,
        kind="appointment",
        title=title,
        body=body,
        actor=actor,
        ref_type="scheduling.appointment",
        ref_id=appointment.pk,
        data={"status": appointment.status, "start": appointment.start.isoformat()},
    )


def _tell_staff(appointment: Appointment, what: str) -> None:
    user = appointment.practitioner.user
    realtime.notify_user(
        user.pk,
        "notification",
        {
            "kind": f"appointment.{what}",
            "appointment": appointment.pk,
            "text": _notice_text(appointment, what, user.language),
        },
    )


def _notice_text(appointment: Appointment, what: str, language: str) -> str:
    """The notice in the recipient's language, with the time in the location's zone and the language's format."""
    from django.utils.formats import date_format

    with override(language), timezone.override(appointment.location.zone):
        when = date_format(timezone.localtime(appointment.start), "SHORT_DATETIME_FORMAT")
        texts = {
            "booked": _("New online booking for %(when)s."),
            "moved": _("An appointment was moved to %(when)s."),
            "cancelled": _("The appointment on %(when)s was cancelled."),
        }
        return texts[what] % {"when": when}


# --- schedules --------------------------------------------------------------------------------------------------

SCHEDULE_ROLES = (Role.ADMIN, Role.REGISTRAR)


def _local(day: date, at: time, location: Location) -> datetime:
    return datetime.combine(day, at, tzinfo=location.zone)


def shift_create(
    *,
    actor: Any,
    practitioner: Member,
    location: Location,
    day: date,
    start_time: time,
    end_time: time,
    breaks: list[tuple[time, time]] | None = None,
    template: ShiftTemplate | None = None,
    allowed_services: list[Service] | None = None,
) -> Shift:
    """A working period on `day` in the location's local time, with breaks inside it."""
    if actor is not None:
        permissions.require_role(actor, location.organisation_id, *SCHEDULE_ROLES)
    if practitioner.organisation_id != location.organisation_id:
        raise Invalid(_("Doctor and location must belong to the same clinic."), code="wrong_organisation")
    start, end = _local(day, start_time, location), _local(day, end_time, location)
    if end <= start:
        raise Invalid(errors={"end_time": [_("The shift must end after it starts.")]})
    intervals = [(_local(day, b_start, location), _local(day, b_end, location)) for b_start, b_end in breaks or []]
    for b_start, b_end in intervals:
        if not (start <= b_start < b_end <= end):
            raise Invalid(errors={"breaks": [_("Each break must lie inside the shift.")]})
    with transaction.atomic():
        if Shift.objects.filter(practitioner=practitioner, start__lt=end, end__gt=start).exists():
            raise Invalid(_("The doctor already has a shift at that time."), code="shift_overlap")
        shift = Shift.objects.create(
            organisation_id=location.organisation_id,
            practitioner=practitioner,
            location=location,
            start=start,
            end=end,
            template=template,
        )
        ShiftBreak.objects.bulk_create([ShiftBreak(shift=shift, start=s, end=e) for s, e in intervals])
        if allowed_services:
            shift.allowed_services.set(allowed_services)
        elif template is not None:
            shift.allowed_services.set(template.allowed_services.all())
        if actor is not None:
            record(
                actor=actor,
                action="shift.created",
                obj=shift,
                after={"start": start.isoformat(), "end": end.isoformat(), "location": location.pk},
            )
    return shift


def shift_create_from_template(
    *, actor: Any, practitioner: Member, location: Location, day: date, template: ShiftTemplate
) -> Shift:
    breaks = [(time.fromisoformat(b[0]), time.fromisoformat(b[1])) for b in template.breaks or []]
    return shift_create(
        actor=actor,
        practitioner=practitioner,
        location=location,
        day=day,
        start_time=template.start_time,
        end_time=template.end_time,
        breaks=breaks,
        template=template,
    )


# --- the month grid: applying, copying and removing shifts; time off; hour norms ---------------------------------
# A "cell" is one doctor on one local day at the grid's location. Every change below is all-or-nothing: it first
# works out, for every cell, which active appointments would be left outside working time, and refuses the whole
# change with that list (ScheduleConflict) unless the caller chose to keep the shifts of those cells as they are.

OnConflict = Literal["refuse", "keep"]
Cell = tuple[Member, date]
MAX_CELLS = 31 * 200


class ScheduleConflict(Conflict):
    """The change would leave booked appointments outside working time; nothing was changed.

    `appointments` holds them (with patient and service loaded) so pages and the API can list them."""

    code = "appointments_outside_working_time"
    default_message = gettext_lazy(
        "Some booked appointments would fall outside working time. Move or cancel them in the calendar first, "
        "or keep the shifts of those days as they are."
    )

    def __init__(self, appointments: list[Appointment], message: Any = None) -> None:
        self.appointments = appointments
        super().__init__(message, errors={"appointments": [appointment_line(a) for a in appointments]})


def appointment_line(appointment: Appointment) -> str:
    """ "12.05.2026 09:00–09:30 · Petya Patient · Consultation" in the location's time zone, for conflict lists."""
    zone = appointment.location.zone
    start, end = timezone.localtime(appointment.start, zone), timezone.localtime(appointment.end, zone)
    return f"{start:%d.%m.%Y %H:%M}–{end:%H:%M} · {appointment.patient} · {appointment.service.display_name()}"


@dataclass(frozen=True)
class ShiftPattern:
    """The shape of one working period in local time: hours, breaks, and the template or services it allows."""

    start_time: time
    end_time: time
    breaks: tuple[tuple[time, time], ...] = ()
    template_id: int | None = None
    allowed_service_ids: tuple[int, ...] = ()

    @classmethod
    def from_template(cls, template: ShiftTemplate) -> ShiftPattern:
        breaks = tuple((time.fromisoformat(b[0]), time.fromisoformat(b[1])) for b in template.breaks or [])
        return cls(
            start_time=template.start_time,
            end_time=template.end_time,
            breaks=breaks,
            template_id=template.pk,
            allowed_service_ids=tuple(sorted(s.pk for s in template.allowed_services.all())),
        )

    @classmethod
    def from_shift(cls, shift: Shift, zone: Any) -> ShiftPattern:
        def local(value: datetime) -> time:
            return timezone.localtime(value, zone).time()

        return cls(
            start_time=local(shift.start),
            end_time=local(shift.end),
            breaks=tuple((local(b.start), local(b.end)) for b in shift.breaks.all()),
            template_id=shift.template_id,
            allowed_service_ids=tuple(sorted(s.pk for s in shift.allowed_services.all())),
        )


@dataclass
class ScheduleResult:
    """What a grid change did: shifts created, how many were removed, and the cells kept because of appointments."""

    created: list[Shift] = field(default_factory=list)
    removed: int = 0
    kept: list[tuple[int, date]] = field(default_factory=list)
    kept_appointments: list[Appointment] = field(default_factory=list)


@dataclass
class _Planned:
    start: datetime
    end: datetime
    breaks: list[tuple[datetime, datetime]]
    pattern: ShiftPattern


def _on_five_minutes(value: time) -> bool:
    return value.minute % 5 == 0 and value.second == 0 and value.microsecond == 0


def _validate_pattern(pattern: ShiftPattern) -> None:
    times = [pattern.start_time, pattern.end_time, *(t for b in pattern.breaks for t in b)]
    if not all(_on_five_minutes(t) for t in times):
        raise Invalid(
            errors={"start_time": [_("Use times in 5-minute steps, e.g. 09:05 rather than 09:07.")]},
            code="five_minutes",
        )
    if pattern.end_time <= pattern.start_time:
        raise Invalid(errors={"end_time": [_("The shift must end after it starts. Check the end time.")]})
    previous_end = pattern.start_time
    for b_start, b_end in sorted(pattern.breaks):
        if not (previous_end <= b_start < b_end <= pattern.end_time):
            raise Invalid(
                errors={"breaks": [_("Each break must lie inside the shift and not overlap another break.")]},
                code="bad_break",
            )
        previous_end = b_end


def _day_bounds(day: date, zone: Any) -> tuple[datetime, datetime]:
    return datetime.combine(day, time.min, tzinfo=zone), datetime.combine(
        day + timedelta(days=1), time.min, tzinfo=zone
    )


def _plan(day: date, pattern: ShiftPattern, zone: Any) -> _Planned:
    def at(t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=zone)

    return _Planned(at(pattern.start_time), at(pattern.end_time), [(at(s), at(e)) for s, e in pattern.breaks], pattern)


def _covers(start: datetime, end: datetime, breaks: Iterable[tuple[datetime, datetime]], a: Appointment) -> bool:
    """True when the appointment's held time lies inside [start, end) and in none of the breaks (booking rule)."""
    if not (start <= a.busy_start and a.busy_end <= end):
        return False
    return not any(b_start < a.busy_end and a.busy_start < b_end for b_start, b_end in breaks)


def _shift_signature(
    start: datetime, end: datetime, breaks: Iterable[tuple[datetime, datetime]], p: ShiftPattern
) -> Any:
    return (start, end, tuple(sorted(breaks)), p.template_id, tuple(sorted(p.allowed_service_ids)))


def _existing_signature(shift: Shift) -> Any:
    breaks = tuple(sorted((b.start, b.end) for b in shift.breaks.all()))
    return (
        shift.start,
        shift.end,
        breaks,
        shift.template_id,
        tuple(sorted(s.pk for s in shift.allowed_services.all())),
    )


def _require_schedule_editor(actor: Any, location: Location, practitioners: Iterable[Member]) -> None:
    permissions.require_role(actor, location.organisation_id, *SCHEDULE_ROLES)
    if any(p.organisation_id != location.organisation_id for p in practitioners):
        raise Invalid(_("Doctor and location must belong to the same clinic."), code="wrong_organisation")


def _shift_audit(shift: Shift, breaks: Iterable[tuple[datetime, datetime]]) -> dict[str, Any]:
    return {
        "practitioner": shift.practitioner_id,
        "location": shift.location_id,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
        "breaks": [[s.isoformat(), e.isoformat()] for s, e in breaks],
        "template": shift.template_id,
    }


def _replace_cells(
    *,
    actor: Any,
    location: Location,
    plans: dict[tuple[int, date], list[ShiftPattern]],
    members: dict[int, Member],
    on_conflict: OnConflict,
    action: str,
) -> ScheduleResult:
    """Make each cell's shifts at `location` exactly `plans[cell]` (an empty list removes them)."""
    _require_schedule_editor(actor, location, members.values())
    if on_conflict not in ("refuse", "keep"):
        raise Invalid(errors={"on_conflict": [_("Choose whether to refuse or keep the days with appointments.")]})
    if not plans:
        raise Invalid(_("Select at least one day on the grid first."), code="nothing_selected")
    if len(plans) > MAX_CELLS:
        raise Invalid(_("Select fewer days at a time (at most %(n)s cells).") % {"n": MAX_CELLS}, code="too_many")
    for patterns in plans.values():
        for pattern in patterns:
            _validate_pattern(pattern)
    zone = location.zone
    days = {day for _pid, day in plans}
    # Only the selected days are read, however far apart they are.
    windows, busy_windows = Q(), Q()
    for day in days:
        day_start, day_end = _day_bounds(day, zone)
        windows |= Q(start__lt=day_end, end__gt=day_start)
        busy_windows |= Q(busy_start__lt=day_end, busy_end__gt=day_start)
    pids = sorted(members)
    result = ScheduleResult()
    with transaction.atomic():
        # Two editors changing the same doctors queue here (PostgreSQL) rather than interleave.
        list(Member.objects.select_for_update().filter(pk__in=pids).values_list("pk", flat=True))
        existing = list(
            Shift.objects.filter(windows, practitioner_id__in=pids)
            .select_related("location")
            .prefetch_related("breaks", "allowed_services")
        )
        appointments = list(
            Appointment.objects.filter(
                busy_windows, practitioner_id__in=pids, location=location, status__in=Appointment.ACTIVE_STATUSES
            ).select_related("patient", "service", "location")
        )
        to_delete: list[Shift] = []
        to_create: list[tuple[Shift, _Planned]] = []
        conflicts: list[Appointment] = []
        for (pid, day), patterns in sorted(plans.items(), key=lambda item: (item[0][1], item[0][0])):
            day_start, day_end = _day_bounds(day, zone)
            mine = [s for s in existing if s.practitioner_id == pid]
            old = [s for s in mine if s.location_id == location.pk and day_start <= s.start < day_end]
            new = sorted((_plan(day, p, zone) for p in patterns), key=lambda n: n.start)
            for first, second in itertools.pairwise(new):
                if second.start < first.end:
                    raise Invalid(_("Two shifts of the same day overlap. Check the hours."), code="shift_overlap")
            for shift in mine:
                if shift in old:
                    continue
                clash = next((n for n in new if n.start < shift.end and shift.start < n.end), None)
                if clash is not None:
                    local_start = timezone.localtime(shift.start, zone)
                    raise Invalid(
                        _(
                            "%(doctor)s already works at %(location)s on %(day)s from %(start)s to %(end)s. "
                            "Remove that shift first or choose other hours."
                        )
                        % {
                            "doctor": members[pid].user,
                            "location": shift.location,
                            "day": f"{local_start:%d.%m.%Y}",
                            "start": f"{local_start:%H:%M}",
                            "end": f"{timezone.localtime(shift.end, zone):%H:%M}",
                        },
                        code="shift_overlap",
                    )
            if sorted(_existing_signature(s) for s in old) == sorted(
                _shift_signature(n.start, n.end, n.breaks, n.pattern) for n in new
            ):
                continue  # already exactly so: no churn, no audit noise
            kept_shifts = [s for s in mine if s.location_id == location.pk and s not in old]
            lost = [
                a
                for a in appointments
                if a.practitioner_id == pid
                and any(_covers(s.start, s.end, [(b.start, b.end) for b in s.breaks.all()], a) for s in old)
                and not any(_covers(n.start, n.end, n.breaks, a) for n in new)
                and not any(_covers(s.start, s.end, [(b.start, b.end) for b in s.breaks.all()], a) for s in kept_shifts)
            ]
            if lost:
                conflicts.extend(lost)
                result.kept.append((pid, day))
                continue
            to_delete.extend(old)
            for planned in new:
                shift = Shift(
                    organisation_id=location.organisation_id,
                    practitioner_id=pid,
                    location=location,
                    start=planned.start,
                    end=planned.end,
                    template_id=planned.pattern.template_id,
                )
                to_create.append((shift, planned))
        if conflicts and on_conflict == "refuse":
            raise ScheduleConflict(sorted(conflicts, key=lambda a: (a.start, a.pk)))
        result.kept_appointments = sorted(conflicts, key=lambda a: (a.start, a.pk))
        for shift in to_delete:
            record(
                actor=actor,
                action="shift.deleted",
                obj=shift,
                before=_shift_audit(shift, [(b.start, b.end) for b in shift.breaks.all()]),
                after={"via": action},
            )
        Shift.objects.filter(pk__in=[s.pk for s in to_delete]).delete()
        result.removed = len(to_delete)
        created = Shift.objects.bulk_create([shift for shift, _planned in to_create])
        ShiftBreak.objects.bulk_create(
            [
                ShiftBreak(shift=s, start=b0, end=b1)
                for s, (_unused, p) in zip(created, to_create, strict=True)
                for b0, b1 in p.breaks
            ]
        )
        through = Shift.allowed_services.through
        through.objects.bulk_create(
            [
                through(shift_id=s.pk, service_id=service_id)
                for s, (_unused, p) in zip(created, to_create, strict=True)
                for service_id in p.pattern.allowed_service_ids
            ]
        )
        for shift, (_unused, planned) in zip(created, to_create, strict=True):
            record(
                actor=actor,
                action="shift.created",
                obj=shift,
                after={**_shift_audit(shift, planned.breaks), "via": action},
            )
        result.created = created
        if to_delete or created:
            _announce_schedule([location.pk], pids, sorted(days))
    return result


def _announce_schedule(location_ids: Iterable[int], practitioner_ids: Iterable[int], days: Iterable[date]) -> None:
    """Open calendars and schedules of the locations reload the doctors' working time (no personal data)."""
    payload = {"practitioners": sorted(set(practitioner_ids)), "days": [d.isoformat() for d in days]}
    for location_id in set(location_ids):
        realtime.publish(calendar_group(location_id), "schedule.changed", {**payload, "location": location_id})


def cells_of(practitioners: Iterable[Member], days: Iterable[date]) -> list[Cell]:
    """Every day for every doctor: the cells of a rectangle on the grid."""
    day_list = list(days)
    return [(p, d) for p in practitioners for d in day_list]


def _members_of(cells: Iterable[Cell]) -> dict[int, Member]:
    return {p.pk: p for p, _day in cells}


def shifts_apply(
    *, actor: Any, location: Location, cells: list[Cell], pattern: ShiftPattern, on_conflict: OnConflict = "refuse"
) -> ScheduleResult:
    """Give each selected doctor-day at `location` exactly one shift of `pattern` (local time of the location),
    replacing that day's shifts there. Refused (ScheduleConflict, nothing changed) when booked appointments would
    fall outside the new hours or into a new break, unless `on_conflict="keep"`: then those days keep their shifts
    and the others change. Administrators and registrars only."""
    plans = {(p.pk, day): [pattern] for p, day in cells}
    return _replace_cells(
        actor=actor, location=location, plans=plans, members=_members_of(cells), on_conflict=on_conflict, action="apply"
    )


def shifts_apply_template(
    *, actor: Any, location: Location, cells: list[Cell], template: ShiftTemplate, on_conflict: OnConflict = "refuse"
) -> ScheduleResult:
    """shifts_apply with the template's hours, breaks and allowed services; the shifts remember the template."""
    if template.organisation_id != location.organisation_id:
        raise Invalid(errors={"template": [_("Choose a shift template of this clinic.")]}, code="wrong_organisation")
    return shifts_apply(
        actor=actor,
        location=location,
        cells=cells,
        pattern=ShiftPattern.from_template(template),
        on_conflict=on_conflict,
    )


def shifts_remove(
    *, actor: Any, location: Location, cells: list[Cell], on_conflict: OnConflict = "refuse"
) -> ScheduleResult:
    """Remove the selected doctor-days' shifts at `location`; refused while booked appointments depend on them,
    unless `on_conflict="keep"` (those days keep their shifts, the others are cleared)."""
    plans: dict[tuple[int, date], list[ShiftPattern]] = {(p.pk, day): [] for p, day in cells}
    return _replace_cells(
        actor=actor,
        location=location,
        plans=plans,
        members=_members_of(cells),
        on_conflict=on_conflict,
        action="remove",
    )


def shift_delete(*, actor: Any, shift: Shift) -> None:
    """Remove one shift; refused (ScheduleConflict) while booked appointments lie in it."""
    location = shift.location
    day = timezone.localtime(shift.start, location.zone).date()
    others = [
        ShiftPattern.from_shift(s, location.zone)
        for s in Shift.objects.filter(practitioner_id=shift.practitioner_id, location=location)
        .filter(start__gte=_day_bounds(day, location.zone)[0], start__lt=_day_bounds(day, location.zone)[1])
        .exclude(pk=shift.pk)
        .prefetch_related("breaks", "allowed_services")
    ]
    _replace_cells(
        actor=actor,
        location=location,
        plans={(shift.practitioner_id, day): others},
        members={shift.practitioner_id: shift.practitioner},
        on_conflict="refuse",
        action="delete",
    )


def _source_day(target: date, source_days: list[date]) -> date | None:
    if len(source_days) == 1:
        return source_days[0]
    return next((d for d in source_days if d.weekday() == target.weekday()), None)


def shifts_copy_days(
    *,
    actor: Any,
    location: Location,
    source_days: list[date],
    cells: list[Cell],
    source_practitioner: Member | None = None,
    on_conflict: OnConflict = "refuse",
) -> ScheduleResult:
    """Paste copied days onto the selected cells at `location`: one copied day goes onto every selected day; a copied
    week (up to seven days in a row) goes weekday onto weekday, and selected days of other weekdays stay as they are.
    Each doctor gets their own copied shifts, or `source_practitioner`'s when given. Pasting replaces: a copied day
    without shifts clears the target. The appointment rule of shifts_apply holds."""
    sources = sorted(set(source_days))
    if not sources:
        raise Invalid(_("Copy a day or a week first, then select where to paste it."), code="nothing_copied")
    if len(sources) > 1 and (sources[-1] - sources[0]).days > 6:
        raise Invalid(_("Copy one day or one week (up to seven days in a row)."), code="copy_too_long")
    zone = location.zone
    source_pids = {source_practitioner.pk} if source_practitioner else {p.pk for p, _day in cells}
    members = _members_of(cells)
    if source_practitioner is not None:
        members_all = [*members.values(), source_practitioner]
    else:
        members_all = list(members.values())
    _require_schedule_editor(actor, location, members_all)
    range_start, range_end = _day_bounds(sources[0], zone)[0], _day_bounds(sources[-1], zone)[1]
    copied: dict[tuple[int, date], list[ShiftPattern]] = {}
    for shift in (
        Shift.objects.filter(
            practitioner_id__in=source_pids, location=location, start__gte=range_start, start__lt=range_end
        )
        .prefetch_related("breaks", "allowed_services")
        .order_by("start")
    ):
        key = (shift.practitioner_id, timezone.localtime(shift.start, zone).date())
        copied.setdefault(key, []).append(ShiftPattern.from_shift(shift, zone))
    plans: dict[tuple[int, date], list[ShiftPattern]] = {}
    for member, day in cells:
        source = _source_day(day, sources)
        if source is None:
            continue
        owner = source_practitioner.pk if source_practitioner else member.pk
        if owner == member.pk and source == day:
            continue  # pasting a day onto itself changes nothing
        plans[(member.pk, day)] = copied.get((owner, source), [])
    if not plans:
        raise Invalid(
            _("None of the selected days matches a copied weekday. Select other days."), code="nothing_to_paste"
        )
    return _replace_cells(
        actor=actor, location=location, plans=plans, members=members, on_conflict=on_conflict, action="paste"
    )


def _time_off_conflicts(practitioner_id: int, intervals: list[tuple[datetime, datetime]]) -> list[Appointment]:
    if not intervals:
        return []
    overlap = Q()
    for start, end in intervals:
        overlap |= Q(busy_start__lt=end, busy_end__gt=start)
    return list(
        Appointment.objects.filter(overlap, practitioner_id=practitioner_id, status__in=Appointment.ACTIVE_STATUSES)
        .select_related("patient", "service", "location")
        .order_by("start", "pk")
    )


def _time_off_create(
    *, actor: Any, practitioner: Member, intervals: list[tuple[datetime, datetime]], kind: str
) -> list[TimeOff]:
    if kind not in TimeOff.Kind.values:
        raise Invalid(errors={"kind": [_("Choose vacation, sick leave or other.")]})
    created = []
    for start, end in intervals:
        off = TimeOff.objects.create(
            organisation_id=practitioner.organisation_id, practitioner=practitioner, start=start, end=end, kind=kind
        )
        record(
            actor=actor,
            action="time_off.created",
            obj=off,
            after={"practitioner": practitioner.pk, "start": start.isoformat(), "end": end.isoformat(), "kind": kind},
        )
        created.append(off)
    if created:
        days = sorted({s.date() for s, _e in intervals})
        _announce_schedule(practitioner.locations.values_list("pk", flat=True), [practitioner.pk], days)
    return created


def time_off_add(
    *, actor: Any, practitioner: Member, start: datetime, end: datetime, kind: str = TimeOff.Kind.VACATION
) -> TimeOff:
    """Mark the doctor away from `start` to `end`. Refused (ScheduleConflict) while active appointments of the doctor
    fall in that time: move or cancel them first. Administrators and registrars only."""
    permissions.require_role(actor, practitioner.organisation_id, *SCHEDULE_ROLES)
    if end <= start:
        raise Invalid(errors={"end": [_("The time off must end after it starts. Check the dates.")]})
    with transaction.atomic():
        conflicts = _time_off_conflicts(practitioner.pk, [(start, end)])
        if conflicts:
            raise ScheduleConflict(conflicts)
        return _time_off_create(actor=actor, practitioner=practitioner, intervals=[(start, end)], kind=kind)[0]


def time_off_add_days(
    *, actor: Any, location: Location, cells: list[Cell], kind: str = TimeOff.Kind.VACATION
) -> list[TimeOff]:
    """Whole local days off (midnight to midnight in the location's zone) for the selected doctor-days, one row per
    run of consecutive days; days already off are skipped. All or nothing: refused (ScheduleConflict) when any of
    those days has active appointments of that doctor."""
    if not cells:
        raise Invalid(_("Select at least one day on the grid first."), code="nothing_selected")
    members = _members_of(cells)
    _require_schedule_editor(actor, location, members.values())
    zone = location.zone
    by_doctor: dict[int, list[date]] = {}
    for member, day in cells:
        by_doctor.setdefault(member.pk, []).append(day)
    created: list[TimeOff] = []
    conflicts: list[Appointment] = []
    with transaction.atomic():
        for pid, days in sorted(by_doctor.items()):
            first, last = _day_bounds(min(days), zone)[0], _day_bounds(max(days), zone)[1]
            already = list(
                TimeOff.objects.filter(practitioner_id=pid, start__lt=last, end__gt=first).values_list("start", "end")
            )
            runs: list[list[date]] = []
            for day in sorted(set(days)):
                day_start, day_end = _day_bounds(day, zone)
                if any(s <= day_start and day_end <= e for s, e in already):
                    continue
                if runs and runs[-1][-1] + timedelta(days=1) == day:
                    runs[-1].append(day)
                else:
                    runs.append([day])
            intervals = [(_day_bounds(run[0], zone)[0], _day_bounds(run[-1], zone)[1]) for run in runs]
            found = _time_off_conflicts(pid, intervals)
            if found:
                conflicts.extend(found)
                continue
            created.extend(_time_off_create(actor=actor, practitioner=members[pid], intervals=intervals, kind=kind))
        if conflicts:
            raise ScheduleConflict(sorted(conflicts, key=lambda a: (a.start, a.pk)))
    return created


def time_off_delete(*, actor: Any, time_off: TimeOff) -> None:
    """Remove a period of time off (the doctor is available again; nothing else changes)."""
    permissions.require_role(actor, time_off.organisation_id, *SCHEDULE_ROLES)
    with transaction.atomic():
        record(
            actor=actor,
            action="time_off.deleted",
            obj=time_off,
            before={
                "practitioner": time_off.practitioner_id,
                "start": time_off.start.isoformat(),
                "end": time_off.end.isoformat(),
                "kind": time_off.kind,
            },
        )
        pid, day = time_off.practitioner_id, time_off.start.date()
        time_off.delete()
        _announce_schedule(Member.objects.get(pk=pid).locations.values_list("pk", flat=True), [pid], [day])


NORM_ROLES = (Role.ADMIN,)


def hour_norm_set(*, actor: Any, practitioner: Member, month: date, norm_minutes: int | None) -> HourNorm | None:
    """Set a doctor's hour norm for a month (None clears it, which also ends the carry-over chain there).
    Administrators only: the norm is an employment term, the schedule is how it is met."""
    permissions.require_role(actor, practitioner.organisation_id, *NORM_ROLES)
    month = first_of_month(month)
    if norm_minutes is not None and not (0 <= norm_minutes <= 31 * 24 * 60):
        raise Invalid(errors={"norm": [_("Enter the norm in hours, between 0 and 744.")]})
    with transaction.atomic():
        current = HourNorm.objects.select_for_update().filter(practitioner=practitioner, month=month).first()
        before = {"norm_minutes": current.norm_minutes} if current else None
        if norm_minutes is None:
            if current is not None:
                record(actor=actor, action="hour_norm.deleted", obj=current, before=before)
                current.delete()
            return None
        if current is None:
            current = HourNorm.objects.create(
                organisation_id=practitioner.organisation_id,
                practitioner=practitioner,
                month=month,
                norm_minutes=norm_minutes,
            )
        elif current.norm_minutes != norm_minutes:
            current.norm_minutes = norm_minutes
            current.save(update_fields=["norm_minutes"])
        else:
            return current
        record(
            actor=actor,
            action="hour_norm.set",
            obj=current,
            before=before,
            after={"practitioner": practitioner.pk, "month": month.isoformat(), "norm_minutes": norm_minutes},
        )
    return current


# --- private calendar feeds ---------------------------------------------------------------------------------------


def _require_feed_manager(actor: Any, practitioner: Member) -> None:
    """The doctor themself (while a staff member there) or an administrator of the clinic."""
    org_id = practitioner.organisation_id
    is_self = getattr(actor, "pk", None) == practitioner.user_id and permissions.is_staff_of(actor, org_id)
    if not (is_self or permissions.has_role(actor, org_id, Role.ADMIN)):
        raise NotAllowed()


def calendar_feed_create(*, actor: Any, practitioner: Member) -> tuple[CalendarFeed, str]:
    """A new private feed address for the doctor's appointments; any older feed of the doctor is revoked, so one
    address works at a time. The token is returned once and only its hash is kept."""
    _require_feed_manager(actor, practitioner)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        for old in CalendarFeed.objects.select_for_update().filter(practitioner=practitioner, revoked_at__isnull=True):
            old.revoked_at = now
            old.save(update_fields=["revoked_at"])
            record(actor=actor, action="calendar_feed.revoked", obj=old, after={"replaced": True})
        feed = CalendarFeed.objects.create(
            organisation_id=practitioner.organisation_id,
            practitioner=practitioner,
            token_hash=CalendarFeed.hash_token(token),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record(actor=actor, action="calendar_feed.created", obj=feed, after={"practitioner": practitioner.pk})
    return feed, token


def calendar_feed_revoke(*, actor: Any, feed: CalendarFeed) -> CalendarFeed:
    """Stop the feed: its address answers 404 from now on."""
    _require_feed_manager(actor, feed.practitioner)
    with transaction.atomic():
        current = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.save(update_fields=["revoked_at"])
            record(actor=actor, action="calendar_feed.revoked", obj=current)
    return current


def calendar_feed_touch(*, feed: CalendarFeed) -> None:
    """Remember when a calendar app last fetched the feed (shown next to it, to spot forgotten subscriptions)."""
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=timezone.now())
