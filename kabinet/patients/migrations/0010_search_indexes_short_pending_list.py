"""On PostgreSQL, the search's GIN indexes keep a short pending list: 256 kB instead of the server's 4 MB default.

New GIN entries wait in an unsorted pending list until it outgrows `gin_pending_list_limit`, a vacuum, or an explicit
flush, and every search reads that list from end to end. Measured over 1,000,000 patients with about 200 pending
pages (1.6 MB) per index, a typo search's count took 50 ms instead of 5. Turning the list off (`fastupdate = off`)
made bulk inserts ten times slower (an import of 100,000 rows would miss its minute); 256 kB keeps most of the
batching (inserts about 1.5 times slower than with 4 MB) and bounds what a search reads to 32 pages per index.
Imports flush the lists when they finish (`importing.flush_search_indexes`); the lists that exist are flushed here.
SQLite has no such indexes."""

from typing import Any

from django.db import migrations

PENDING_LIST_KB = 256
INDEXES = [
    "patient_search_text_trgm",
    "patient_phone_trgm",
    "patient_email_trgm",
    "patientphone_number_trgm",
    "patientemail_address_trgm",
    "patient_name_word_trgm",
    "patient_search_words",
]


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX IF EXISTS {name} SET (gin_pending_list_limit = {PENDING_LIST_KB})")
        schema_editor.execute(
            "SELECT gin_clean_pending_list(to_regclass(%s)) WHERE to_regclass(%s) IS NOT NULL", [name, name]
        )


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX IF EXISTS {name} RESET (gin_pending_list_limit)")


class Migration(migrations.Migration):
    dependencies = [("patients", "0009_search_words_index_postgresql")]
    operations = [migrations.RunPython(forward, backward)]
