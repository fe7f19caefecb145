"""Template context for the header: the bell's unread count (counted only when a page shows it) and which
notification pages the user may open."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from kabinet.core import permissions, tenancy
from kabinet.notifications.models import InAppNotification
from kabinet.notifications.services import OUTBOX_ROLES, TEMPLATE_ROLES


def bell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def unread() -> int:
        return InAppNotification.objects.filter(user=user, read_at__isnull=True).count()

    organisation = tenancy.current_organisation(request)
    return {
        "inapp_unread": unread,
        "vapid_public_key": settings.VAPID_PUBLIC_KEY,
        "can_see_outbox": permissions.has_role(user, organisation, *OUTBOX_ROLES),
        "can_edit_notification_templates": permissions.has_role(user, organisation, *TEMPLATE_ROLES),
    }
