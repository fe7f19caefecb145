"""Patient list criteria shared by the search page and the API, and the registry that higher apps fill at start-up.

Visits live in `scheduling`, which sits above `patients`, so this module never imports it. Instead the scheduling
app declares where its visits are, in its AppConfig.ready():

    register_visit_source("scheduling.Appointment", exclude_statuses=("cancelled", "no_show"))

and the doctor, location, service-had, last-visit and next-visit filters become available; until then they are
absent from the form and ignored by the API. Other apps add their own filters (debt, consent state) with
`register_filter(name, apply)` and a field on PatientCriteria.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Exists, Model, OuterRef, QuerySet, Subquery
from django.utils import timezone

from kabinet.core.models import Organisation

VISIT_FILTERS = ("doctor", "location", "service", "last_visit", "next_visit")


@dataclass(frozen=True)
class PatientCriteria:
    """What a list of patients is narrowed by. Plain data, so a saved segment can store `as_dict()`."""

    query: str = ""
    status: str = ""
    tag: int | None = None
    sex: str = ""
    language: str = ""
    source: str = ""
    age_min: int | None = None
    age_max: int | None = None
    doctor: int | None = None  # core.Member id of a practitioner the patient had or has visits with
    location: int | None = None
    service: int | None = None  # a service the patient had (a past visit)
    last_visit_from: date | None = None
    last_visit_to: date | None = None
    next_visit_from: date | None = None
    next_visit_to: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # values for filters registered by other apps

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", {})}

    def as_json(self) -> dict[str, Any]:
        """`as_dict()` with dates as ISO strings, for a JSONField (saved segments)."""
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in self.as_dict().items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PatientCriteria:
        """The criteria stored by `as_json()`; names no longer known (a filter app was removed) are dropped."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in (data or {}).items():
            if name not in known:
                continue
            if name.endswith(("_from", "_to")) and isinstance(value, str):
                value = date.fromisoformat(value)
            values[name] = value
        return cls(**values)


# name -> apply(queryset, criteria, organisation) -> queryset
FilterApply = Callable[[QuerySet[Any], PatientCriteria, Organisation], QuerySet[Any]]
_filters: dict[str, FilterApply] = {}


@dataclass(frozen=True)
class VisitSource:
    """Where another app keeps visits: a model with a patient, practitioner, location, service, start and status."""

    model_label: str
    exclude_statuses: tuple[str, ...] = ()
    patient: str = "patient"
    practitioner: str = "practitioner"
    location: str = "location"
    service: str = "service"
    start: str = "start"
    status: str = "status"

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.model_label)

    @property
    def service_model(self) -> type[Model]:
        related = self.model._meta.get_field(self.service).related_model
        assert isinstance(related, type)
        return related

    def visits(self) -> QuerySet[Any]:
        """Visits that count (not cancelled, not no-shows), correlated with the outer patient row."""
        qs = self.model._default_manager.filter(**{self.patient: OuterRef("pk")})
        if self.exclude_statuses:
            qs = qs.exclude(**{f"{self.status}__in": self.exclude_statuses})
        return qs


_visit_source: VisitSource | None = None


def register_filter(name: str, apply: FilterApply) -> None:
    _filters[name] = apply


def available(name: str) -> bool:
    return name in _filters


def visit_source() -> VisitSource | None:
    return _visit_source


def register_visit_source(model_label: str, *, exclude_statuses: tuple[str, ...] = (), **field_names: str) -> None:
    """Called by the app that owns visits (scheduling) at start-up; enables the visit-based filters."""
    global _visit_source
    _visit_source = VisitSource(model_label, tuple(exclude_statuses), **field_names)
    register_filter("doctor", _doctor)
    register_filter("location", _location)
    register_filter("service", _service)
    register_filter("last_visit", _last_visit)
    register_filter("next_visit", _next_visit)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _source() -> VisitSource:
    assert _visit_source is not None
    return _visit_source


def _doctor(qs: QuerySet[Any], criteria: PatientCriteria, organisation: Organisation) -> QuerySet[Any]:
    if criteria.doctor is None:
        return qs
    source = _source()
    return qs.filter(Exists(source.visits().filter(**{f"{source.practitioner}_id": criteria.doctor})))


def _location(qs: QuerySet[Any], criteria: PatientCriteria, organisation: Organisation) -> QuerySet[Any]:
    if criteria.location is None:
        return qs
    source = _source()
    return qs.filter(Exists(source.visits().filter(**{f"{source.location}_id": criteria.location})))


def _service(qs: QuerySet[Any], criteria: PatientCriteria, organisation: Organisation) -> QuerySet[Any]:
    """Had the service: a counted visit for it that has already started."""
    if criteria.service is None:
        return qs
    source = _source()
    visits = source.visits().filter(**{f"{source.service}_id": criteria.service, f"{source.start}__lt": timezone.now()})
    return qs.filter(Exists(visits))


def _range(qs: QuerySet[Any], name: str, start: date | None, end: date | None) -> QuerySet[Any]:
    if start is not None:
        qs = qs.filter(**{f"{name}__gte": _day_start(start)})
    if end is not None:
        qs = qs.filter(**{f"{name}__lt": _day_start(end + timedelta(days=1))})
    return qs


def _last_visit(qs: QuerySet[Any], criteria: PatientCriteria, organisation: Organisation) -> QuerySet[Any]:
    """The latest counted visit that has started lies in the range (patients without one never match)."""
    if criteria.last_visit_from is None and criteria.last_visit_to is None:
        return qs
    source = _source()
    latest = source.visits().filter(**{f"{source.start}__lt": timezone.now()}).order_by(f"-{source.start}")
    qs = qs.annotate(last_visit_at=Subquery(latest.values(source.start)[:1]))
    return _range(qs, "last_visit_at", criteria.last_visit_from, criteria.last_visit_to)


def _next_visit(qs: QuerySet[Any], criteria: PatientCriteria, organisation: Organisation) -> QuerySet[Any]:
    """The earliest counted visit still to come lies in the range."""
    if criteria.next_visit_from is None and criteria.next_visit_to is None:
        return qs
    source = _source()
    upcoming = source.visits().filter(**{f"{source.start}__gte": timezone.now()}).order_by(source.start)
    qs = qs.annotate(next_visit_at=Subquery(upcoming.values(source.start)[:1]))
    return _range(qs, "next_visit_at", criteria.next_visit_from, criteria.next_visit_to)


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February in a year that has none
        return today.replace(year=today.year - years, day=28)


def apply(qs: QuerySet[Any], criteria: PatientCriteria, organisation: Organisation) -> QuerySet[Any]:
    """Narrow an already scoped patient queryset by everything in `criteria` except the text query."""
    if criteria.status:
        qs = qs.filter(status=criteria.status)
    if criteria.tag is not None:
        qs = qs.filter(tags__id=criteria.tag)  # one tag: a plain join cannot duplicate rows
    if criteria.sex:
        qs = qs.filter(sex=criteria.sex)
    if criteria.language:
        qs = qs.filter(language=criteria.language)
    if criteria.source:
        qs = qs.filter(source=criteria.source)
    today = timezone.localdate()
    if criteria.age_min is not None:
        qs = qs.filter(birth_date__lte=_years_ago(today, criteria.age_min))
    if criteria.age_max is not None:
        qs = qs.filter(birth_date__gt=_years_ago(today, criteria.age_max + 1))
    for apply_filter in _filters.values():
        qs = apply_filter(qs, criteria, organisation)
    return qs
