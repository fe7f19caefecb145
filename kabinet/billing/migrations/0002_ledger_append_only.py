"""Make billing_ledgerentry append-only at the database: UPDATE is refused by a trigger (on PostgreSQL and SQLite).

DELETE is left to the foreign keys (every reference to a ledger row protects it) so that test databases can still
be flushed; in production run the application as a role without DELETE/TRUNCATE on the table.
"""

from typing import Any

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION billing_ledgerentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_ledgerentry is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_ledgerentry_no_update BEFORE UPDATE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledgerentry_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS billing_ledgerentry_no_update ON billing_ledgerentry;
DROP FUNCTION IF EXISTS billing_ledgerentry_append_only();
"""
SQLITE_FORWARD = """CREATE TRIGGER billing_ledgerentry_no_update BEFORE UPDATE ON billing_ledgerentry
    BEGIN SELECT RAISE(ABORT, 'billing_ledgerentry is append-only'); END;"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS billing_ledgerentry_no_update;"


def forward(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_billing")]
    operations = [migrations.RunPython(forward, backward)]
