"""The organisation a request acts in: the one chosen in the session, else the user's first membership."""

from __future__ import annotations

from django.http import HttpRequest

from kabinet.core import permissions
from kabinet.core.models import Organisation

SESSION_KEY = "kabinet_organisation"


def current_organisation(request: HttpRequest) -> Organisation | None:
    cached = getattr(request, "_kabinet_organisation", None)
    if cached is not None:
        return cached
    org_ids = permissions.organisations_of(request.user)
    if not org_ids:
        return None
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    org_id = chosen if chosen in org_ids else min(org_ids)
    member = permissions.active_member(request.user, org_id)  # read with its organisation (roles_by_organisation)
    org = member.organisation if member is not None else Organisation.objects.get(pk=org_id)
    request._kabinet_organisation = org  # type: ignore[attr-defined]
    return org


def choose_organisation(request: HttpRequest, organisation_id: int) -> bool:
    if organisation_id not in permissions.organisations_of(request.user):
        return False
    request.session[SESSION_KEY] = organisation_id
    request.__dict__.pop("_kabinet_organisation", None)
    return True
