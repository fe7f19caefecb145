"""The slot engine: free start times from shifts, breaks, time off, appointments, buffers and rooms.

Loading is a fixed number of queries whatever the number of appointments; the computation is plain Python over
intervals. `check_start` runs the same rules for one proposed start and says which rule it breaks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kabinet.core.exceptions import Conflict, Invalid
from kabinet.core.models import Room
from kabinet.scheduling.models import Appointment, Service, Shift, ShiftBreak, TimeOff

Interval = tuple[datetime, datetime]


class SlotTaken(Conflict):
    code = "slot_taken"

    def __init__(self, message: object = None, **kwargs: object) -> None:
        super().__init__(message or _("This time has just been taken. Choose another slot."), **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    practitioner_id: int
    location_id: int


@dataclass(frozen=True)
class ShiftSpan:
    id: int
    practitioner_id: int
    location_id: int
    start: datetime
    end: datetime


@dataclass
class _ShiftInfo:
    shift: ShiftSpan
    breaks: list[Interval]
    allowed_service_ids: set[int]


@dataclass
class Calendar:
    """Everything the engine needs for some practitioners over a period, loaded in a fixed number of queries."""

    shifts: dict[int, list[_ShiftInfo]] = field(default_factory=lambda: defaultdict(list))
    time_off: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    busy: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    rooms: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # location -> room ids
    room_busy: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))


def load_calendar(
    *,
    practitioner_ids: Iterable[int],
    start: datetime,
    end: datetime,
    location_id: int | None = None,
    room_kind: str = "",
    exclude_appointment_id: int | None = None,
) -> Calendar:
    ids = list(practitioner_ids)
    cal = Calendar()
    # Plain tuples, not model instances: this runs for every slot search and must stay cheap with many shifts.
    shifts = Shift.objects.filter(practitioner_id__in=ids, start__lt=end, end__gt=start)
    if location_id is not None:
        shifts = shifts.filter(location_id=location_id)
    infos: dict[int, _ShiftInfo] = {}
    for shift_id, pid, loc_id, s_start, s_end in shifts.values_list(
        "id", "practitioner_id", "location_id", "start", "end"
    ):
        info = _ShiftInfo(shift=ShiftSpan(shift_id, pid, loc_id, s_start, s_end), breaks=[], allowed_service_ids=set())
        infos[shift_id] = info
        cal.shifts[pid].append(info)
    if infos:
        for shift_id, b_start, b_end in ShiftBreak.objects.filter(shift__in=shifts).values_list(
            "shift_id", "start", "end"
        ):
            infos[shift_id].breaks.append((b_start, b_end))
        through = Shift.allowed_services.through
        for shift_id, service_id in through.objects.filter(shift__in=shifts).values_list("shift_id", "service_id"):
            infos[shift_id].allowed_service_ids.add(service_id)
    for pid, off_start, off_end in TimeOff.objects.filter(
        practitioner_id__in=ids, start__lt=end, end__gt=start
    ).values_list("practitioner_id", "start", "end"):
        cal.time_off[pid].append((off_start, off_end))
    appointments = Appointment.objects.filter(
        practitioner_id__in=ids, status__in=Appointment.ACTIVE_STATUSES, busy_start__lt=end, busy_end__gt=start
    )
    if exclude_appointment_id is not None:
        appointments = appointments.exclude(pk=exclude_appointment_id)
    for pid, busy_start, busy_end in appointments.values_list("practitioner_id", "busy_start", "busy_end"):
        cal.busy[pid].append((busy_start, busy_end))
    if room_kind:
        location_ids = {info.shift.location_id for infos in cal.shifts.values() for info in infos}
        for room_id, room_location in Room.objects.filter(
            location_id__in=location_ids, kind=room_kind, is_active=True
        ).values_list("pk", "location_id"):
            cal.rooms[room_location].append(room_id)
        room_ids = [r for rooms in cal.rooms.values() for r in rooms]
        room_appointments = Appointment.objects.filter(
            room_id__in=room_ids, status__in=Appointment.ACTIVE_STATUSES, busy_start__lt=end, busy_end__gt=start
        )
        if exclude_appointment_id is not None:
            room_appointments = room_appointments.exclude(pk=exclude_appointment_id)
        for room_id, busy_start, busy_end in room_appointments.values_list("room_id", "busy_start", "busy_end"):
            cal.room_busy[room_id].append((busy_start, busy_end))
    return cal


def _overlaps(a: Interval, intervals: Iterable[Interval]) -> bool:
    return any(a[0] < b[1] and b[0] < a[1] for b in intervals)


def free_room(cal: Calendar, location_id: int, busy: Interval) -> int | None:
    for room_id in cal.rooms.get(location_id, []):
        if not _overlaps(busy, cal.room_busy.get(room_id, [])):
            return room_id
    return None


def _busy_interval(service: Service, start: datetime, duration: timedelta | None = None) -> Interval:
    return start - service.buffer_before, start + (duration or service.duration) + service.buffer_after


def _service_allowed(info: _ShiftInfo, service: Service) -> bool:
    return not info.allowed_service_ids or service.pk in info.allowed_service_ids


def _subtract(window: Interval, blocked: list[Interval]) -> list[Interval]:
    """`window` minus the union of `blocked` (sorted by start), as sorted free intervals."""
    free: list[Interval] = []
    cursor, end = window
    for b_start, b_end in blocked:
        if b_end <= cursor:
            continue
        if b_start >= end:
            break
        if b_start > cursor:
            free.append((cursor, b_start))
        cursor = max(cursor, b_end)
        if cursor >= end:
            break
    if cursor < end:
        free.append((cursor, end))
    return free


def free_slots(
    *,
    service: Service,
    practitioner_ids: Iterable[int],
    start: datetime,
    end: datetime,
    not_before: datetime,
    location_id: int | None = None,
) -> list[Slot]:
    """Free starts on the service's grid for any of the practitioners, in [start, end), sorted by time.

    Per shift: subtract breaks, time off and busy time (sorted once) from the shift, then walk the grid through
    each free interval, so the cost grows with shifts and slots, not with shifts × appointments.
    """
    ids = list(practitioner_ids)
    cal = load_calendar(
        practitioner_ids=ids,
        start=start - service.buffer_before - service.duration,
        end=end + service.duration + service.buffer_after,
        location_id=location_id,
        room_kind=service.room_kind,
    )
    grid = timedelta(minutes=service.grid_minutes)
    before, after, duration = service.buffer_before, service.buffer_after, service.duration
    earliest = max(start, not_before)
    slots: list[Slot] = []
    for pid in ids:
        blocked_all = sorted(cal.time_off.get(pid, []) + cal.busy.get(pid, []))
        for info in cal.shifts.get(pid, []):
            if not _service_allowed(info, service):
                continue
            shift = info.shift
            if shift.end <= earliest or shift.start >= end:
                continue
            blocked = sorted(info.breaks + [b for b in blocked_all if b[0] < shift.end and b[1] > shift.start])
            for free_start, free_end in _subtract((shift.start, shift.end), blocked):
                # First grid point whose busy interval starts inside this free interval and not too early.
                lowest = max(free_start + before, earliest)
                steps = -((shift.start - lowest) // grid)  # ceil((lowest - shift.start) / grid)
                candidate = shift.start + steps * grid
                while candidate < end and candidate + duration + after <= free_end:
                    busy = (candidate - before, candidate + duration + after)
                    if not service.room_kind or free_room(cal, shift.location_id, busy) is not None:
                        slots.append(Slot(candidate, candidate + duration, pid, shift.location_id))
                    candidate += grid
    slots.sort(key=lambda s: (s.start, s.practitioner_id))
    return slots


def check_start(
    *,
    service: Service,
    practitioner_id: int,
    location_id: int,
    start: datetime,
    duration: timedelta | None = None,
    overbook: bool = False,
    exclude_appointment_id: int | None = None,
) -> int | None:
    """Raise Invalid (naming the broken rule) or SlotTaken unless `start` is bookable; return a free room id."""
    busy = _busy_interval(service, start, duration)
    cal = load_calendar(
        practitioner_ids=[practitioner_id],
        start=busy[0],
        end=busy[1],
        location_id=location_id,
        room_kind=service.room_kind,
        exclude_appointment_id=exclude_appointment_id,
    )
    infos = [i for i in cal.shifts.get(practitioner_id, []) if i.shift.start <= busy[0] and busy[1] <= i.shift.end]
    if not infos:
        raise Invalid(_("The doctor does not work at this location at that time."), code="outside_working_hours")
    info = infos[0]
    if not _service_allowed(info, service):
        raise Invalid(_("This shift does not allow this service."), code="service_not_in_shift")
    if not overbook and (start - info.shift.start) % timedelta(minutes=service.grid_minutes):
        raise Invalid(
            ngettext(
                "Appointments for this service start every %(n)s minute from the start of the shift.",
                "Appointments for this service start every %(n)s minutes from the start of the shift.",
                service.grid_minutes,
            )
            % {"n": service.grid_minutes},
            code="off_grid",
        )
    if _overlaps(busy, info.breaks):
        raise Invalid(_("This time falls in a break."), code="in_break")
    if _overlaps(busy, cal.time_off.get(practitioner_id, [])):
        raise Invalid(_("The doctor is away at that time."), code="time_off")
    if not overbook and _overlaps(busy, cal.busy.get(practitioner_id, [])):
        raise SlotTaken()
    if service.room_kind:
        room = free_room(cal, location_id, busy)
        if room is None:
            raise SlotTaken(_("No free room for this service at that time. Choose another slot."))
        return room
    return None
