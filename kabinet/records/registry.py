"""What records needs to know about visits, filled in at start-up by the app that owns them (scheduling).

Visits live in `scheduling`, above `records`, so this app never imports it. Scheduling registers three functions in
its AppConfig.ready():

    register_visit_feed(upcoming=..., treating_doctors=..., services=...)

- upcoming(organisation_id, start, end, patient_ids) → the counted visits (not cancelled, not no-shows) starting in
  [start, end) (end None: no end), optionally only for some patients, as Visit rows — for mandatory documents;
- treating_doctors(patient_id) → the core.Member ids of the doctors the patient has (had) visits with — patients'
  uploads go to them;
- services(organisation_id) → {service id: name} — to name a rule's scope.

Until something registers, rules that name a service never match a visit, there are no upcoming visits (the
missing-documents list is empty and says why) and patients' uploads go to administrators only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Visit:
    patient_id: int
    start: datetime
    service_id: int | None = None
    location_id: int | None = None
    practitioner_id: int | None = None
    label: str = ""  # e.g. the service's name, shown in lists


UpcomingVisits = Callable[[int, datetime, datetime | None, Iterable[int] | None], list[Visit]]
TreatingDoctors = Callable[[int], list[int]]
ServiceNames = Callable[[int], dict[int, str]]


@dataclass(frozen=True)
class VisitFeed:
    upcoming: UpcomingVisits
    treating_doctors: TreatingDoctors
    services: ServiceNames


_feed: VisitFeed | None = None


def register_visit_feed(*, upcoming: UpcomingVisits, treating_doctors: TreatingDoctors, services: ServiceNames) -> None:
    global _feed
    _feed = VisitFeed(upcoming=upcoming, treating_doctors=treating_doctors, services=services)


def visit_feed() -> VisitFeed | None:
    return _feed


def upcoming_visits(
    organisation_id: int, start: datetime, end: datetime | None = None, patient_ids: Iterable[int] | None = None
) -> list[Visit]:
    if _feed is None:
        return []
    return _feed.upcoming(organisation_id, start, end, None if patient_ids is None else list(patient_ids))


def treating_doctors(patient_id: int) -> list[int]:
    return [] if _feed is None else _feed.treating_doctors(patient_id)


def service_names(organisation_id: int) -> dict[int, str]:
    return {} if _feed is None else _feed.services(organisation_id)
