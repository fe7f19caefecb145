"""On PostgreSQL, a GIN index over the words of `Patient.search_text` (`string_to_array(search_text, ' ')`): the
typo-tolerant search finds the names that hold a corrected word through it, one index key per correction, where the
trigram index would match each correction as a substring of every longer name. SQLite does not use it."""

from typing import Any

from django.db import migrations

INDEX = "patient_search_words"


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON patients_patient USING gin (string_to_array(search_text, ' '))"
    )


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0008_name_words")]
    operations = [migrations.RunPython(forward, backward)]
