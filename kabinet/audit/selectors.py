"""Audit search for administrators, scoped to their organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from kabinet.audit.models import AuditEvent
from kabinet.core import permissions
from kabinet.core.exceptions import NotAllowed
from kabinet.core.models import Member, Organisation


@dataclass(frozen=True)
class AuditFilter:
    patient_id: int | None = None
    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(*, user: Any, organisation: Organisation, filters: AuditFilter) -> QuerySet[AuditEvent]:
    """Events of the organisation (and events about its staff's own accounts), newest first."""
    if not permissions.can_view_audit(user, organisation):
        raise NotAllowed()
    # Account events (logins, password changes) carry no organisation: show those about this clinic's members.
    member_ids = (
        Member.objects.filter(organisation=organisation)
        .annotate(uid=Cast("user_id", output_field=CharField()))
        .values("uid")
    )
    about_members = Q(organisation__isnull=True, object_type="accounts.user", object_id__in=member_ids)
    qs = AuditEvent.objects.filter(Q(organisation=organisation) | about_members).select_related("actor")
    if filters.patient_id is not None:
        qs = qs.filter(patient_id=filters.patient_id)
    if filters.actor:
        qs = qs.filter(actor_label__icontains=filters.actor)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if filters.action:
        qs = qs.filter(action__startswith=filters.action)
    if filters.date_from:
        qs = qs.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return qs.order_by("-id")
