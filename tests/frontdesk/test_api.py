"""The front-desk API: worklists, call attempts (422 for a closed call, Idempotency-Key), the waiting list, arrival;
who may do what (doctors read, patients and anonymous callers are refused, other clinics see 404)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.test import Client

from kabinet.accounts.models import User
from kabinet.frontdesk.models import CallAttempt, WaitlistEntry, WorklistItem
from kabinet.frontdesk.services.worklists import confirmations_generate
from kabinet.records.models import DocumentKind, MandatoryRule
from kabinet.scheduling.models import Appointment
from tests.frontdesk.conftest import Desk

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


def post(client: Client, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


@pytest.fixture
def item(desk: Desk) -> WorklistItem:
    desk.book(desk.petya, 9)
    confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)
    return WorklistItem.objects.get()


def test_registrars_read_the_confirmation_list_of_a_day(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    response = login_client(desk.registrar).get(f"/api/v1/worklists/confirmations?date={desk.call_day}")
    assert response.status_code == 200
    (row,) = response.json()
    assert row["id"] == item.pk
    assert (row["kind"], row["state"], row["attempts"]) == ("confirmations", "open", 0)
    assert row["patient"] == {"id": desk.petya.pk, "name": "Patient Petya", "phone": "+359888100001"}
    assert row["appointment"]["service_name"] == "Consultation"
    assert row["appointment"]["status"] == "scheduled"
    other_day = login_client(desk.registrar).get(f"/api/v1/worklists/confirmations?date={desk.visit_day}")
    assert other_day.json() == []


def test_doctors_read_but_may_not_log_calls(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    client = login_client(desk.doctor_user)
    assert client.get(f"/api/v1/worklists/confirmations?date={desk.call_day}").status_code == 200
    response = post(client, f"/api/v1/worklist-items/{item.pk}/attempts", {"outcome": "no_answer"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "forbidden"


def test_patients_and_anonymous_callers_are_refused(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    patient = login_client(desk.clinic.patient_user)
    assert patient.get("/api/v1/worklists/confirmations").status_code == 403
    assert patient.get("/api/v1/waitlist").status_code == 403
    assert post(patient, f"/api/v1/worklist-items/{item.pk}/attempts", {"outcome": "confirmed"}).status_code == 403
    anonymous = Client()
    assert anonymous.get("/api/v1/worklists/confirmations").status_code == 401
    assert post(anonymous, f"/api/v1/worklist-items/{item.pk}/attempts", {"outcome": "confirmed"}).status_code == 401
    assert CallAttempt.objects.count() == 0


def test_another_clinic_gets_404(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    client = login_client(desk.outsider)
    response = post(client, f"/api/v1/worklist-items/{item.pk}/attempts", {"outcome": "confirmed"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get(f"/api/v1/worklists/confirmations?date={desk.call_day}").json() == []
    visit = Appointment.objects.get()
    assert post(client, f"/api/v1/appointments/{visit.pk}/arrive", {}).status_code == 404


def test_an_unknown_list_is_a_validation_error(desk: Desk, login_client: Login) -> None:
    response = login_client(desk.registrar).get("/api/v1/worklists/everything")
    assert response.status_code == 422


def test_logging_a_call_and_a_closed_item_gets_422_with_the_reason(
    desk: Desk, item: WorklistItem, login_client: Login
) -> None:
    client = login_client(desk.operator)
    url = f"/api/v1/worklist-items/{item.pk}/attempts"
    response = post(client, url, {"outcome": "confirmed", "note": "yes"})
    assert response.status_code == 201
    body = response.json()
    assert body["attempt"]["outcome"] == "confirmed"
    assert body["item"]["state"] == "closed"
    assert body["item"]["appointment"]["status"] == "confirmed"
    assert body["appointment"] == item.appointment_id

    again = post(client, url, {"outcome": "no_answer"})
    assert again.status_code == 422
    assert again["Content-Type"] == "application/problem+json"
    assert again.json()["code"] == "item_closed"
    assert "already closed" in again.json()["detail"]


def test_bad_outcomes_and_follow_ups_are_validation_errors(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    client = login_client(desk.operator)
    url = f"/api/v1/worklist-items/{item.pk}/attempts"
    assert post(client, url, {"outcome": "maybe"}).status_code == 422
    response = post(client, url, {"outcome": "cancelled"})
    assert response.status_code == 422
    assert "follow_up" in response.json()["errors"]
    response = post(client, url, {"outcome": "call_back", "callback_at": "2020-01-01T10:00:00+02:00"})
    assert response.status_code == 422
    assert "callback_at" in response.json()["errors"]


def test_a_retried_attempt_with_the_same_idempotency_key_is_logged_once(
    desk: Desk, item: WorklistItem, login_client: Login
) -> None:
    client = login_client(desk.operator)
    url = f"/api/v1/worklist-items/{item.pk}/attempts"
    first = post(client, url, {"outcome": "no_answer"}, **{"Idempotency-Key": "call-1"})
    second = post(client, url, {"outcome": "no_answer"}, **{"Idempotency-Key": "call-1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert CallAttempt.objects.count() == 1


def test_cancel_to_the_waiting_list_through_the_api(desk: Desk, item: WorklistItem, login_client: Login) -> None:
    callback = desk.visit_day + timedelta(days=3)
    response = post(
        login_client(desk.registrar),
        f"/api/v1/worklist-items/{item.pk}/attempts",
        {
            "outcome": "cancelled",
            "follow_up": "waitlist",
            "cancel_reason": desk.clinic.cancel_reason.pk,
            "callback_date": callback.isoformat(),
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["item"]["follow_up"] == "waitlist"
    assert WaitlistEntry.objects.get().callback_date == callback


def test_the_waiting_list_api(desk: Desk, login_client: Login) -> None:
    client = login_client(desk.registrar)
    response = post(
        client,
        "/api/v1/waitlist",
        {
            "patient": desk.anna.pk,
            "service": desk.clinic.service.pk,
            "practitioners": [desk.clinic.doctor.pk],
            "weekdays": [0, 1, 2, 3, 4],
            "time_from": "09:00",
            "time_to": "12:00",
            "note": "mornings",
            "callback_date": desk.visit_day.isoformat(),
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["patient_name"], body["service_name"], body["practitioners"], body["state"]) == (
        "Ivanova Anna",
        "Consultation",
        [desk.clinic.doctor.pk],
        "waiting",
    )
    listed = client.get("/api/v1/waitlist").json()
    assert [e["id"] for e in listed] == [body["id"]]
    # another clinic's patient, service or doctor is refused
    foreign = post(
        login_client(desk.outsider), "/api/v1/waitlist", {"patient": desk.anna.pk, "service": desk.clinic.service.pk}
    )
    assert foreign.status_code == 422
    assert login_client(desk.outsider).get("/api/v1/waitlist").json() == []
    bad = post(
        client, "/api/v1/waitlist", {"patient": desk.anna.pk, "service": desk.clinic.service.pk, "weekdays": [8]}
    )
    assert bad.status_code == 422
    doctor = post(
        login_client(desk.doctor_user), "/api/v1/waitlist", {"patient": desk.anna.pk, "service": desk.clinic.service.pk}
    )
    assert doctor.status_code == 403


def test_arrive_returns_the_visit_lateness_and_prompts(desk: Desk, login_client: Login) -> None:
    visit = desk.book(desk.petya, 10)
    back = timedelta(days=3)  # it started days ago: very late
    Appointment.objects.filter(pk=visit.pk).update(
        start=F("start") - back, end=F("end") - back, busy_start=F("busy_start") - back, busy_end=F("busy_end") - back
    )
    client = login_client(desk.registrar)
    first = post(client, f"/api/v1/appointments/{visit.pk}/arrive", {}, **{"Idempotency-Key": "arrive-1"})
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["appointment"]["status"] == "scheduled"
    assert body["arrival"]["lateness"] == "very_late"
    assert [p["code"] for p in body["prompts"]] == ["reschedule"]
    repeat = post(client, f"/api/v1/appointments/{visit.pk}/arrive", {}, **{"Idempotency-Key": "arrive-1"})
    assert repeat.json() == body
    anyway = post(client, f"/api/v1/appointments/{visit.pk}/arrive", {"seen_late": True})
    assert anyway.json()["appointment"]["status"] == "arrived"
    assert anyway.json()["arrival"]["seen_late"] is True
    patient = login_client(desk.clinic.patient_user)
    assert post(patient, f"/api/v1/appointments/{visit.pk}/arrive", {}).status_code == 403


def test_arrive_prompts_link_to_the_missing_documents(desk: Desk, login_client: Login) -> None:
    MandatoryRule.objects.create(organisation=desk.org, name="Contract", kind=DocumentKind.CONTRACT)
    visit = desk.book(desk.petya, 10)
    response = post(login_client(desk.registrar), f"/api/v1/appointments/{visit.pk}/arrive", {})
    assert response.status_code == 200, response.json()
    (prompt,) = [p for p in response.json()["prompts"] if p["code"] == "missing_documents"]
    assert prompt["items"] == ["Contract"]
    assert prompt["links"] == [
        {
            "label": "Upload the signed scan: Contract",
            "url": f"/records/patients/{desk.petya.pk}/upload/?kind={DocumentKind.CONTRACT}",
        }
    ]


def test_arrive_prompts_link_to_sign_a_consent_made_but_not_signed(
    desk: Desk, login_client: Login, settings, tmp_path
) -> None:
    from kabinet.records import services as records
    from kabinet.records.models import DocumentTemplate

    settings.MEDIA_ROOT = str(tmp_path)
    template = DocumentTemplate.objects.create(
        organisation=desk.org, kind=DocumentKind.INFORMED_CONSENT, name="GDPR consent", body="<p>I agree.</p>"
    )
    MandatoryRule.objects.create(organisation=desk.org, name="GDPR consent", kind=DocumentKind.INFORMED_CONSENT)
    consent = records.document_create_from_template(
        actor=desk.registrar, patient=desk.petya, template=template, fields={}
    )
    visit = desk.book(desk.petya, 10)
    response = post(login_client(desk.registrar), f"/api/v1/appointments/{visit.pk}/arrive", {})
    assert response.status_code == 200, response.json()
    prompts = response.json()["prompts"]
    assert [p["code"] for p in prompts] == ["missing_signatures"]  # the document is there: not "missing_documents"
    assert prompts[0]["items"] == ["GDPR consent"]
    assert prompts[0]["links"] == [
        {"label": "Sign on the screen: GDPR consent", "url": f"/records/documents/{consent.pk}/sign/"},
        {
            "label": "Upload the signed scan: GDPR consent",
            "url": f"/records/patients/{desk.petya.pk}/upload/?kind={DocumentKind.INFORMED_CONSENT}",
        },
    ]


def test_generate_on_demand_and_next_visit_slots(desk: Desk, login_client: Login) -> None:
    visit = desk.book(desk.petya, 9)
    client = login_client(desk.registrar)
    response = client.post(f"/api/v1/worklists/confirmations/generate?date={desk.call_day}")
    assert response.json() == {"created": 1, "closed": 0}
    assert client.post(f"/api/v1/worklists/confirmations/generate?date={desk.call_day}").json()["created"] == 0
    assert login_client(desk.doctor_user).post("/api/v1/worklists/confirmations/generate").status_code == 403
    slots = client.get(f"/api/v1/appointments/{visit.pk}/next-visit-slots?weeks=0").json()
    assert slots and slots[0]["practitioner"] == desk.clinic.doctor.pk
    booked = post(client, f"/api/v1/appointments/{visit.pk}/next-visit", {"start": slots[0]["start"]})
    assert booked.status_code == 201
    assert booked.json()["patient"] == desk.petya.pk


def test_the_openapi_document_lists_the_front_desk(client: Client) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/worklists/{kind}",
        "/api/v1/worklist-items/{item_id}/attempts",
        "/api/v1/waitlist",
        "/api/v1/appointments/{appointment_id}/arrive",
    ):
        assert path in paths
