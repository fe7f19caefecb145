"""Reads of the core app, scoped to what the caller may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from kabinet.core import permissions
from kabinet.core.models import Heartbeat, Organisation


def organisations_for(user: Any) -> QuerySet[Organisation]:
    return Organisation.objects.filter(pk__in=permissions.organisations_of(user)).order_by("name")


def health() -> dict[str, Any]:
    """Database reachable; worker and clock have beaten recently."""
    result: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        result["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception:
        result["database"] = {"ok": False}
        result["worker"] = {"ok": False}
        result["clock"] = {"ok": False}
        result["ok"] = False
        return result
    now = timezone.now()
    stale = timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    beats = dict(Heartbeat.objects.values_list("name", "beat_at"))
    for name in ("worker", "clock"):
        beat = beats.get(name)
        result[name] = {
            "ok": beat is not None and now - beat <= stale,
            "last_beat": beat.isoformat() if beat else None,
        }
    result["ok"] = all(part["ok"] for part in (result["database"], result["worker"], result["clock"]))
    return result
