"""GET /api/v1/patients/{id}/medical: the clinical roles and the patient (and a ward's proxy) read it; the desk gets
403, another clinic and other patients 404; it is in the OpenAPI schema and audited."""

from __future__ import annotations

import pytest
from django.test import Client

from kabinet.accounts.services import api_token_create
from kabinet.audit.models import AuditEvent
from kabinet.records import medical
from kabinet.records.models import Medication
from tests.records.test_medical import photo

pytestmark = pytest.mark.django_db


def _token(user) -> Client:
    _, raw = api_token_create(user=user, name="phone")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/medical"


def test_the_medical_record_through_the_api(rec) -> None:
    medical.allergies_set(actor=rec.doctor, patient=rec.patient, allergies="Latex")
    drug = medical.medical_entry_add(
        actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "Doxycycline", "dose": "100 mg"}
    )
    assert isinstance(drug, Medication)
    medical.medication_stop(actor=rec.doctor, medication=drug)
    medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "Zinc"})
    medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="diagnosis", data={"text": "Acne"})
    medical.medical_entry_add(actor=rec.nurse, patient=rec.patient, kind="procedure", data={"name": "Peel"})
    medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="note", data={"plan": "Review in 4 weeks"})
    before, after = photo(rec, "Before"), photo(rec, "After")
    medical.photo_pair_add(actor=rec.doctor, patient=rec.patient, before=before, after=after, label="Cheeks")
    response = _token(rec.doctor).get(url(rec.patient))
    assert response.status_code == 200
    body = response.json()
    assert body["allergies"] == "Latex"
    assert [(m["name"], m["current"]) for m in body["medications"]] == [("Zinc", True), ("Doxycycline", False)]
    assert body["diagnoses"][0]["text"] == "Acne" and body["diagnoses"][0]["doctor"] == "Dr Dana"
    assert body["procedures"][0]["name"] == "Peel" and body["notes"][0]["plan"] == "Review in 4 weeks"
    assert body["photo_pairs"] == [
        {"id": body["photo_pairs"][0]["id"], "label": "Cheeks", "before": before.pk, "after": after.pk}
        | {"created_at": body["photo_pairs"][0]["created_at"]}
    ]
    assert AuditEvent.objects.filter(action="medical.viewed", actor=rec.doctor).exists()


def test_scoping_of_the_medical_api(rec) -> None:
    assert _token(rec.patient_user).get(url(rec.patient)).status_code == 200  # their own
    assert _token(rec.patient_user).get(url(rec.ward)).status_code == 200  # their ward's
    assert _token(rec.relative_user).get(url(rec.patient)).status_code == 404  # a spouse without proxy rights
    assert _token(rec.other_patient_user).get(url(rec.patient)).status_code == 404
    assert _token(rec.outsider).get(url(rec.patient)).status_code == 404  # another clinic
    assert _token(rec.registrar).get(url(rec.patient)).status_code == 403  # the desk reads no clinical data
    assert _token(rec.nurse).get(url(rec.patient)).status_code == 200


def test_the_endpoint_is_in_the_openapi_schema(rec) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert "get" in schema["paths"]["/api/v1/patients/{patient_id}/medical"]
