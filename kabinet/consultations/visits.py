"""Video visits in the staff calendar: what consultations hands to scheduling's calendar page (registered in
apps.py through scheduling.hooks, so scheduling never imports consultations).

calendar.js shows "Start video call" on a visit of a video service when the user may call it: the visit's doctor
(`member`) or a nurse working at the visit's location (`locations`). The server decides again on every start.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from kabinet.consultations import access
from kabinet.consultations.services.video import CALLABLE_STATUSES
from kabinet.core import permissions
from kabinet.core.models import Role


def calendar_extension(user: Any, organisation: Any) -> dict[str, Any] | None:
    if not permissions.has_role(user, organisation, Role.DOCTOR, *access.APPOINTMENT_CALL_ROLES):
        return None
    member = access.member_of(user, organisation.pk)
    if member is None:
        return None
    nurse = permissions.has_role(user, organisation, *access.APPOINTMENT_CALL_ROLES)
    return {
        "start": "appointments/{id}/video-call",  # under the API root
        "member": member.pk,
        "locations": sorted(member.locations.values_list("pk", flat=True)) if nurse else [],
        "statuses": [str(status) for status in CALLABLE_STATUSES],
        "strings": {"start": _("Start video call"), "starting": _("Starting the video call…")},
    }
