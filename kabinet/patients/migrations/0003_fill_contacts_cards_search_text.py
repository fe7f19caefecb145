"""Existing patients get a card number (per organisation, in creation order), a search key, and their phone and
email copied into the new contact tables as the primary ones. The folding below is a frozen copy of
kabinet/patients/searchkeys.py (migrations import no app code)."""

import re
import unicodedata
from typing import Any

from django.db import migrations

LATIN = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "к": "k",
        "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
        "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sht", "ъ": "a", "ы": "y", "ь": "", "э": "e", "ю": "yu",
        "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
    }
)
NOT_WORD = re.compile(r"[^\w]+|_")
BATCH = 2000


def name_key(*parts: str) -> str:
    decomposed = unicodedata.normalize("NFKD", " ".join(p for p in parts if p).casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = " ".join(NOT_WORD.sub(" ", bare).split())
    latin = folded.translate(LATIN)
    return (folded if latin == folded else f"{folded} {latin}")[:1000]


def forward(apps: Any, schema_editor: Any) -> None:
    Patient = apps.get_model("patients", "Patient")
    PatientPhone = apps.get_model("patients", "PatientPhone")
    PatientEmail = apps.get_model("patients", "PatientEmail")
    CardNumberSequence = apps.get_model("patients", "CardNumberSequence")
    counters: dict[int, int] = {}
    last_pk = 0
    while True:
        batch = list(Patient.objects.filter(pk__gt=last_pk).order_by("pk")[:BATCH])
        if not batch:
            break
        phones, emails = [], []
        for patient in batch:
            patient.search_text = name_key(patient.family_name, patient.given_name, patient.middle_name)
            if not patient.card_number:
                counters[patient.organisation_id] = counters.get(patient.organisation_id, 0) + 1
                patient.card_number = str(counters[patient.organisation_id]).zfill(6)
            if patient.phone:
                phones.append(
                    PatientPhone(
                        organisation_id=patient.organisation_id,
                        patient_id=patient.pk,
                        number=patient.phone,
                        kind="mobile",
                        is_primary=True,
                    )
                )
            if patient.email:
                emails.append(
                    PatientEmail(
                        organisation_id=patient.organisation_id,
                        patient_id=patient.pk,
                        address=patient.email.lower(),
                        is_primary=True,
                    )
                )
            last_pk = patient.pk
        Patient.objects.bulk_update(batch, ["search_text", "card_number"])
        PatientPhone.objects.bulk_create(phones, ignore_conflicts=True)
        PatientEmail.objects.bulk_create(emails, ignore_conflicts=True)
    for organisation_id, last_value in counters.items():
        CardNumberSequence.objects.update_or_create(
            organisation_id=organisation_id, defaults={"last_value": last_value}
        )


def backward(apps: Any, schema_editor: Any) -> None:
    """The contact tables and card numbers go away with the schema migration before this one."""


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_patient_details_contacts_notes_timeline")]
    operations = [migrations.RunPython(forward, backward)]
