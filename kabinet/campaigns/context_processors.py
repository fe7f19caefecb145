"""Template context for the header: whether the user may open the campaign pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kabinet.campaigns.selectors import can_run_campaigns
from kabinet.core import tenancy


def campaigns(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"can_run_campaigns": can_run_campaigns(user, tenancy.current_organisation(request))}
