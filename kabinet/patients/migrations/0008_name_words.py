"""The name-word dictionary of the typo-tolerant search (see `NameWord`). On PostgreSQL: its trigram index, the
statement-level triggers that add the words of inserted and updated patients (ordered, so that two imports adding
the same new words take their locks in the same order), and the words of the patients already there."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

COLLECT = """
CREATE OR REPLACE FUNCTION patients_name_words_collect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO patients_nameword (organisation_id, word)
    SELECT DISTINCT rows.organisation_id, left(words.word, 150)
    FROM patients_name_words_new AS rows, unnest(string_to_array(rows.search_text, ' ')) AS words(word)
    WHERE words.word <> ''
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""
TRIGGERS = ("patients_name_words_on_insert", "patients_name_words_on_update")
FILL = """
INSERT INTO patients_nameword (organisation_id, word)
SELECT DISTINCT organisation_id, left(word, 150)
FROM patients_patient, unnest(string_to_array(search_text, ' ')) AS word
WHERE word <> ''
ORDER BY 1, 2
ON CONFLICT DO NOTHING
"""


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS patient_name_word_trgm ON patients_nameword USING gin (word gin_trgm_ops)"
    )
    schema_editor.execute(COLLECT)
    for trigger, event in zip(TRIGGERS, ("INSERT", "UPDATE"), strict=True):
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON patients_patient "
            "REFERENCING NEW TABLE AS patients_name_words_new FOR EACH STATEMENT "
            "EXECUTE FUNCTION patients_name_words_collect()"
        )
    schema_editor.execute(FILL)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for trigger in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON patients_patient")
    schema_editor.execute("DROP FUNCTION IF EXISTS patients_name_words_collect()")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_organisation_currency"),
        ("patients", "0007_timeline_medical_kind"),
    ]

    operations = [
        migrations.CreateModel(
            name="NameWord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("word", models.CharField(max_length=150)),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="core.organisation"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("organisation", "word"), name="patient_name_word_unique")
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
