"""Reads for the calendar and booking: locations, practitioners, services, slots, appointments — scoped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.core import permissions
from kabinet.core.exceptions import Invalid, NotFound
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients.selectors import own_patient_ids
from kabinet.scheduling.availability import Slot, free_slots
from kabinet.scheduling.models import Appointment, Reason, Service
from kabinet.scheduling.services import booking_policy, calendar_group

MAX_SLOT_DAYS = 62
MAX_APPOINTMENT_DAYS = 62


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
        raise Invalid(errors={"end": [_("Ask for at most %(n)s days at a time.") % {"n": MAX_SLOT_DAYS}]})
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
        raise Invalid(errors={"end": [_("Ask for at most %(n)s days at a time.") % {"n": MAX_APPOINTMENT_DAYS}]})
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
