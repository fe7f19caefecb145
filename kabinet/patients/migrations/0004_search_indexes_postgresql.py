"""Search indexes on PostgreSQL: trigram GIN indexes for substring and typo-tolerant search over names (the folded
`search_text`), phones and emails; card numbers are matched exactly through their unique index. SQLite searches
the same columns without them (see selectors).

`unaccent` is enabled as well so that SQL written by hand (reports, segments) folds accents the same way; the app
itself folds in Python (kabinet/patients/searchkeys.py) so both databases agree on every key."""

from typing import Any

from django.db import migrations

INDEXES = {
    "patient_search_text_trgm": "patients_patient USING gin (search_text gin_trgm_ops)",
    "patient_phone_trgm": "patients_patient USING gin (phone gin_trgm_ops)",
    "patient_email_trgm": "patients_patient USING gin (email gin_trgm_ops)",
    "patientphone_number_trgm": "patients_patientphone USING gin (number gin_trgm_ops)",
    "patientemail_address_trgm": "patients_patientemail USING gin (address gin_trgm_ops)",
}


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_fill_contacts_cards_search_text")]
    operations = [migrations.RunPython(forward, backward)]
