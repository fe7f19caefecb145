"""The audit chain: every record links to the previous one; tampering is detected; rows refuse change."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from kabinet.audit.models import GENESIS_HASH, AuditEvent
from kabinet.audit.services import record, verify_chain
from kabinet.core import request_context


def _tamper(sql: str, params: list[str | int]) -> None:
    """What an attacker with database access would do: switch the guard off, then change rows."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # a superuser skips triggers
            cursor.execute(sql, params)
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            cursor.execute("DROP TRIGGER audit_auditevent_no_update")
            cursor.execute("DROP TRIGGER audit_auditevent_no_delete")
            cursor.execute(sql, params)


@pytest.mark.django_db
def test_records_form_a_chain_starting_at_genesis(admin_user, org) -> None:
    first = record(actor=admin_user, action="test.first", obj=org)
    second = record(actor=None, action="test.second", object_type="x", object_id=7, organisation=org)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.actor_label == "system"
    assert first.organisation_id == org.pk
    assert verify_chain() == []


@pytest.mark.django_db
def test_record_keeps_request_id_and_ip_and_json_safe_before_after(admin_user, org) -> None:
    from datetime import date
    from decimal import Decimal

    token = request_context.activate(request_context.RequestContext(request_id="req-123", ip="10.1.2.3"))
    try:
        event = record(
            actor=admin_user,
            action="test.change",
            obj=org,
            before={"price": Decimal("10.50")},
            after={"day": date(2026, 1, 2)},
        )
    finally:
        request_context.reset(token)
    event.refresh_from_db()
    assert (event.request_id, event.ip) == ("req-123", "10.1.2.3")
    assert event.before == {"price": "10.50"}
    assert event.after == {"day": "2026-01-02"}
    assert verify_chain() == []


@pytest.mark.django_db
def test_updating_an_audit_row_is_refused_by_the_database(admin_user, org) -> None:
    event = record(actor=admin_user, action="test.x", obj=org)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.y")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.action == "test.x"


@pytest.mark.django_db
def test_audit_verify_passes_on_an_intact_chain_and_fails_on_an_altered_row(admin_user, org) -> None:
    events = [record(actor=admin_user, action=f"test.{i}", obj=org) for i in range(5)]
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact: 5 events" in out.getvalue()

    _tamper("UPDATE audit_auditevent SET after = %s WHERE id = %s", ['{"forged": true}', events[2].pk])
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", stderr=err)
    assert f"event {events[2].pk}: content does not match" in err.getvalue()


@pytest.mark.django_db
def test_audit_verify_detects_a_removed_row(admin_user, org) -> None:
    events = [record(actor=admin_user, action=f"test.{i}", obj=org) for i in range(4)]
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    problems = verify_chain()
    assert problems == [f"event {events[2].pk}: previous-hash link broken (a row was removed or reordered)"]
