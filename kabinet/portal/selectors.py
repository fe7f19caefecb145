"""Reads for the public booking page: what a visitor may choose at each step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids
from kabinet.scheduling.availability import Slot
from kabinet.scheduling.models import Service
from kabinet.scheduling.selectors import SlotQuery, slots_for
from kabinet.scheduling.services import booking_policy


@dataclass
class BookingState:
    """What the visitor has chosen so far (from the query string), validated against the organisation."""

    organisation: Organisation
    locations: list[Location]
    location: Location | None = None
    services: list[Service] = field(default_factory=list)
    service: Service | None = None
    practitioners: list[Member] = field(default_factory=list)
    practitioner: Member | None = None
    days: list[date] = field(default_factory=list)
    day: date | None = None
    slots: list[Slot] = field(default_factory=list)
    slot: Slot | None = None
    patients: list[Patient] = field(default_factory=list)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def booking_state(*, user: Any, organisation: Organisation, params: Any) -> BookingState:
    locations = list(Location.objects.filter(organisation=organisation, is_active=True).order_by("name"))
    state = BookingState(organisation=organisation, locations=locations)
    state.location = next((x for x in locations if x.pk == _int(params.get("location"))), None)
    if state.location is None and len(locations) == 1:
        state.location = locations[0]
    if state.location is None:
        return state
    state.services = list(
        Service.objects.filter(
            organisation=organisation,
            is_active=True,
            online_bookable=True,
            practitioners__locations=state.location,
            practitioners__is_active=True,
        )
        .distinct()
        .order_by("name")
    )
    state.service = next((x for x in state.services if x.pk == _int(params.get("service"))), None)
    if state.service is None:
        return state
    state.practitioners = list(
        state.service.practitioners.filter(is_active=True, locations=state.location)
        .select_related("user")
        .order_by("user__full_name")
    )
    state.practitioner = next((x for x in state.practitioners if x.pk == _int(params.get("practitioner"))), None)
    policy = booking_policy(organisation.pk)
    today = timezone.localdate(timezone.now(), state.location.zone)
    state.days = [today + timedelta(days=i) for i in range(min(policy.max_days_ahead, 28) + 1)]
    try:
        state.day = date.fromisoformat(params.get("date", ""))
    except ValueError:
        state.day = None
    if state.day not in state.days:
        state.day = None
    query = SlotQuery(
        service_id=state.service.pk,
        start=state.day or state.days[0],
        end=state.day or state.days[-1],
        practitioner_id=state.practitioner.pk if state.practitioner else None,
        location_id=state.location.pk,
    )
    slots = slots_for(user=user, organisation=organisation, query=query)
    if state.day is None and slots:
        # Jump to the first day with a free slot.
        state.day = timezone.localtime(slots[0].start, state.location.zone).date()
        slots = [s for s in slots if timezone.localtime(s.start, state.location.zone).date() == state.day]
    state.slots = slots
    chosen_start, chosen_practitioner = params.get("start", ""), _int(params.get("with"))
    try:
        start = datetime.fromisoformat(chosen_start) if chosen_start else None
    except ValueError:
        start = None
    state.slot = next(
        (s for s in slots if start is not None and s.start == start and s.practitioner_id == chosen_practitioner),
        None,
    )
    if state.slot is not None and getattr(user, "is_authenticated", False):
        state.patients = list(
            Patient.objects.filter(organisation=organisation, pk__in=own_patient_ids(user)).order_by("pk")
        )
    return state
