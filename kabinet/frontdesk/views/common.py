"""What the front-desk pages share: the staff-only wrapper (domain errors become error pages) and the day asked for."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest

from kabinet.core.decorators import staff_page_for
from kabinet.core.models import Organisation
from kabinet.frontdesk.services.common import READ_ROLES, organisation_today

staff_page = staff_page_for(*READ_ROLES)  # who may read the front-desk lists


def day_of(request: HttpRequest, organisation: Organisation) -> date:
    try:
        return date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return organisation_today(organisation.pk)
