"""Reads for the calendar and booking: locations, practitioners, services, slots, appointments — scoped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kabinet.core import permissions
from kabinet.core.exceptions import Invalid, NotFound
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients.selectors import own_patient_ids
from kabinet.scheduling.availability import Slot, free_slots
from kabinet.scheduling.models import (
    Appointment,
    CalendarFeed,
    HourNorm,
    Reason,
    Service,
    Shift,
    ShiftBreak,
    ShiftTemplate,
    TimeOff,
)
from kabinet.scheduling.services import OVERBOOK_ROLES, TRANSITIONS, Status, booking_policy, calendar_group

MAX_SLOT_DAYS = 62
MAX_APPOINTMENT_DAYS = 62


def _days_limit(days: int) -> str:
    return ngettext("Ask for at most %(n)s day at a time.", "Ask for at most %(n)s days at a time.", days) % {"n": days}


def calendar_topic_group(user: Any, location_id: int) -> str | None:
    """Staff of the location's organisation may follow its calendar live."""
    location = Location.objects.filter(pk=location_id).only("organisation_id").first()
    if location is None or not permissions.is_staff_of(user, location.organisation_id):
        return None
    return calendar_group(location_id)


def locations_for(*, organisation: Organisation) -> QuerySet[Location]:
    return Location.objects.filter(organisation=organisation, is_active=True).order_by("name")


def practitioners_for(
    *, organisation: Organisation, location_id: int | None = None, service_id: int | None = None
) -> QuerySet[Member]:
    qs = (
        Member.objects.filter(organisation=organisation, is_active=True, roles__role=Role.DOCTOR)
        .select_related("user")
        .prefetch_related("specialties", "locations", Prefetch("services", queryset=Service.objects.only("id")))
        .order_by("user__full_name")
        .distinct()
    )
    if location_id is not None:
        qs = qs.filter(locations__id=location_id)
    if service_id is not None:
        qs = qs.filter(services__id=service_id)
    return qs


def services_for(*, user: Any, organisation: Organisation) -> QuerySet[Service]:
    qs = Service.objects.filter(organisation=organisation, is_active=True).prefetch_related(
        Prefetch("practitioners", queryset=Member.objects.only("id"))
    )
    if not permissions.is_staff_of(user, organisation):
        qs = qs.filter(online_bookable=True)
    return qs.order_by("name")


def reasons_for(*, organisation: Organisation, kind: str | None = None) -> QuerySet[Reason]:
    qs = Reason.objects.filter(organisation=organisation, is_active=True)
    return qs.filter(kind=kind) if kind else qs


@dataclass(frozen=True)
class SlotQuery:
    service_id: int
    start: date
    end: date
    practitioner_id: int | None = None
    location_id: int | None = None


def _day_range(start: date, end: date, zone: Any) -> tuple[datetime, datetime]:
    first = datetime.combine(start, time.min, tzinfo=zone)
    last = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return first, last


def slots_for(*, user: Any, organisation: Organisation, query: SlotQuery) -> list[Slot]:
    """Free slots the caller may book: staff see every service from now; patients only online-bookable ones,
    within the clinic's notice and horizon."""
    if query.end < query.start:
        raise Invalid(errors={"end": [_("The end date is before the start date.")]})
    if (query.end - query.start).days >= MAX_SLOT_DAYS:
        raise Invalid(errors={"end": [_days_limit(MAX_SLOT_DAYS)]})
    service = services_for(user=user, organisation=organisation).filter(pk=query.service_id).first()
    if service is None:
        raise Invalid(errors={"service": [_("Unknown service.")]})
    location = None
    if query.location_id is not None:
        location = locations_for(organisation=organisation).filter(pk=query.location_id).first()
        if location is None:
            raise Invalid(errors={"location": [_("Unknown location.")]})
    zone = (location or locations_for(organisation=organisation).first() or Location(time_zone="UTC")).zone
    start, end = _day_range(query.start, query.end, zone)
    practitioner_ids = [m.pk for m in service.practitioners.all()]
    if query.practitioner_id is not None:
        if query.practitioner_id not in practitioner_ids:
            return []
        practitioner_ids = [query.practitioner_id]
    now = timezone.now()
    not_before = now
    if not permissions.is_staff_of(user, organisation):
        policy = booking_policy(organisation.pk)
        not_before = now + timedelta(minutes=policy.min_notice_minutes)
        end = min(end, now + timedelta(days=policy.max_days_ahead))
    return free_slots(
        service=service,
        practitioner_ids=practitioner_ids,
        start=start,
        end=end,
        not_before=not_before,
        location_id=location.pk if location else None,
    )


def _appointments_visible(user: Any, organisation: Organisation) -> QuerySet[Appointment]:
    qs = Appointment.objects.filter(organisation=organisation).select_related(
        "patient", "service", "practitioner__user", "location", "room", "reason"
    )
    if permissions.is_staff_of(user, organisation):
        return qs
    return qs.filter(patient_id__in=own_patient_ids(user))


@dataclass(frozen=True)
class AppointmentFilter:
    start: datetime
    end: datetime
    practitioner_id: int | None = None
    location_id: int | None = None
    status: str | None = None
    service_id: int | None = None


def appointments_list(*, user: Any, organisation: Organisation, filters: AppointmentFilter) -> QuerySet[Appointment]:
    if filters.end <= filters.start:
        raise Invalid(errors={"end": [_("The end is before the start.")]})
    if filters.end - filters.start > timedelta(days=MAX_APPOINTMENT_DAYS):
        raise Invalid(errors={"end": [_days_limit(MAX_APPOINTMENT_DAYS)]})
    qs = _appointments_visible(user, organisation).filter(start__lt=filters.end, end__gt=filters.start)
    if filters.practitioner_id is not None:
        qs = qs.filter(practitioner_id=filters.practitioner_id)
    if filters.location_id is not None:
        qs = qs.filter(location_id=filters.location_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.service_id is not None:
        qs = qs.filter(service_id=filters.service_id)
    return qs.order_by("start", "pk")


def appointment_get(*, user: Any, organisation: Organisation | None, appointment_id: int) -> Appointment:
    """The appointment if the caller may see it; NotFound otherwise (never 403: that would confirm it exists)."""
    org_ids = permissions.organisations_of(user)
    qs = Appointment.objects.filter(pk=appointment_id, organisation_id__in=org_ids)
    appointment = qs.select_related("patient", "service", "practitioner__user", "location", "room", "reason").first()
    if appointment is None:
        raise NotFound()
    if not permissions.is_staff_of(user, appointment.organisation_id) and (
        appointment.patient_id not in own_patient_ids(user)
    ):
        raise NotFound()
    return appointment


# --- the staff calendar page ------------------------------------------------------------------------------------

MAX_SHIFT_DAYS = 62


@dataclass(frozen=True)
class ShiftFilter:
    start: datetime
    end: datetime
    location_id: int | None = None
    practitioner_id: int | None = None


def shifts_list(*, user: Any, organisation: Organisation, filters: ShiftFilter) -> QuerySet[Shift]:
    """Working periods (with their breaks) overlapping [start, end). Staff only: patients learn free times from
    the slots, never a doctor's whole day. Two queries whatever the number of shifts."""
    permissions.require_staff(user, organisation)
    if filters.end <= filters.start:
        raise Invalid(errors={"end": [_("The end is before the start.")]})
    if filters.end - filters.start > timedelta(days=MAX_SHIFT_DAYS):
        raise Invalid(errors={"end": [_("Ask for at most %(n)s days at a time.") % {"n": MAX_SHIFT_DAYS}]})
    qs = Shift.objects.filter(organisation=organisation, start__lt=filters.end, end__gt=filters.start)
    if filters.location_id is not None:
        qs = qs.filter(location_id=filters.location_id)
    if filters.practitioner_id is not None:
        qs = qs.filter(practitioner_id=filters.practitioner_id)
    return qs.prefetch_related(Prefetch("breaks", queryset=ShiftBreak.objects.order_by("start"))).order_by(
        "start", "pk"
    )


def calendar_page(*, user: Any, organisation: Organisation) -> dict[str, Any]:
    """What the calendar page needs besides the API: the locations, the status workflow and what this user may do."""
    permissions.require_staff(user, organisation)
    return {
        "locations": [
            {"id": loc.pk, "name": loc.name, "time_zone": loc.time_zone}
            for loc in locations_for(organisation=organisation)
        ],
        "statuses": [{"value": value, "label": label} for value, label in Appointment.Status.choices],
        "transitions": {status: sorted(targets) for status, targets in TRANSITIONS.items()},
        # A hint for dragging only: appointment_move decides, and a refused move snaps back with its reason.
        "movable": [str(s) for s in (Status.PENDING, Status.SCHEDULED, Status.CONFIRMED)],
        "can_overbook": permissions.has_role(user, organisation, *OVERBOOK_ROLES),
    }


# --- schedules: the month grid, monthly hour norms, calendar feeds -----------------------------------------------
# "Planned" time is working time: shifts minus their breaks minus time off. "Worked" time is the part of planned
# time that already lies before now. There is no time clock in kabinet, and counting completed appointments would
# call a doctor who waited for patients idle, so the schedule is the record of presence. Each shift counts in the
# month of its local start date (the location's time zone).

Interval = tuple[datetime, datetime]


def _working(window: Interval, blocked: list[Interval]) -> list[Interval]:
    """`window` minus the union of `blocked`, as sorted intervals."""
    free: list[Interval] = []
    cursor, end = window
    for b_start, b_end in sorted(blocked):
        if b_end <= cursor:
            continue
        if b_start >= end:
            break
        if b_start > cursor:
            free.append((cursor, b_start))
        cursor = max(cursor, b_end)
    if cursor < end:
        free.append((cursor, end))
    return free


def _minutes(intervals: Iterable[Interval], until: datetime | None = None) -> int:
    total = timedelta(0)
    for start, end in intervals:
        if until is not None:
            end = min(end, until)
        if end > start:
            total += end - start
    return int(total.total_seconds() // 60)


def _previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class NormSummary:
    """One doctor's month: the norm (None when not set), planned and worked minutes, and the balance carried in
    from the previous month. balance = planned − norm + carried in; it is carried into the next month."""

    practitioner_id: int
    month: date
    norm_minutes: int | None
    planned_minutes: int
    worked_minutes: int
    carry_in_minutes: int

    @property
    def balance_minutes(self) -> int | None:
        if self.norm_minutes is None:
            return None
        return self.planned_minutes - self.norm_minutes + self.carry_in_minutes


def hour_norms(
    *,
    user: Any,
    organisation: Organisation,
    month: date,
    practitioner_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> dict[int, NormSummary]:
    """Norm, planned, worked and carried balance of each doctor for `month`, for the clinic's staff.

    The carry-over chain runs back through consecutive months that have a norm; a month without a norm is not
    tracked and carries nothing over. Five queries (plus the caller's roles, once per request) whatever the
    number of shifts, doctors or months."""
    permissions.require_staff(user, organisation)
    month = month.replace(day=1)
    now = now or timezone.now()
    if practitioner_ids is None:
        doctors = Member.objects.filter(organisation=organisation, is_active=True, roles__role=Role.DOCTOR)
        ids = list(doctors.values_list("pk", flat=True).distinct())
    else:
        ids = list(practitioner_ids)
    norms = {
        (pid, m): minutes
        for pid, m, minutes in HourNorm.objects.filter(
            organisation=organisation, practitioner_id__in=ids, month__lte=month
        ).values_list("practitioner_id", "month", "norm_minutes")
    }
    chains: dict[int, list[date]] = {}
    for pid in ids:
        months = [month]
        previous = _previous_month(month)
        while (pid, previous) in norms:
            months.insert(0, previous)
            previous = _previous_month(previous)
        chains[pid] = months
    first = min((months[0] for months in chains.values()), default=month)
    # A day of margin on both sides: a shift belongs to the month of its local date, whatever its UTC time.
    low = datetime.combine(first - timedelta(days=1), time.min, tzinfo=UTC)
    high = datetime.combine(_next_month(month) + timedelta(days=1), time.min, tzinfo=UTC)
    shift_filter = {"organisation": organisation, "practitioner_id__in": ids, "start__lt": high, "end__gt": low}
    shifts = list(
        Shift.objects.filter(**shift_filter).values_list("pk", "practitioner_id", "start", "end", "location__time_zone")
    )
    breaks: dict[int, list[Interval]] = defaultdict(list)
    for shift_id, b_start, b_end in ShiftBreak.objects.filter(
        **{f"shift__{k}": v for k, v in shift_filter.items()}
    ).values_list("shift_id", "start", "end"):
        breaks[shift_id].append((b_start, b_end))
    away: dict[int, list[Interval]] = defaultdict(list)
    for pid, off_start, off_end in TimeOff.objects.filter(
        organisation=organisation, practitioner_id__in=ids, start__lt=high, end__gt=low
    ).values_list("practitioner_id", "start", "end"):
        away[pid].append((off_start, off_end))
    planned: dict[tuple[int, date], int] = defaultdict(int)
    worked: dict[tuple[int, date], int] = defaultdict(int)
    for shift_id, pid, start, end, zone_name in shifts:
        shift_month = timezone.localtime(start, ZoneInfo(zone_name)).date().replace(day=1)
        if shift_month not in chains.get(pid, ()):
            continue
        intervals = _working((start, end), breaks[shift_id] + away[pid])
        planned[(pid, shift_month)] += _minutes(intervals)
        worked[(pid, shift_month)] += _minutes(intervals, until=now)
    result = {}
    for pid, months in chains.items():
        carry = 0
        for m in months[:-1]:
            carry += planned[(pid, m)] - norms[(pid, m)]
        result[pid] = NormSummary(
            practitioner_id=pid,
            month=month,
            norm_minutes=norms.get((pid, month)),
            planned_minutes=planned[(pid, month)],
            worked_minutes=worked[(pid, month)],
            carry_in_minutes=carry,
        )
    return result


@dataclass(frozen=True)
class GridShift:
    id: int
    start: time
    end: time
    breaks: list[tuple[time, time]]
    template_name: str
    colour: str
    location_name: str
    elsewhere: bool  # at another location than the grid's: shown, not editable here


@dataclass(frozen=True)
class GridTimeOff:
    id: int
    kind: str
    label: str
    first_day: date  # local dates at the grid's location, both included
    last_day: date


@dataclass(frozen=True)
class GridCell:
    day: date
    shifts: list[GridShift]
    time_off: list[GridTimeOff]

    @property
    def is_weekend(self) -> bool:
        return self.day.weekday() >= 5


@dataclass(frozen=True)
class GridRow:
    practitioner: Member
    cells: list[GridCell]
    norm: NormSummary
    time_off: list[GridTimeOff]


@dataclass(frozen=True)
class ScheduleMonth:
    location: Location
    month: date
    days: list[date]
    rows: list[GridRow]
    templates: list[ShiftTemplate]
    can_edit: bool
    can_set_norms: bool

    @property
    def has_time_off(self) -> bool:
        return any(row.time_off for row in self.rows)

    @property
    def previous_month(self) -> date:
        return _previous_month(self.month)

    @property
    def next_month(self) -> date:
        return _next_month(self.month)


def schedule_month(
    *, user: Any, organisation: Organisation, location: Location, month: date, now: datetime | None = None
) -> ScheduleMonth:
    """The month grid of a location: every doctor of the clinic by day, their shifts (here and, greyed, elsewhere),
    time off and hour norms. Staff may see it; administrators and registrars may change it. A fixed number of
    queries whatever the number of doctors and shifts."""
    permissions.require_staff(user, organisation)
    if location.organisation_id != organisation.pk:
        raise NotFound()
    month = month.replace(day=1)
    zone = location.zone
    days = [month + timedelta(days=i) for i in range((_next_month(month) - month).days)]
    low = datetime.combine(month, time.min, tzinfo=zone)
    high = datetime.combine(_next_month(month), time.min, tzinfo=zone)
    doctors = list(
        Member.objects.filter(organisation=organisation, is_active=True, roles__role=Role.DOCTOR)
        .select_related("user")
        .order_by("user__full_name", "pk")
        .distinct()
    )
    ids = [d.pk for d in doctors]
    shifts = (
        Shift.objects.filter(organisation=organisation, practitioner_id__in=ids, start__lt=high, end__gt=low)
        .select_related("location", "template")
        .prefetch_related(Prefetch("breaks", queryset=ShiftBreak.objects.order_by("start")))
        .order_by("start")
    )
    by_cell: dict[tuple[int, date], list[GridShift]] = defaultdict(list)
    for shift in shifts:
        # Shifts elsewhere read in their own location's time ("09:00 in Moscow"), on their own local day.
        shift_zone = zone if shift.location_id == location.pk else shift.location.zone
        local = timezone.localtime(shift.start, shift_zone)
        by_cell[(shift.practitioner_id, local.date())].append(
            GridShift(
                id=shift.pk,
                start=local.time(),
                end=timezone.localtime(shift.end, shift_zone).time(),
                breaks=[
                    (timezone.localtime(b.start, shift_zone).time(), timezone.localtime(b.end, shift_zone).time())
                    for b in shift.breaks.all()
                ],
                template_name=shift.template.name if shift.template else "",
                colour=shift.template.colour if shift.template else "#e0f2f1",
                location_name=shift.location.name,
                elsewhere=shift.location_id != location.pk,
            )
        )
    off_by_cell: dict[tuple[int, date], list[GridTimeOff]] = defaultdict(list)
    off_by_doctor: dict[int, list[GridTimeOff]] = defaultdict(list)
    for off in TimeOff.objects.filter(
        organisation=organisation, practitioner_id__in=ids, start__lt=high, end__gt=low
    ).order_by("start"):
        item = GridTimeOff(
            off.pk,
            off.kind,
            off.get_kind_display(),
            timezone.localtime(off.start, zone).date(),
            timezone.localtime(off.end - timedelta(microseconds=1), zone).date(),
        )
        off_by_doctor[off.practitioner_id].append(item)
        for day in days:
            day_start, day_end = (
                datetime.combine(day, time.min, tzinfo=zone),
                datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
            )
            if off.start < day_end and day_start < off.end:
                off_by_cell[(off.practitioner_id, day)].append(item)
    norms = hour_norms(user=user, organisation=organisation, month=month, practitioner_ids=ids, now=now)
    rows = [
        GridRow(
            practitioner=doctor,
            cells=[
                GridCell(day, by_cell.get((doctor.pk, day), []), off_by_cell.get((doctor.pk, day), [])) for day in days
            ],
            norm=norms[doctor.pk],
            time_off=off_by_doctor.get(doctor.pk, []),
        )
        for doctor in doctors
    ]
    editable = permissions.has_role(user, organisation, Role.ADMIN, Role.REGISTRAR)
    return ScheduleMonth(
        location=location,
        month=month,
        days=days,
        rows=rows,
        templates=list(
            ShiftTemplate.objects.filter(organisation=organisation)
            .prefetch_related("allowed_services")
            .order_by("start_time", "name")
        ),
        can_edit=editable,
        can_set_norms=permissions.has_role(user, organisation, Role.ADMIN),
    )


def shift_get(*, user: Any, organisation: Organisation, shift_id: int) -> Shift:
    permissions.require_staff(user, organisation)
    shift = (
        Shift.objects.filter(pk=shift_id, organisation=organisation).select_related("location", "practitioner").first()
    )
    if shift is None:
        raise NotFound()
    return shift


def time_off_get(*, user: Any, organisation: Organisation, time_off_id: int) -> TimeOff:
    permissions.require_staff(user, organisation)
    time_off = TimeOff.objects.filter(pk=time_off_id, organisation=organisation).first()
    if time_off is None:
        raise NotFound()
    return time_off


@dataclass(frozen=True)
class FeedRow:
    practitioner: Member
    feed: CalendarFeed | None


def calendar_feeds_for(*, user: Any, organisation: Organisation) -> list[FeedRow]:
    """Whose feeds the caller manages: an administrator every doctor's, a doctor their own, others none."""
    doctors = practitioners_for(organisation=organisation)
    if not permissions.has_role(user, organisation, Role.ADMIN):
        if not permissions.is_staff_of(user, organisation):
            return []
        doctors = doctors.filter(user=user)
    active = {
        f.practitioner_id: f
        for f in CalendarFeed.objects.filter(organisation=organisation, revoked_at__isnull=True).order_by("created_at")
    }
    return [FeedRow(practitioner=d, feed=active.get(d.pk)) for d in doctors]


def calendar_feed_get(*, user: Any, organisation: Organisation, feed_id: int) -> CalendarFeed:
    """A feed the caller may manage (see calendar_feeds_for); NotFound otherwise."""
    feed = CalendarFeed.objects.filter(pk=feed_id, organisation=organisation).select_related("practitioner").first()
    if feed is None:
        raise NotFound()
    allowed = permissions.has_role(user, organisation, Role.ADMIN) or (
        feed.practitioner.user_id == getattr(user, "pk", None) and permissions.is_staff_of(user, organisation)
    )
    if not allowed:
        raise NotFound()
    return feed


FEED_DAYS_BACK, FEED_DAYS_AHEAD = 30, 365


def calendar_feed_by_token(token: str) -> CalendarFeed | None:
    """The active feed behind a token, if its doctor still works at the clinic; None otherwise."""
    if not token or len(token) > 100:
        return None
    return (
        CalendarFeed.objects.filter(
            token_hash=CalendarFeed.hash_token(token),
            revoked_at__isnull=True,
            practitioner__is_active=True,
            practitioner__user__is_active=True,
        )
        .select_related("practitioner__user", "organisation")
        .first()
    )


def calendar_feed_appointments(*, feed: CalendarFeed, now: datetime | None = None) -> QuerySet[Appointment]:
    """The doctor's active appointments from a month ago to a year ahead: what the feed publishes."""
    now = now or timezone.now()
    return (
        Appointment.objects.filter(
            organisation_id=feed.organisation_id,
            practitioner_id=feed.practitioner_id,
            status__in=Appointment.ACTIVE_STATUSES,
            start__gte=now - timedelta(days=FEED_DAYS_BACK),
            start__lt=now + timedelta(days=FEED_DAYS_AHEAD),
        )
        .select_related("service", "location", "practitioner__user")
        .order_by("start", "pk")
    )


# --- the patient card's Appointments tab ------------------------------------------------------------------------

PATIENT_VISITS_SHOWN = 50  # upcoming and past each; older visits are in the reports


@dataclass(frozen=True)
class PatientVisit:
    appointment: Appointment
    start: datetime  # in the location's time zone
    end: datetime
    calendar_query: str  # the staff calendar at that day, location and doctor (no personal data)
    upcoming: bool


@dataclass(frozen=True)
class PatientVisits:
    upcoming: list[PatientVisit]  # soonest first
    past: list[PatientVisit]  # newest first
    upcoming_count: int  # active upcoming visits (not cancelled, not no-shows)


def _patient_visit(appointment: Appointment, upcoming: bool) -> PatientVisit:
    zone = appointment.location.zone
    start = timezone.localtime(appointment.start, zone)
    query = f"location={appointment.location_id}&date={start:%Y-%m-%d}&doctor={appointment.practitioner_id}"
    return PatientVisit(appointment, start, timezone.localtime(appointment.end, zone), query, upcoming)


def patient_visits(*, user: Any, patient: Any, now: datetime | None = None) -> PatientVisits:
    """The patient's visits for staff of the patient's clinic: upcoming (from now, soonest first) and past (newest
    first), at most PATIENT_VISITS_SHOWN of each, with times in the location's zone. Three queries, whatever the
    number of visits."""
    if not permissions.is_staff_of(user, patient.organisation_id):
        raise NotFound()
    now = now or timezone.now()
    qs = Appointment.objects.filter(patient_id=patient.pk, organisation_id=patient.organisation_id).select_related(
        "service", "practitioner__user", "location", "reason"
    )
    upcoming = list(qs.filter(start__gte=now).order_by("start", "pk")[:PATIENT_VISITS_SHOWN])
    past = list(qs.filter(start__lt=now).order_by("-start", "-pk")[:PATIENT_VISITS_SHOWN])
    counted = qs.filter(start__gte=now, status__in=Appointment.ACTIVE_STATUSES).exclude(status=Status.COMPLETED)
    return PatientVisits(
        upcoming=[_patient_visit(a, True) for a in upcoming],
        past=[_patient_visit(a, False) for a in past],
        upcoming_count=counted.count(),
    )
