"""No double booking on PostgreSQL: exclusion constraints over (practitioner, busy range) and (room, busy range)
for active appointments that are not explicit extras. SQLite relies on the IMMEDIATE transaction re-check."""

from typing import Any

from django.db import migrations

ACTIVE = "('pending', 'scheduled', 'confirmed', 'arrived', 'completed')"
FORWARD = f"""
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_appointment ADD CONSTRAINT appointment_practitioner_no_overlap
    EXCLUDE USING gist (practitioner_id WITH =, tstzrange(busy_start, busy_end, '[)') WITH &&)
    WHERE (status IN {ACTIVE} AND NOT is_overbooked);
ALTER TABLE scheduling_appointment ADD CONSTRAINT appointment_room_no_overlap
    EXCLUDE USING gist (room_id WITH =, tstzrange(busy_start, busy_end, '[)') WITH &&)
    WHERE (room_id IS NOT NULL AND status IN {ACTIVE} AND NOT is_overbooked);
"""
BACKWARD = """
ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appointment_practitioner_no_overlap;
ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appointment_room_no_overlap;
"""


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
