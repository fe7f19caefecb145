"""Template context for the shell: current organisation, the user's organisations and roles, languages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kabinet.core import permissions, selectors, tenancy


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    organisation = tenancy.current_organisation(request)
    roles = permissions.roles_in(user, organisation)
    return {
        "current_organisation": organisation,
        "my_organisations": selectors.organisations_for(user) if len(permissions.organisations_of(user)) > 1 else [],
        "my_roles": roles,
        "can_view_audit": permissions.can_view_audit(user, organisation),
        "is_staff_member": permissions.is_staff_of(user, organisation),
    }
