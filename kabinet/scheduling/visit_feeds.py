"""What scheduling tells the records app about visits (upcoming visits, treating doctors, services); registered in
SchedulingConfig.ready(), because records sits below scheduling and never imports it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone

from kabinet.records.registry import Visit
from kabinet.scheduling.models import Appointment, Service

TREATING_LOOKBACK = timedelta(days=365)  # a doctor seen within a year, or booked, still treats the patient


def upcoming_visits(
    organisation_id: int, start: datetime, end: datetime | None, patient_ids: Iterable[int] | None
) -> list[Visit]:
    """Active (not cancelled, not no-show) visits starting in [start, end); one query."""
    qs = Appointment.objects.filter(
        organisation_id=organisation_id, start__gte=start, status__in=Appointment.ACTIVE_STATUSES
    ).select_related("service")
    if end is not None:
        qs = qs.filter(start__lt=end)
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=list(patient_ids))
    return [
        Visit(
            patient_id=a.patient_id,
            start=a.start,
            service_id=a.service_id,
            location_id=a.location_id,
            practitioner_id=a.practitioner_id,
            label=a.service.display_name(),
        )
        for a in qs.order_by("start", "pk")
    ]


def treating_doctors(patient_id: int) -> list[int]:
    """Doctors (members) with an active visit of the patient in the last year or to come, most recent first."""
    since = timezone.now() - TREATING_LOOKBACK
    rows = (
        Appointment.objects.filter(patient_id=patient_id, start__gte=since, status__in=Appointment.ACTIVE_STATUSES)
        .order_by("-start")
        .values_list("practitioner_id", flat=True)
    )
    return list(dict.fromkeys(rows))


def service_names(organisation_id: int) -> dict[int, str]:
    return {s.pk: s.display_name() for s in Service.objects.filter(organisation_id=organisation_id).order_by("name")}
