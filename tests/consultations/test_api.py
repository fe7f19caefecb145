"""The consultations API: contracts, conversations and messages, requests — and 404 for a doctor not on the
contract or care team, another patient and another clinic's staff; 401 for anonymous callers; 403 when writing to
an ended contract; 422 for empty messages, impossible readings and voice recordings over the limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from kabinet.accounts.models import User
from kabinet.accounts.services import api_token_create
from kabinet.consultations import services
from kabinet.consultations.models import ConsultationMessage
from tests.consultations.conftest import Consult, png, webm

pytestmark = pytest.mark.django_db


def token(user: User) -> Client:
    _, raw = api_token_create(user=user, name="phone")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def messages_url(consult: Consult) -> str:
    return f"/api/v1/conversations/{consult.conversation.pk}/messages"


def post_json(client: Client, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


# --- contracts ---------------------------------------------------------------------------------------------------


def test_contracts_are_listed_to_whoever_may_see_them(consult: Consult) -> None:
    expected = {
        consult.admin: [consult.contract.pk],
        consult.clinic.registrar: [consult.contract.pk],
        consult.doctor_user: [consult.contract.pk],
        consult.nurse: [consult.contract.pk],
        consult.patient_user: [consult.contract.pk],
        consult.other_doctor_user: [],
        consult.other_patient_user: [],
        consult.outsider: [],
    }
    for user, ids in expected.items():
        response = token(user).get("/api/v1/contracts")
        assert response.status_code == 200, user
        assert [c["id"] for c in response.json()] == ids, user
    body = token(consult.patient_user).get("/api/v1/contracts").json()[0]
    assert body["doctor"] == {"id": consult.clinic.doctor.pk, "name": "Dr Dana"}
    assert "doc@example.org" not in str(body)  # names only, never contacts


def test_the_front_office_opens_a_contract_and_the_conversation_with_it(consult: Consult) -> None:
    today = timezone.localdate()
    body = {
        "patient": consult.other_patient.pk,
        "doctor": consult.clinic.other_doctor.pk,
        "ends_on": (today + timedelta(days=14)).isoformat(),
        "price": "40.00",
        "sla_hours": 12,
        "sla_working_hours": True,
    }
    response = post_json(token(consult.clinic.registrar), "/api/v1/contracts", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["status"], created["payment_state"], created["sla_hours"]) == ("active", "unpaid", 12)
    assert created["conversation"] is not None
    conversations = token(consult.other_patient_user).get("/api/v1/conversations").json()
    assert [(c["id"], c["writable"]) for c in conversations] == [(created["conversation"], True)]


@pytest.mark.parametrize("who", ["doctor_user", "patient_user"])
def test_others_cannot_open_contracts(consult: Consult, who: str) -> None:
    body = {"patient": consult.other_patient.pk, "doctor": consult.clinic.doctor.pk, "ends_on": "2099-01-01"}
    response = post_json(token(getattr(consult, who)), "/api/v1/contracts", body)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_another_clinics_administrator_does_not_find_the_patient(consult: Consult) -> None:
    body = {"patient": consult.other_patient.pk, "doctor": consult.clinic.doctor.pk, "ends_on": "2099-01-01"}
    response = post_json(token(consult.outsider), "/api/v1/contracts", body)
    assert response.status_code == 422  # as for any unknown id: nothing tells that the patient exists elsewhere
    assert response.json()["errors"] == {"patient": ["Unknown patient."]}


def test_a_contract_that_ends_before_it_starts_is_422(consult: Consult) -> None:
    body = {
        "patient": consult.other_patient.pk,
        "doctor": consult.clinic.doctor.pk,
        "starts_on": "2099-01-10",
        "ends_on": "2099-01-01",
    }
    response = post_json(token(consult.admin), "/api/v1/contracts", body)
    assert response.status_code == 422
    assert "ends_on" in response.json()["errors"]


def test_ending_a_contract(consult: Consult) -> None:
    url = f"/api/v1/contracts/{consult.contract.pk}/end"
    for stranger in (consult.other_doctor_user, consult.other_patient_user, consult.outsider):
        assert post_json(token(stranger), url, {}).status_code == 404
    refused = post_json(token(consult.doctor_user), url, {})
    assert refused.status_code == 403
    ended = post_json(token(consult.admin), url, {"reason": "course finished"})
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    assert post_json(token(consult.admin), url, {}).status_code == 409


# --- messages ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["other_doctor_user", "other_patient_user", "outsider"])
def test_strangers_get_404_for_messages(consult: Consult, who: str) -> None:
    client = token(getattr(consult, who))
    assert client.get(messages_url(consult)).status_code == 404
    assert post_json(client, messages_url(consult), {"text": "hi"}).status_code == 404
    assert post_json(client, f"/api/v1/conversations/{consult.conversation.pk}/read", {}).status_code == 404


def test_anonymous_callers_get_401(consult: Consult) -> None:
    for response in (
        Client().get(messages_url(consult)),
        Client().get("/api/v1/contracts"),
        Client().post(messages_url(consult), {"text": "x"}, content_type="application/json"),
        Client().post("/api/v1/consultation-requests", {}, content_type="application/json"),
    ):
        assert response.status_code == 401


def test_patient_writes_and_the_doctor_answers(consult: Consult) -> None:
    patient, doctor = token(consult.patient_user), token(consult.doctor_user)
    sent = post_json(patient, messages_url(consult), {"text": "My knee hurts"})
    assert sent.status_code == 201, sent.content
    body = sent.json()
    assert (body["side"], body["kind"], body["text"], body["author"]) == (
        "patient",
        "text",
        "My knee hurts",
        "Petya Patient",
    )
    assert body["due_at"] is not None
    answer = post_json(doctor, messages_url(consult), {"text": "Rest it"})
    assert answer.status_code == 201 and answer.json()["author"] == "Dr Dana"
    listed = patient.get(messages_url(consult)).json()
    assert [m["text"] for m in listed] == ["My knee hurts", "Rest it"]
    assert listed[0]["answered_at"] is not None
    after = patient.get(messages_url(consult), {"after": listed[0]["id"]}).json()
    assert [m["id"] for m in after] == [listed[1]["id"]]
    read = post_json(patient, f"/api/v1/conversations/{consult.conversation.pk}/read", {"up_to": listed[1]["id"]})
    assert read.json() == {"marked": 1}


@pytest.mark.parametrize("who", ["patient_user", "doctor_user"])
def test_sending_a_message_takes_a_fixed_number_of_queries(
    consult: Consult, who: str, django_assert_num_queries: Any
) -> None:
    """Issue #7 (send → push p95): the follow-up message of either side, token authentication included. 16 with
    the test's SAVEPOINT / RELEASE (17 on PostgreSQL: the audit chain's advisory lock); it was 20 (patient) and
    23 (doctor) while the caller's own patients were looked up twice, the author's membership twice, the active
    contract before and under the lock, and a doctor's message loaded the care team it does not notify; 17 while
    the memberships and their roles were two queries."""
    client = token(getattr(consult, who))
    assert post_json(client, messages_url(consult), {"text": "first"}).status_code == 201
    with django_assert_num_queries(16 + (connection.vendor == "postgresql")):
        response = post_json(client, messages_url(consult), {"text": "second"})
    assert response.status_code == 201, response.content
    assert response.json()["author"] == ("Petya Patient" if who == "patient_user" else "Dr Dana")


def test_administrators_read_but_cannot_write(consult: Consult) -> None:
    admin = token(consult.admin)
    assert admin.get(messages_url(consult)).status_code == 200
    refused = post_json(admin, messages_url(consult), {"text": "hello"})
    assert refused.status_code == 403


def test_empty_message_is_422(consult: Consult) -> None:
    response = post_json(token(consult.patient_user), messages_url(consult), {"text": "  "})
    assert response.status_code == 422
    assert response.json()["code"] == "message_empty"


def test_writing_after_the_end_is_403_with_a_message(consult: Consult) -> None:
    services.contract_end(actor=consult.admin, contract=consult.contract)
    patient = token(consult.patient_user)
    response = post_json(patient, messages_url(consult), {"text": "Still there?"})
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "contract_ended"
    assert "no longer write" in problem["detail"]
    assert patient.get(messages_url(consult)).status_code == 200  # reading goes on
    assert post_json(token(consult.doctor_user), messages_url(consult), {"text": "x"}).status_code == 403


def test_a_reading_with_impossible_values_is_422(consult: Consult) -> None:
    patient = token(consult.patient_user)
    bad = {"reading": {"kind": "blood_pressure", "values": {"systolic": 900, "diastolic": 80}, "comment": "after run"}}
    response = post_json(patient, messages_url(consult), bad)
    assert response.status_code == 422
    assert "systolic" in response.json()["errors"]
    good = {"reading": {"kind": "blood_pressure", "values": {"systolic": 128, "diastolic": 82, "pulse": 71}}}
    created = post_json(patient, messages_url(consult), good)
    assert created.status_code == 201
    assert created.json()["reading"]["summary"] == "128/82 mmHg, pulse 71/min"
    unknown = post_json(patient, messages_url(consult), {"reading": {"kind": "mood", "values": {}}})
    assert unknown.status_code == 422


def test_voice_message_multipart(consult: Consult, settings: Any) -> None:
    patient = token(consult.patient_user)
    voice = SimpleUploadedFile("voice.webm", webm(), content_type="audio/webm")
    response = patient.post(messages_url(consult), {"voice": voice, "duration": "7.5"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["content_type"], body["duration_seconds"]) == ("voice", "audio/webm", 8)
    served = patient.get(body["file_url"], {"inline": "1"})
    assert served.status_code == 200 and served["Content-Type"] == "audio/webm"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert token(consult.other_patient_user).get(body["file_url"]).status_code == 404

    too_long = SimpleUploadedFile("voice.webm", webm(), content_type="audio/webm")
    assert patient.post(messages_url(consult), {"voice": too_long, "duration": "600"}).status_code == 422
    settings.CONSULTATIONS_VOICE_MAX_BYTES = 1000
    too_big = SimpleUploadedFile("voice.webm", webm(5000), content_type="audio/webm")
    assert patient.post(messages_url(consult), {"voice": too_big, "duration": "2"}).status_code == 413
    not_sound = SimpleUploadedFile("voice.webm", png(), content_type="audio/webm")
    assert patient.post(messages_url(consult), {"voice": not_sound, "duration": "2"}).status_code == 422


def test_a_photo_multipart_is_checked_like_records_uploads(consult: Consult) -> None:
    patient = token(consult.patient_user)
    photo = SimpleUploadedFile("rash.png", png(), content_type="image/png")
    response = patient.post(messages_url(consult), {"file": photo, "text": "Look"})
    assert response.status_code == 201 and response.json()["kind"] == "photo"
    html = SimpleUploadedFile("x.png", b"<html><script>alert(1)</script>", content_type="image/png")
    assert patient.post(messages_url(consult), {"file": html}).status_code == 422


def test_idempotency_key_sends_a_retried_message_once(consult: Consult) -> None:
    patient = token(consult.patient_user)
    first = post_json(patient, messages_url(consult), {"text": "once"}, **{"Idempotency-Key": "abc-1"})
    again = post_json(patient, messages_url(consult), {"text": "once"}, **{"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert ConsultationMessage.objects.count() == 1


# --- requests ----------------------------------------------------------------------------------------------------


def test_requests_queue_take_and_refusals(consult: Consult) -> None:
    created = post_json(
        token(consult.patient_user),
        "/api/v1/consultation-requests",
        {"patient": consult.clinic.patient.pk, "kind": "question", "question": "Can I fly after the procedure?"},
    )
    assert created.status_code == 201, created.content
    request_id = created.json()["id"]
    assert created.json()["status"] == "waiting"
    other = post_json(
        token(consult.other_patient_user),
        "/api/v1/consultation-requests",
        {"patient": consult.clinic.patient.pk, "kind": "question", "question": "?"},
    )
    assert other.status_code == 404
    queue = token(consult.doctor_user).get("/api/v1/consultation-requests").json()
    assert [r["id"] for r in queue] == [request_id]
    take = f"/api/v1/consultation-requests/{request_id}/take"
    for stranger in (consult.outsider, consult.other_patient_user, consult.nurse):
        assert token(stranger).post(take).status_code == 404
    taken = token(consult.doctor_user).post(take)
    assert taken.status_code == 200 and taken.json()["taken_by"]["name"] == "Dr Dana"
    late = token(consult.other_doctor_user).post(take)
    assert late.status_code == 409 and late.json()["code"] == "request_taken"
    mine = token(consult.patient_user).get("/api/v1/consultation-requests").json()
    assert [(r["id"], r["status"]) for r in mine] == [(request_id, "taken")]


def test_the_operations_are_in_the_openapi_document(client: Client) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/contracts",
        "/api/v1/contracts/{contract_id}/end",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/consultation-requests",
        "/api/v1/consultation-requests/{request_id}/take",
    ):
        assert path in paths
    body = paths["/api/v1/conversations/{conversation_id}/messages"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
