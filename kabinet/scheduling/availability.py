"""The slot engine: free start times from shifts, breaks, time off, appointments, buffers and rooms.

Loading is a fixed number of queries whatever the number of appointments; the computation is plain Python over
intervals of whole Unix seconds. `check_start` runs the same rules for one proposed start and says which rule it breaks.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Func, IntegerField, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kabinet.core.exceptions import Conflict, Invalid
from kabinet.core.models import Room
from kabinet.scheduling.models import Appointment, Service, Shift, ShiftBreak, TimeOff

Interval = tuple[int, int]
"""[start, end) in whole Unix seconds (UTC): integers compare and add several times faster than aware datetimes."""


class SlotTaken(Conflict):
    code = "slot_taken"

    def __init__(self, message: object = None, **kwargs: object) -> None:
        super().__init__(message or _("This time has just been taken. Choose another slot."), **kwargs)  # type: ignore[arg-type]


class Slot(NamedTuple):
    """A free start. A tuple rather than a frozen dataclass: a month's search builds thousands of them."""

    start: datetime
    end: datetime
    practitioner_id: int
    location_id: int


@dataclass(frozen=True)
class ShiftSpan:
    id: int
    practitioner_id: int
    location_id: int
    start: int
    end: int


@dataclass
class _ShiftInfo:
    shift: ShiftSpan
    breaks: list[Interval]
    allowed_service_ids: set[int]


@dataclass
class Calendar:
    """Everything the engine needs for some practitioners over a period, loaded in a fixed number of queries.

    Times are whole Unix seconds: starts rounded down, ends up, so a stored sub-second end still blocks its second.
    """

    shifts: dict[int, list[_ShiftInfo]] = field(default_factory=lambda: defaultdict(list))
    time_off: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    busy: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    rooms: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # location -> room ids
    room_busy: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))


class _Seconds(Func):
    """A stored datetime as whole Unix seconds, computed by the database; `up` rounds a fraction up, else down.

    A month for ten doctors is thousands of datetimes: building aware datetime objects from the rows (on SQLite
    through Django's regex parser) and turning them back into numbers for the arithmetic was the largest cost of a
    slot search.
    """

    output_field = IntegerField()

    def __init__(self, field: str, *, up: bool) -> None:
        super().__init__(F(field))
        self.up = up

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> Any:
        # Django stores "YYYY-MM-DD HH:MM:SS" naive UTC text and appends ".ffffff" only when there is a fraction.
        ceil = " + (length(%(expressions)s) > 19)" if self.up else ""
        template = "(CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)" + ceil + ")"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> Any:
        rounding = "CEIL" if self.up else "FLOOR"
        template = f"CAST({rounding}(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)


_STARTS, _ENDS = frozenset({"start", "busy_start"}), frozenset({"end", "busy_end"})


def _rows(qs: QuerySet[Any], *fields: str) -> list[tuple[Any, ...]]:
    """`qs.values_list(*fields)` as plain tuples, start and end fields as whole Unix seconds (see `_Seconds`).

    Every column is an integer already, so the compiled query runs on a cursor directly: Django's per-value
    converters (an `int()` call for each value of an integer expression) cost more than the query itself here.
    """
    columns = [_Seconds(f, up=f in _ENDS) if f in _STARTS | _ENDS else F(f) for f in fields]
    try:
        sql, params = qs.values_list(*columns).query.get_compiler(qs.db).as_sql()
    except EmptyResultSet:
        return []
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


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
    for shift_id, pid, loc_id, s_start, s_end in _rows(shifts, "id", "practitioner_id", "location_id", "start", "end"):
        info = _ShiftInfo(shift=ShiftSpan(shift_id, pid, loc_id, s_start, s_end), breaks=[], allowed_service_ids=set())
        infos[shift_id] = info
        cal.shifts[pid].append(info)
    if infos:
        for shift_id, b_start, b_end in _rows(ShiftBreak.objects.filter(shift__in=shifts), "shift_id", "start", "end"):
            infos[shift_id].breaks.append((b_start, b_end))
        through = Shift.allowed_services.through
        for shift_id, service_id in through.objects.filter(shift__in=shifts).values_list("shift_id", "service_id"):
            infos[shift_id].allowed_service_ids.add(service_id)
    for pid, off_start, off_end in _rows(
        TimeOff.objects.filter(practitioner_id__in=ids, start__lt=end, end__gt=start), "practitioner_id", "start", "end"
    ):
        cal.time_off[pid].append((off_start, off_end))
    appointments = Appointment.objects.filter(
        practitioner_id__in=ids, status__in=Appointment.ACTIVE_STATUSES, busy_start__lt=end, busy_end__gt=start
    )
    if exclude_appointment_id is not None:
        appointments = appointments.exclude(pk=exclude_appointment_id)
    for pid, busy_start, busy_end in _rows(appointments, "practitioner_id", "busy_start", "busy_end"):
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
        for room_id, busy_start, busy_end in _rows(room_appointments, "room_id", "busy_start", "busy_end"):
            cal.room_busy[room_id].append((busy_start, busy_end))
    return cal


def _overlaps(a: Interval, intervals: Iterable[Interval]) -> bool:
    return any(a[0] < b[1] and b[0] < a[1] for b in intervals)


def free_room(cal: Calendar, location_id: int, busy: Interval) -> int | None:
    for room_id in cal.rooms.get(location_id, []):
        if not _overlaps(busy, cal.room_busy.get(room_id, [])):
            return room_id
    return None


def _busy_interval(service: Service, start: datetime, duration: timedelta | None = None) -> tuple[datetime, datetime]:
    return start - service.buffer_before, start + (duration or service.duration) + service.buffer_after


def _service_allowed(info: _ShiftInfo, service: Service) -> bool:
    return not info.allowed_service_ids or service.pk in info.allowed_service_ids


def _subtract(window: tuple[int, int], blocked: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`window` minus the union of `blocked` (sorted by start), as sorted free intervals."""
    free: list[tuple[int, int]] = []
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

    Per shift: subtract breaks, time off and busy time (sorted once, found by bisection) from the shift, then walk
    the grid through each free interval, so the cost grows with shifts and slots, not with shifts × appointments.
    The arithmetic runs on integer UTC seconds: aware datetimes compare and add several times slower, and a month
    for ten doctors is thousands of grid steps. Slots starting or ending at the same moment share one datetime.
    """
    ids = list(practitioner_ids)
    cal = load_calendar(
        practitioner_ids=ids,
        start=start - service.buffer_before - service.duration,
        end=end + service.duration + service.buffer_after,
        location_id=location_id,
        room_kind=service.room_kind,
    )
    grid = service.grid_minutes * 60
    before, after = _seconds(service.buffer_before), _seconds(service.buffer_after)
    duration = _seconds(service.duration)
    earliest, stop = _ts(max(start, not_before)), _ts(end)
    room_busy = cal.room_busy if service.room_kind else {}
    found: list[tuple[int, int, int]] = []  # (start, practitioner, location)
    for pid in ids:
        off = cal.time_off.get(pid, [])
        busy = sorted(cal.busy.get(pid, []))
        busy_starts = [b[0] for b in busy]
        longest = max((b[1] - b[0] for b in busy), default=0)
        for info in cal.shifts.get(pid, []):
            if not _service_allowed(info, service):
                continue
            s0, s1 = info.shift.start, info.shift.end
            if s1 <= earliest or s0 >= stop:
                continue
            near = busy[bisect_left(busy_starts, s0 - longest) : bisect_left(busy_starts, s1)]
            blocked = sorted([b for b in near if b[1] > s0] + [b for b in off if b[0] < s1 and b[1] > s0] + info.breaks)
            location = info.shift.location_id
            rooms = cal.rooms.get(location, []) if service.room_kind else []
            for free_start, free_end in _subtract((s0, s1), blocked):
                # First grid point (counted from the shift's start) whose busy time begins inside this interval.
                lowest = max(free_start + before, earliest)
                candidate = s0 - ((s0 - lowest) // grid) * grid
                last = min(stop - 1, free_end - duration - after)
                while candidate <= last:
                    if not service.room_kind or _room_free(
                        rooms, room_busy, candidate - before, candidate + duration + after
                    ):
                        found.append((candidate, pid, location))
                    candidate += grid
    found.sort()
    starts = {c for c, _pid, _location in found}
    moments = {m: datetime.fromtimestamp(m, UTC) for m in starts | {c + duration for c in starts}}
    return [Slot(moments[c], moments[c + duration], pid, location) for c, pid, location in found]


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def _room_free(rooms: list[int], room_busy: dict[int, list[Interval]], busy_start: int, busy_end: int) -> bool:
    return any(all(not (busy_start < b and a < busy_end) for a, b in room_busy.get(r, [])) for r in rooms)


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
    busy_from, busy_to = _busy_interval(service, start, duration)
    busy = math.floor(busy_from.timestamp()), math.ceil(busy_to.timestamp())  # rounded outwards, like the calendar
    cal = load_calendar(
        practitioner_ids=[practitioner_id],
        start=busy_from,
        end=busy_to,
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
    shift_start = datetime.fromtimestamp(info.shift.start, UTC)  # exact: shifts start on whole minutes
    if not overbook and (start - shift_start) % timedelta(minutes=service.grid_minutes):
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
