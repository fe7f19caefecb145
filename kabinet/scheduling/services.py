"""Appointment use cases: book, move/resize, change status, cancel, note. Each is one transaction, checked,
audited, and announced to open calendars after commit.

No double booking: the overlap re-check runs inside the write transaction (on SQLite that transaction is
BEGIN IMMEDIATE, so writers queue), and on PostgreSQL exclusion constraints over (practitioner, busy range) and
(room, busy range) refuse the loser of any race; both end as SlotTaken (409 `slot_taken`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record, snapshot
from kabinet.core import permissions, realtime
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.core.models import Location, Member, Role
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids
from kabinet.scheduling.availability import SlotTaken, check_start
from kabinet.scheduling.models import Appointment, BookingPolicy, Reason, Service, Shift, ShiftBreak, ShiftTemplate

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
            _("Changes online are possible until %(hours)s hours before the visit. Please call the clinic.")
            % {"hours": policy.change_cutoff_hours},
            code="change_cutoff",
        )


def _save_new(appointment: Appointment) -> None:
    try:
        with transaction.atomic():
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
) -> Appointment:
    """Book `patient` with `practitioner` for `service` at `start`.

    Staff with a booking role may book any time that fits the schedule; only administrators and registrars may
    add an explicit extra (overbooked) visit. A patient (or their proxy) books only online-bookable services,
    within the clinic's notice and horizon, and the booking waits for approval when the clinic says so.
    """
    org_id = service.organisation_id
    now = timezone.now()
    staff = _is_staff_booker(actor, org_id)
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
        room_id = check_start(
            service=current.service,
            practitioner_id=new_practitioner.pk,
            location_id=new_location.pk,
            start=new_start,
            duration=duration,
            overbook=current.is_overbooked,
            exclude_appointment_id=current.pk,
        )
        old_location_id = current.location_id
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
                _("A %(old)s appointment cannot become %(new)s.")
                % {"old": current.get_status_display(), "new": Status(status).label},
                code="bad_transition",
            )
        before = snapshot(current, AUDIT_FIELDS)
        if status in NEEDS_REASON:
            current.reason = _reason_for(current.organisation_id, status, reason_id)
            current.reason_note = reason_note.strip()[:500]
        if current.status not in Appointment.ACTIVE_STATUSES and status in Appointment.ACTIVE_STATUSES:
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
        if status == Status.CANCELLED:
            if staff:
                _tell_patient(current, "cancelled")
            else:
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
# The notifications app will deliver these by email/SMS/push; until then they are in-app notices over the socket
# and the audit trail records the change itself.


def _tell_staff(appointment: Appointment, what: str) -> None:
    user_id = appointment.practitioner.user_id
    realtime.notify_user(
        user_id,
        "notification",
        {"kind": f"appointment.{what}", "appointment": appointment.pk, "text": _notice_text(appointment, what)},
    )


def _tell_patient(appointment: Appointment, what: str) -> None:
    user_id = appointment.patient.user_id
    if user_id:
        realtime.notify_user(
            user_id,
            "notification",
            {"kind": f"appointment.{what}", "appointment": appointment.pk, "text": _notice_text(appointment, what)},
        )


def _notice_text(appointment: Appointment, what: str) -> str:
    when = timezone.localtime(appointment.start, appointment.location.zone).strftime("%d.%m.%Y %H:%M")
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
