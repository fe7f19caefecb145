"""The records parts of the patient card: the Documents, Medical, Photos and Consents tabs and the "missing
documents" and "signatures missing" flags, registered into kabinet.patients.cards at start-up.

The Medical and Photos tabs exist only for the clinical roles (records.access): for the desk roles their context
is None, and the card leaves them out."""

from __future__ import annotations

from typing import Any

from django.forms import Form
from django.utils.translation import gettext_lazy as _

from kabinet.patients import cards
from kabinet.records import access, selectors
from kabinet.records.forms import AllergiesForm, MedicalEntryForm, MedicationStopForm, PhotoPairForm, ReasonForm
from kabinet.records.medical import ENTRY_KINDS, kind_of


def documents_tab(user: Any, patient: Any) -> dict[str, Any]:
    documents = selectors.patient_documents(user=user, patient=patient, organisation=patient.organisation)
    return {
        "documents": documents,
        "badge": sum(1 for d in documents if d.is_active),
        "can_add": bool(access.writable_kinds(user, patient.organisation_id)),
    }


def consents_tab(user: Any, patient: Any) -> dict[str, Any]:
    checks = selectors.consent_checks(patient=patient)
    missing = sum(1 for c in checks if c.required and not c.ok)
    return {
        "checks": checks,
        "badge": missing or None,
        "can_add": bool(access.writable_kinds(user, patient.organisation_id)),
    }


def _edit_initial(entry: Any) -> dict[str, Any]:
    _model, names, _title = ENTRY_KINDS[kind_of(entry)]
    return {name: getattr(entry, "doctor_id" if name == "doctor" else name) for name in names}


def medical_context(user: Any, patient: Any, bound: dict[str, Form] | None = None) -> dict[str, Any] | None:
    """What the Medical tab (records/_medical.html) shows: the record, and for writers the forms (add per kind,
    edit, stop and "entered in error" per active entry, allergies); `bound` replaces a form by the one that failed,
    by name ("medication", "medication-12", "stop-12", "erroneous-medication-12", "allergies"). None for readers
    without a clinical role."""
    if not access.can_read_medical(user, patient.organisation_id):
        return None
    record = selectors.medical_record(user=user, patient=patient)
    bound = bound or {}
    context: dict[str, Any] = {
        "record": record,
        "badge": len(record.current_medications) or None,
        "open": next(iter(bound), ""),
    }
    if not record.can_write:
        return context
    doctors = selectors.doctors_of(patient.organisation_id)
    context["add_forms"] = [
        bound.get(kind) or MedicalEntryForm(kind=kind, doctors=doctors, prefix=kind) for kind in ENTRY_KINDS
    ]
    context["allergies_form"] = bound.get("allergies") or AllergiesForm(initial={"allergies": patient.allergies})
    entries: list[Any] = [
        *record.current_medications,
        *record.past_medications,
        *record.diagnoses,
        *record.procedures,
        *record.notes,
    ]
    for entry in entries:
        if entry.is_erroneous:  # stays as it was: no edit, no second marking
            continue
        key = f"{kind_of(entry)}-{entry.pk}"
        entry.edit_form = bound.get(key) or MedicalEntryForm(
            kind=kind_of(entry), doctors=doctors, prefix=key, initial=_edit_initial(entry)
        )
        if access.can_mark_medical_erroneous(user, entry):
            key = f"erroneous-{key}"
            entry.erroneous_form = bound.get(key) or ReasonForm(prefix=key)
    current: list[Any] = record.current_medications
    for medication in current:
        key = f"stop-{medication.pk}"
        medication.stop_form = bound.get(key) or MedicationStopForm(prefix=key)
    return context


def medical_tab(user: Any, patient: Any) -> dict[str, Any] | None:
    return medical_context(user, patient)


def photos_context(user: Any, patient: Any, bound: Form | None = None) -> dict[str, Any] | None:
    """What the Photos tab (records/_photos.html) shows: the photos as thumbnails and the before/after pairs, and for
    writers the pairing form. None for readers without a clinical role."""
    if not access.can_read_medical(user, patient.organisation_id):
        return None
    record = selectors.medical_record(user=user, patient=patient)
    context: dict[str, Any] = {"record": record, "badge": len(record.photos) or None}
    if record.can_write and len(record.image_photos) >= 2:
        context["pair_form"] = bound or PhotoPairForm(photos=record.image_photos)
    return context


def photos_tab(user: Any, patient: Any) -> dict[str, Any] | None:
    return photos_context(user, patient)


def missing_documents_flag(user: Any, patient: Any) -> int | None:
    return selectors.missing_count(patient)


def missing_signatures_flag(user: Any, patient: Any) -> int | None:
    return selectors.unsigned_count(patient)


def register() -> None:
    cards.register_tab("documents", _("Documents"), "records/_card_documents.html", documents_tab, order=50)
    cards.register_tab("medical", _("Medical"), "records/_card_medical.html", medical_tab, order=52)
    cards.register_tab("photos", _("Photos"), "records/_card_photos.html", photos_tab, order=54)
    cards.register_tab("consents", _("Consents"), "records/_card_consents.html", consents_tab, order=60)
    cards.register_flag("missing_documents", missing_documents_flag)
    cards.register_flag("missing_signatures", missing_signatures_flag)
