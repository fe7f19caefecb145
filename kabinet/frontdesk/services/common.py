"""What every front-desk service shares: who may do what, the clinic's policy, its time zone, the patient timeline,
the variables of the messages about a visit, and the live "the board changed" event."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone, translation

from kabinet.core import realtime
from kabinet.core.models import STAFF_ROLES, Location, Organisation, Role
from kabinet.frontdesk.calling import CallWindow, parse_windows
from kabinet.frontdesk.models import FrontDeskPolicy
from kabinet.notifications.rendering import Translated
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import BOOKING_ROLES

# Who works the call lists, the waiting list and the recall diary; every other staff member (doctors, nurses,
# coordinators) only looks at them — like the patient card, which every staff member of the clinic reads.
WORK_ROLES = (Role.ADMIN, Role.REGISTRAR, Role.OPERATOR)
READ_ROLES = tuple(sorted(STAFF_ROLES))
# Marking arrival is a status change of the visit: whoever may change it in the calendar.
ARRIVAL_ROLES = BOOKING_ROLES


BOARD_CHANGED = "frontdesk.changed"


def board_group(organisation_id: int) -> str:
    """The websocket group of one clinic's front-desk board (realtime topic "frontdesk", id = the organisation)."""
    return f"frontdesk.{organisation_id}"


def board_changed(
    organisation_id: int,
    *,
    what: str,
    kind: str = "",
    location_id: int | None = None,
    day: date | None = None,
) -> None:
    """Tell the clinic's open boards that their worklists changed, once the surrounding transaction commits (nothing
    is sent when it rolls back). Ids and codes only: the board fetches its panel through the permission-checked view."""
    realtime.publish(
        board_group(organisation_id),
        BOARD_CHANGED,
        {
            "organisation": organisation_id,
            "what": what,
            "kind": kind,
            "location": location_id,
            "day": day.isoformat() if day else None,
        },
    )


def policy_for(organisation_id: int) -> FrontDeskPolicy:
    policy, _created = FrontDeskPolicy.objects.get_or_create(organisation_id=organisation_id)
    return policy


def windows_of(policy: FrontDeskPolicy) -> list[CallWindow]:
    return parse_windows(policy.call_windows)


def organisation_zone(organisation_id: int) -> zoneinfo.ZoneInfo:
    """The zone of the clinic's first active location (days of lists are counted there), else the server's."""
    location = Location.objects.filter(organisation_id=organisation_id, is_active=True).order_by("pk").first()
    return location.zone if location is not None else zoneinfo.ZoneInfo(settings.TIME_ZONE)


def organisation_today(organisation_id: int) -> date:
    return timezone.localdate(timezone.now(), organisation_zone(organisation_id))


def in_org_language(organisation: Organisation) -> translation.override:
    """Timeline titles are stored as text in the clinic's language (like patients' and scheduling's)."""
    return translation.override(organisation.default_language)


def local_text(moment: datetime, zone: Any) -> str:
    """ "12.05.2026 09:30" in the zone, in the active language's short format."""
    from django.utils.formats import date_format

    return date_format(timezone.localtime(moment, zone), "SHORT_DATETIME_FORMAT")


def timeline(
    patient: Patient,
    *,
    kind: str,
    title: str,
    actor: Any,
    body: str = "",
    ref_type: str = "",
    ref_id: str | int = "",
    data: dict[str, Any] | None = None,
) -> None:
    from kabinet.patients.services import timeline_add

    timeline_add(
        patient=patient, kind=kind, title=title, body=body, actor=actor, ref_type=ref_type, ref_id=ref_id, data=data
    )


def _names(obj: Any) -> Translated:
    return Translated({code: obj.display_name(code) for code, _name in settings.LANGUAGES})


def visit_context(
    *,
    organisation: Organisation,
    patient: Patient,
    service: Any,
    practitioner: Any,
    location: Location,
    start: datetime,
    links: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The variables of notifications' visit messages (VISIT_VARIABLES) for a visit, booked or offered."""
    doctor = " ".join(part for part in (practitioner.title, str(practitioner.user)) if part)
    return {
        "patient": {"name": str(patient), "first_name": patient.given_name},
        "doctor": {"name": doctor},
        "service": {"name": _names(service)},
        "location": {"name": location.name, "address": location.address},
        "clinic": {"name": organisation.name},
        "links": {"portal": settings.SITE_URL.rstrip("/") + "/my/", **(links or {})},
        "time": start,
    }


def appointment_context(appointment: Appointment, organisation: Organisation, **links: str) -> dict[str, Any]:
    return visit_context(
        organisation=organisation,
        patient=appointment.patient,
        service=appointment.service,
        practitioner=appointment.practitioner,
        location=appointment.location,
        start=appointment.start,
        links=links or None,
    )
