"""What the front desk registers with scheduling at start-up: the appointment hook (freed times go to the waiting
list, completed visits plan recall calls, a moved visit drops its pending arrival) and the calendar's extension
(the visit panel marks arrival through the front desk and links the next visit)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from kabinet.core import permissions
from kabinet.frontdesk.models import Arrival
from kabinet.frontdesk.services import recall, waitlist
from kabinet.frontdesk.services.common import ARRIVAL_ROLES
from kabinet.scheduling.hooks import Previous
from kabinet.scheduling.models import Appointment

Status = Appointment.Status
HOLDING = (Status.PENDING, Status.SCHEDULED, Status.CONFIRMED)


def on_appointment_changed(appointment: Appointment, what: str, *, actor: Any, previous: Previous) -> None:
    if what == Status.CANCELLED and previous.status in HOLDING:
        waitlist.slot_freed(appointment=appointment, previous=previous, actor=actor)
    elif what == "moved":
        moved = (previous.start, previous.practitioner_id, previous.location_id) != (
            appointment.start,
            appointment.practitioner_id,
            appointment.location_id,
        )
        if moved:
            Arrival.objects.filter(appointment=appointment).delete()  # a late arrival that led to a new time
            if previous.status in HOLDING:
                waitlist.slot_freed(appointment=appointment, previous=previous, actor=actor)
    elif what == Status.COMPLETED:
        recall.recall_plan(appointment=appointment, actor=actor)


def calendar_extension(user: Any, organisation: Any) -> dict[str, Any] | None:
    if not permissions.has_role(user, organisation, *ARRIVAL_ROLES):
        return None
    return {
        "arrive": "appointments/{id}/arrive",  # under the API root
        "next_visit": reverse("frontdesk:next_visit", args=[0]).replace("/0/", "/{id}/"),
        "strings": {
            "arrived": _("Marked arrived."),
            "arrival_recorded": _("Arrival recorded."),
            "seen_late": _("See anyway"),
            "reschedule": _("Reschedule…"),
            "next_visit": _("Next visit…"),
            "first_free": _("First free times:"),
        },
    }
