"""The documents API: list and upload per patient, a document with versions, its file as an attachment, mark as
entered in error, delete — and 404 for everyone outside the caller's scope, 413/422 for bad files."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kabinet.accounts.services import api_token_create
from kabinet.audit.models import AuditEvent
from kabinet.records import services
from kabinet.records.models import Document, DocumentKind
from tests.records import corpus

pytestmark = pytest.mark.django_db


def _token(user) -> Client:
    _, raw = api_token_create(user=user, name="phone")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def consent(rec) -> Document:
    return services.document_create_from_template(
        actor=rec.doctor, patient=rec.patient, template=rec.consent, fields={"procedure": "Fillers"}
    )


def _upload(client: Client, patient_id: int, data: bytes, name: str = "scan.pdf", kind: str = "lab_result"):
    return client.post(
        f"/api/v1/patients/{patient_id}/documents",
        {"kind": kind, "title": "Результат", "file": SimpleUploadedFile(name, data, content_type="application/pdf")},
    )


def test_staff_list_and_read_a_document_with_versions(rec, consent) -> None:
    client = _token(rec.doctor)
    listed = client.get(f"/api/v1/patients/{rec.patient.pk}/documents")
    assert listed.status_code == 200
    assert [(d["id"], d["kind"], d["version"], d["content_type"]) for d in listed.json()] == [
        (consent.pk, "informed_consent", 1, "application/pdf")
    ]
    services.document_revise(actor=rec.doctor, document=consent, fields={"procedure": "Botox"})
    body = client.get(f"/api/v1/documents/{consent.pk}").json()
    assert body["version"] == 2 and [v["number"] for v in body["versions"]] == [2, 1]
    assert body["versions"][0]["changes"] == [{"field": "Procedure", "before": "Fillers", "after": "Botox"}]
    assert AuditEvent.objects.filter(action="document.listed", patient_id=rec.patient.pk).exists()
    assert AuditEvent.objects.filter(action="document.viewed", object_id=str(consent.pk)).exists()


def test_the_file_is_an_attachment_with_safe_headers(rec, consent) -> None:
    services.document_revise(actor=rec.doctor, document=consent, fields={"procedure": "Botox"})
    response = _token(rec.patient_user).get(f"/api/v1/documents/{consent.pk}/file")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;") and "v2.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).startswith(b"%PDF-")  # type: ignore[attr-defined]
    first = _token(rec.doctor).get(f"/api/v1/documents/{consent.pk}/file", {"version": 1})
    assert "v1.pdf" in first["Content-Disposition"]
    assert _token(rec.doctor).get(f"/api/v1/documents/{consent.pk}/file", {"version": 9}).status_code == 404
    views = AuditEvent.objects.filter(action="document.viewed", after__part="file")
    assert {(e.after or {}).get("version") for e in views} == {1, 2}


def test_staff_upload_and_bad_files(rec, settings) -> None:
    client = _token(rec.nurse)
    created = _upload(client, rec.patient.pk, corpus.pdf())
    assert created.status_code == 201, created.content
    assert created.json()["title"] == "Результат" and created.json()["origin"] == "upload"
    polyglot = _upload(client, rec.patient.pk, corpus.pdf_script_polyglot())
    assert polyglot.status_code == 422
    assert polyglot["Content-Type"] == "application/problem+json"
    assert polyglot.json()["code"] == "active_content" and polyglot.json()["errors"]["file"]
    assert _upload(client, rec.patient.pk, corpus.exe(), name="photo.jpg").json()["code"] == "executable"
    too_big = _upload(client, rec.patient.pk, corpus.big(21 * 1024 * 1024))
    assert too_big.status_code == 413 and too_big.json()["code"] == "file_too_large"
    assert _upload(client, rec.patient.pk, corpus.pdf(), kind="bogus").status_code == 422
    assert Document.objects.count() == 1


def test_a_patient_and_a_proxy_parent_upload_a_registrar_may_not_upload_clinical_kinds(rec) -> None:
    patient = _token(rec.patient_user)
    assert _upload(patient, rec.patient.pk, corpus.jpeg(gps=True), "IMG.jpg", "photo").status_code == 201
    assert _upload(patient, rec.ward.pk, corpus.pdf()).status_code == 201
    assert _upload(patient, rec.patient.pk, corpus.docx(), "a.docx", "other").status_code == 422
    assert _upload(patient, rec.patient.pk, corpus.pdf(), kind="contract").status_code == 422
    assert _upload(_token(rec.registrar), rec.patient.pk, corpus.pdf()).status_code == 403
    assert _upload(_token(rec.registrar), rec.patient.pk, corpus.pdf(), kind="contract").status_code == 201


@pytest.mark.parametrize("who", ["other_patient_user", "relative_user", "stranger_user", "outsider"])
def test_people_outside_the_scope_get_404_for_everything(rec, consent, who) -> None:
    client = _token(getattr(rec, who))
    assert client.get(f"/api/v1/patients/{rec.patient.pk}/documents").status_code == 404
    assert _upload(client, rec.patient.pk, corpus.pdf()).status_code == 404
    assert client.get(f"/api/v1/documents/{consent.pk}").status_code == 404
    assert client.get(f"/api/v1/documents/{consent.pk}/file").status_code == 404
    reason = {"reason": "x"}
    assert (
        client.post(
            f"/api/v1/documents/{consent.pk}/mark-erroneous", reason, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.delete(f"/api/v1/documents/{consent.pk}", reason, content_type="application/json").status_code == 404
    consent.refresh_from_db()
    assert consent.status == Document.Status.ACTIVE


def test_anonymous_callers_get_401(rec, consent) -> None:
    client = Client()
    assert client.get(f"/api/v1/patients/{rec.patient.pk}/documents").status_code == 401
    assert client.get(f"/api/v1/documents/{consent.pk}/file").status_code == 401


def test_a_patient_sees_own_and_wards_documents_but_changes_nothing(rec, consent) -> None:
    services.document_upload(
        actor=rec.doctor, patient=rec.ward, kind=DocumentKind.LAB_RESULT, title="Ward's result", upload=corpus.pdf()
    )
    client = _token(rec.patient_user)
    assert [d["title"] for d in client.get(f"/api/v1/patients/{rec.ward.pk}/documents").json()] == ["Ward's result"]
    assert client.get(f"/api/v1/documents/{consent.pk}").status_code == 200
    forbidden = client.post(
        f"/api/v1/documents/{consent.pk}/mark-erroneous", {"reason": "no"}, content_type="application/json"
    )
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    assert (
        client.delete(f"/api/v1/documents/{consent.pk}", {"reason": "no"}, content_type="application/json").status_code
        == 403
    )


def test_mark_erroneous_and_delete(rec, consent) -> None:
    doctor = _token(rec.doctor)
    no_reason = doctor.post(
        f"/api/v1/documents/{consent.pk}/mark-erroneous", {"reason": ""}, content_type="application/json"
    )
    assert no_reason.status_code == 422
    marked = doctor.post(
        f"/api/v1/documents/{consent.pk}/mark-erroneous", {"reason": "wrong side"}, content_type="application/json"
    )
    assert marked.status_code == 200 and marked.json()["status"] == "erroneous"
    again = doctor.post(
        f"/api/v1/documents/{consent.pk}/mark-erroneous", {"reason": "x"}, content_type="application/json"
    )
    assert again.status_code == 409
    assert (
        _token(rec.nurse)
        .delete(f"/api/v1/documents/{consent.pk}", {"reason": "dup"}, content_type="application/json")
        .status_code
        == 403
    )
    deleted = doctor.delete(f"/api/v1/documents/{consent.pk}", {"reason": "duplicate"}, content_type="application/json")
    assert deleted.status_code == 204
    assert doctor.get(f"/api/v1/documents/{consent.pk}").status_code == 404
    assert doctor.get(f"/api/v1/patients/{rec.patient.pk}/documents").json() == []


def test_the_endpoints_are_in_the_openapi_document(rec) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/patients/{patient_id}/documents"])
    assert {"get", "delete"} <= set(paths["/api/v1/documents/{document_id}"])
    assert "/api/v1/documents/{document_id}/file" in paths and "/api/v1/documents/{document_id}/mark-erroneous" in paths
