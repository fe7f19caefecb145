"""GET /api/v1/patients/{id}/medical: the clinical roles and the patient (and a ward's proxy) read it; the desk gets
403, another clinic and other patients 404; it is in the OpenAPI schema and audited. POST …/medical/{kind}/{entry_id}/
mark-erroneous: administrators, doctors and the author; problem+json with a stable code when refused."""

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


def erroneous_url(patient, kind: str, entry_id: int) -> str:
    return f"/api/v1/patients/{patient.pk}/medical/{kind}/{entry_id}/mark-erroneous"


def test_marking_an_entry_as_entered_in_error_through_the_api(rec) -> None:
    drug = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "Zinc"})
    medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="medication", data={"name": "Iron"})
    client = _token(rec.doctor)
    url = erroneous_url(rec.patient, "medication", drug.pk)
    blank = client.post(url, {"reason": "  "}, content_type="application/json")
    assert blank.status_code == 422 and blank["Content-Type"].startswith("application/problem+json")
    assert blank.json()["code"] == "validation_error" and "reason" in blank.json()["errors"]
    response = client.post(url, {"reason": "Wrong patient"}, content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == drug.pk and body["kind"] == "medication" and body["patient"] == rec.patient.pk
    assert body["status"] == "erroneous" and body["status_reason"] == "Wrong patient"
    assert body["status_changed_by"] == "Dr Dana" and body["status_changed_at"]
    assert AuditEvent.objects.filter(action="medical.medication_marked_erroneous", actor=rec.doctor).exists()
    again = client.post(url, {"reason": "Twice"}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "entry_erroneous"
    medications = client.get(f"/api/v1/patients/{rec.patient.pk}/medical").json()["medications"]
    assert [(m["name"], m["current"], m["status"], m["status_reason"]) for m in medications] == [
        ("Iron", True, "active", ""),
        ("Zinc", False, "erroneous", "Wrong patient"),
    ]


def test_scoping_of_the_entered_in_error_api(rec) -> None:
    note = medical.medical_entry_add(actor=rec.doctor, patient=rec.patient, kind="note", data={"plan": "Laser"})
    url = erroneous_url(rec.patient, "note", note.pk)
    body = {"reason": "Wrong"}

    def post(user, to: str = url):
        return _token(user).post(to, body, content_type="application/json")

    registrar = post(rec.registrar)
    assert registrar.status_code == 403 and registrar.json()["code"] == "forbidden"
    assert post(rec.nurse).status_code == 403  # neither a doctor nor the author
    outsider = post(rec.outsider)
    assert outsider.status_code == 404 and outsider.json()["code"] == "not_found"
    assert post(rec.patient_user).status_code == 403  # the patient reads the record, changes nothing
    assert post(rec.doctor, erroneous_url(rec.other_patient, "note", note.pk)).status_code == 404
    assert post(rec.doctor, erroneous_url(rec.patient, "diagnosis", note.pk)).status_code == 404
    unknown = post(rec.doctor, erroneous_url(rec.patient, "allergy", note.pk))
    assert unknown.status_code == 422 and unknown.json()["code"] == "validation_error"
    note.refresh_from_db()
    assert not note.is_erroneous
    assert post(rec.other_doctor).status_code == 200  # any doctor of the clinic
    schema = Client().get("/api/v1/openapi.json").json()
    assert "post" in schema["paths"]["/api/v1/patients/{patient_id}/medical/{kind}/{entry_id}/mark-erroneous"]
