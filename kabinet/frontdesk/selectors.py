"""Reads for the front-desk pages and API, scoped to the caller's organisation and role, with a fixed number of
queries whatever the length of the lists: worklists, the day's board, the waiting list, offers, reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.core import permissions
from kabinet.core.exceptions import Invalid, NotFound
from kabinet.core.models import Organisation
from kabinet.frontdesk.models import (
    Arrival,
    CallAttempt,
    RecallRule,
    Refusal,
    RefusalReason,
    WaitlistEntry,
    WaitlistOffer,
    WorklistItem,
)
from kabinet.frontdesk.services.common import READ_ROLES, WORK_ROLES, board_group, organisation_zone
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment, Reason

Kind = WorklistItem.Kind
MAX_REPORT_DAYS = 366
OUTSIDE_ACTIVE = (Patient.Status.PASSIVE, Patient.Status.REFUSAL, Patient.Status.ARCHIVED)


def can_work(user: Any, organisation: Organisation | int | None) -> bool:
    return permissions.has_role(user, organisation, *WORK_ROLES)


def can_read(user: Any, organisation: Organisation | int | None) -> bool:
    return permissions.has_role(user, organisation, *READ_ROLES)


def board_topic_group(user: Any, organisation_id: int) -> str | None:
    """Who may read the front-desk lists (READ_ROLES) may follow the clinic's board live (realtime topic
    "frontdesk")."""
    if not can_read(user, organisation_id):
        return None
    return board_group(organisation_id)


def _items(organisation: Organisation) -> QuerySet[WorklistItem]:
    return (
        WorklistItem.objects.filter(organisation=organisation)
        .select_related(
            "patient",
            "location",
            "appointment__service",
            "appointment__practitioner__user",
            "appointment__location",
            "offer__service",
            "offer__practitioner__user",
            "offer__location",
            "waitlist_entry__service",
            "recall_rule",
            "closed_by",
        )
        .prefetch_related(
            Prefetch("call_attempts", queryset=CallAttempt.objects.select_related("operator").order_by("at", "pk"))
        )
    )


def worklist(*, user: Any, organisation: Organisation, kind: str, day: date) -> list[WorklistItem]:
    """The calls of `kind` for `day`, open ones first (soonest call first), then the done ones. The waiting list and
    the recall diary carry over open calls of earlier days."""
    permissions.require_role(user, organisation, *READ_ROLES)
    if kind not in Kind.values:
        raise NotFound()
    qs = _items(organisation).filter(kind=kind)
    if kind == Kind.CONFIRMATION:
        qs = qs.filter(day=day)
    else:
        qs = qs.filter(Q(day=day) | Q(day__lt=day, state=WorklistItem.State.OPEN))
    items = list(qs)
    far = datetime.max.replace(tzinfo=UTC)
    items.sort(
        key=lambda i: (
            i.state != WorklistItem.State.OPEN,
            i.next_call_at or far if i.is_open else far,
            -(i.closed_at.timestamp() if i.closed_at else 0),
            i.pk,
        )
    )
    return items


def worklist_item_get(*, user: Any, organisation: Organisation | None, item_id: int) -> WorklistItem:
    """The item if the caller may see it; NotFound for another clinic's (never 403: that would confirm it exists)."""
    if organisation is None:
        raise NotFound()
    item = _items(organisation).filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    permissions.require_role(user, organisation, *READ_ROLES)
    return item


@dataclass
class ListProgress:
    kind: str
    total: int = 0
    open: int = 0
    done: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # closed items by outcome, plus "no_answer" of open ones
    next_up: list[WorklistItem] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


@dataclass
class Board:
    day: date
    lists: dict[str, ListProgress]
    offers_open: int
    waiting: int
    arrived: int = 0  # patients marked arrived on the day (in the clinic's zone)
    arrived_late: int = 0


def board(*, user: Any, organisation: Organisation, day: date, next_count: int = 5) -> Board:
    """Progress of the day's lists: counts per outcome and who to call next. Three queries per list."""
    permissions.require_role(user, organisation, *READ_ROLES)
    now = timezone.now()
    lists = {}
    for kind in Kind.values:
        items = worklist(user=user, organisation=organisation, kind=kind, day=day)
        progress = ListProgress(kind=kind, total=len(items))
        counts: Counter[str] = Counter()
        for item in items:
            if item.is_open:
                progress.open += 1
                if item.outcome in (WorklistItem.Outcome.NO_ANSWER, WorklistItem.Outcome.CALL_BACK):
                    counts[item.outcome] += 1
            else:
                progress.done += 1
                counts[item.outcome or "obsolete"] += 1
        progress.outcomes = dict(counts)
        progress.next_up = [i for i in items if i.is_open][:next_count]
        for item in progress.next_up:
            item.due = item.next_call_at is None or item.next_call_at <= now  # type: ignore[attr-defined]
        lists[kind] = progress
    zone = organisation_zone(organisation.pk)
    arrivals = Arrival.objects.filter(
        organisation=organisation,
        arrived_at__gte=datetime.combine(day, time.min, tzinfo=zone),
        arrived_at__lt=datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    ).aggregate(total=Count("pk"), late=Count("pk", filter=~Q(lateness=Arrival.Lateness.ON_TIME)))
    return Board(
        day=day,
        lists=lists,
        arrived=arrivals["total"],
        arrived_late=arrivals["late"],
        offers_open=WaitlistOffer.objects.filter(
            organisation=organisation, state=WaitlistOffer.State.OPEN, expires_at__gt=now
        ).count(),
        waiting=WaitlistEntry.objects.filter(organisation=organisation, state=WaitlistEntry.State.WAITING).count(),
    )


def waitlist_entries(
    *, user: Any, organisation: Organisation, state: str = WaitlistEntry.State.WAITING, service_id: int | None = None
) -> QuerySet[WaitlistEntry]:
    permissions.require_role(user, organisation, *READ_ROLES)
    qs = (
        WaitlistEntry.objects.filter(organisation=organisation)
        .select_related("patient", "service", "location", "appointment")
        .prefetch_related("practitioners__user")
        .annotate(open_offers=Count("offers", filter=Q(offers__state=WaitlistOffer.State.OPEN)))
        .order_by("created_at", "pk")
    )
    if state:
        qs = qs.filter(state=state)
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    return qs


def waitlist_entry_get(*, user: Any, organisation: Organisation | None, entry_id: int) -> WaitlistEntry:
    if organisation is None:
        raise NotFound()
    entry = waitlist_entries(user=user, organisation=organisation, state="").filter(pk=entry_id).first()
    if entry is None:
        raise NotFound()
    return entry


def open_offers(*, user: Any, organisation: Organisation) -> QuerySet[WaitlistOffer]:
    permissions.require_role(user, organisation, *READ_ROLES)
    return (
        WaitlistOffer.objects.filter(
            organisation=organisation, state=WaitlistOffer.State.OPEN, expires_at__gt=timezone.now()
        )
        .select_related("entry__patient", "service", "practitioner__user", "location")
        .order_by("start", "pk")
    )


def refusal_reasons(*, organisation: Organisation) -> QuerySet[RefusalReason]:
    return RefusalReason.objects.filter(organisation=organisation, is_active=True).order_by("name")


def cancel_reasons(*, organisation: Organisation) -> QuerySet[Reason]:
    return Reason.objects.filter(organisation=organisation, kind=Reason.Kind.CANCEL, is_active=True)


def recall_rules(*, user: Any, organisation: Organisation) -> QuerySet[RecallRule]:
    permissions.require_role(user, organisation, *READ_ROLES)
    return RecallRule.objects.filter(organisation=organisation).select_related("service").order_by("service", "pk")


# --- reports ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def bounds(self, zone: Any) -> tuple[datetime, datetime]:
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone),
        )


def period(start: date | None, end: date | None, organisation: Organisation) -> Period:
    """The asked period, the last 30 days by default; at most a year."""
    today = timezone.localdate(timezone.now(), organisation_zone(organisation.pk))
    end = end or today
    start = start or end - timedelta(days=29)
    if end < start:
        raise Invalid(errors={"end": [_("The end date is before the start date.")]})
    if (end - start).days >= MAX_REPORT_DAYS:
        raise Invalid(errors={"end": [_("Ask for at most a year at a time.")]})
    return Period(start, end)


@dataclass(frozen=True)
class NoShowRow:
    key: int | None
    label: str
    visits: int
    no_shows: int

    @property
    def rate(self) -> float:
        return round(100 * self.no_shows / self.visits, 1) if self.visits else 0.0


NO_SHOW_GROUPS = {"doctor": "practitioner", "service": "service", "location": "location"}


def no_show_report(*, user: Any, organisation: Organisation, span: Period, by: str = "doctor") -> list[NoShowRow]:
    """No-shows per doctor, service or location in the period, out of the visits that were due (not cancelled)."""
    permissions.require_role(user, organisation, *READ_ROLES)
    if by not in NO_SHOW_GROUPS:
        raise Invalid(errors={"by": [_("Group by doctor, service or location.")]})
    start, end = span.bounds(organisation_zone(organisation.pk))
    field_name = NO_SHOW_GROUPS[by]
    rows = (
        Appointment.objects.filter(organisation=organisation, start__gte=start, start__lt=end)
        .exclude(status__in=(Appointment.Status.CANCELLED, Appointment.Status.PENDING))
        .values(field_name)
        .annotate(visits=Count("pk"), no_shows=Count("pk", filter=Q(status=Appointment.Status.NO_SHOW)))
        .order_by()
    )
    labels = _labels(organisation, by)
    out = [NoShowRow(r[field_name], labels.get(r[field_name], "—"), r["visits"], r["no_shows"]) for r in rows]
    return sorted(out, key=lambda r: (-r.no_shows, r.label.casefold()))


def _labels(organisation: Organisation, by: str) -> dict[int, str]:
    from kabinet.core.models import Location, Member
    from kabinet.scheduling.models import Service

    if by == "doctor":
        return {m.pk: str(m.user) for m in Member.objects.filter(organisation=organisation).select_related("user")}
    if by == "service":
        return {s.pk: s.display_name() for s in Service.objects.filter(organisation=organisation)}
    return {loc.pk: loc.name for loc in Location.objects.filter(organisation=organisation)}


def no_show_visits(*, user: Any, organisation: Organisation, span: Period) -> QuerySet[Appointment]:
    """The no-show visits themselves, for the CSV."""
    permissions.require_role(user, organisation, *READ_ROLES)
    start, end = span.bounds(organisation_zone(organisation.pk))
    return (
        Appointment.objects.filter(
            organisation=organisation, start__gte=start, start__lt=end, status=Appointment.Status.NO_SHOW
        )
        .select_related("patient", "service", "practitioner__user", "location", "reason")
        .order_by("start", "pk")
    )


@dataclass(frozen=True)
class RefusalRow:
    reason_id: int
    label: str
    refusals: int


def refusal_report(*, user: Any, organisation: Organisation, span: Period) -> list[RefusalRow]:
    permissions.require_role(user, organisation, *READ_ROLES)
    start, end = span.bounds(organisation_zone(organisation.pk))
    rows = (
        Refusal.objects.filter(organisation=organisation, created_at__gte=start, created_at__lt=end)
        .values("reason_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    names = {r.pk: r.display_name() for r in RefusalReason.objects.filter(organisation=organisation)}
    return sorted(
        (RefusalRow(r["reason_id"], names.get(r["reason_id"], "—"), r["n"]) for r in rows),
        key=lambda r: (-r.refusals, r.label.casefold()),
    )


def refusals_list(*, user: Any, organisation: Organisation, span: Period) -> QuerySet[Refusal]:
    permissions.require_role(user, organisation, *READ_ROLES)
    start, end = span.bounds(organisation_zone(organisation.pk))
    return (
        Refusal.objects.filter(organisation=organisation, created_at__gte=start, created_at__lt=end)
        .select_related("patient", "reason", "created_by")
        .order_by("-created_at", "-pk")
    )


def outside_active_base(*, user: Any, organisation: Organisation, status: str = "") -> QuerySet[Patient]:
    """Patients who are passive, refused or archived, with the date of their last counted visit."""
    permissions.require_role(user, organisation, *READ_ROLES)
    statuses = [status] if status in OUTSIDE_ACTIVE else list(OUTSIDE_ACTIVE)
    last_visit = (
        Appointment.objects.filter(patient_id=OuterRef("pk"), start__lt=timezone.now())
        .exclude(status__in=(Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW))
        .values("patient_id")
        .annotate(last=Max("start"))
        .values("last")
    )
    return (
        Patient.objects.filter(organisation=organisation, status__in=statuses)
        .annotate(last_visit=Subquery(last_visit[:1]))
        .order_by("family_name", "given_name", "pk")
    )
