"""record(): the one way to write the audit log, called by services inside their transaction."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from kabinet.audit.models import GENESIS_HASH, AuditEvent
from kabinet.core import request_context
from kabinet.core.models import Organisation

# Any constant: every writer of the chain takes this PostgreSQL transaction-level lock, so links never fork.
_PG_CHAIN_LOCK = 7_406_335_001


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields of a model instance as JSON-able data, for before/after."""
    data = {}
    for name in fields:
        field = obj._meta.get_field(name)
        data[name] = getattr(obj, getattr(field, "attname", name))
    return _jsonable(data)


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_CHAIN_LOCK])
    # SQLite: the write transaction (BEGIN IMMEDIATE) already holds the database's single write lock.


def record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    organisation: Any = None,
    patient: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain. `actor` may be None (system) or an anonymous user."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        if organisation is None:
            organisation = obj.pk if isinstance(obj, Organisation) else getattr(obj, "organisation_id", None)
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    ctx = request_context.current()
    # No savepoint: the event belongs to the caller's transaction and fails with it (and savepoints cost two
    # statements per event inside the booking's write lock).
    with transaction.atomic(savepoint=False):
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            created_at=timezone.now().astimezone(UTC),
            actor=actor_obj,
            actor_label=str(actor_obj) if actor_obj else "system",
            organisation_id=organisation if isinstance(organisation, int) or organisation is None else organisation.pk,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id != "" else "",
            patient_id=patient if isinstance(patient, int) or patient is None else patient.pk,
            before=_jsonable(before),
            after=_jsonable(after),
            ip=ctx.ip if ctx else None,
            request_id=ctx.request_id if ctx else "",
            prev_hash=last or GENESIS_HASH,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
    return event


def verify_chain(batch_size: int = 2000) -> list[str]:
    """Recompute every link; return a description of each broken one (empty list = intact)."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    last_id = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not rows:
            break
        for event in rows:
            if event.prev_hash != expected_prev:
                problems.append(f"event {event.pk}: previous-hash link broken (a row was removed or reordered)")
            if event.compute_hash() != event.hash:
                problems.append(f"event {event.pk}: content does not match its hash (the row was altered)")
            expected_prev = event.hash
            last_id = event.pk
    return problems
