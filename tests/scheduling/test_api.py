"""The calendar API: listing, slots, booking with idempotency, 409/422 problems, moves, statuses, scoping."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kabinet.accounts.services import api_token_create
from kabinet.scheduling.api import SlotOut, slots_json
from kabinet.scheduling.availability import free_slots
from kabinet.scheduling.models import Appointment

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(clinic, login_client):
    return login_client(clinic.registrar)


def _payload(clinic, **kw):
    body = {
        "patient": clinic.patient.pk,
        "practitioner": clinic.doctor.pk,
        "service": clinic.service.pk,
        "start": clinic.at(9).isoformat(),
        "location": clinic.location.pk,
    }
    body.update(kw)
    return body


def _post(client, path, body, **headers):
    return client.post(path, body, content_type="application/json", headers=headers)


def test_reference_lists(api, clinic) -> None:
    assert [x["name"] for x in api.get("/api/v1/locations").json()] == ["Sofia"]
    doctors = api.get("/api/v1/practitioners").json()
    assert {d["name"] for d in doctors} == {"Dr Dana", "Dr Boris"}
    services = {s["name"]: s for s in api.get("/api/v1/services").json()}
    assert services["Consultation"]["duration_minutes"] == 30
    assert "Thread lift" in services
    assert {r["kind"] for r in api.get("/api/v1/reasons").json()} == {"cancel", "no_show"}


def test_patients_see_only_online_bookable_services(clinic, login_client) -> None:
    names = {s["name"] for s in login_client(clinic.patient_user).get("/api/v1/services").json()}
    assert "Thread lift" not in names and "Consultation" in names


def test_slots_endpoint_returns_aware_times_in_the_location_zone(api, clinic) -> None:
    response = api.get(
        "/api/v1/slots",
        {
            "service": clinic.service.pk,
            "practitioner": clinic.doctor.pk,
            "location": clinic.location.pk,
            "start": clinic.day.isoformat(),
            "end": clinic.day.isoformat(),
        },
    )
    assert response.status_code == 200
    slots = response.json()
    assert {k: slots[0][k] for k in ("practitioner", "location")} == {
        "practitioner": clinic.doctor.pk,
        "location": clinic.location.pk,
    }
    first = datetime.fromisoformat(slots[0]["start"])
    assert first.tzinfo is not None and first == clinic.at(9)


def test_slot_json_reads_back_as_the_schema_gives_it(clinic) -> None:
    """The slot list is written without the schema (kabinet/scheduling/api.py, slots_json): every row has SlotOut's
    fields in its order and validates to the SlotOut of its slot, times aware."""
    start = clinic.at(0)
    slots = free_slots(
        service=clinic.service,
        practitioner_ids=[clinic.doctor.pk, clinic.other_doctor.pk],
        start=start,
        end=start + timedelta(days=1),
        not_before=timezone.now(),
    )
    assert len({s.practitioner_id for s in slots}) == 2 and len(slots) > 10
    rows = json.loads(slots_json(slots))
    assert all(list(row) == list(SlotOut.model_fields) for row in rows)
    assert [SlotOut.model_validate(row) for row in rows] == [
        SlotOut(start=s.start, end=s.end, practitioner=s.practitioner_id, location=s.location_id) for s in slots
    ]
    assert all(datetime.fromisoformat(row["end"]).tzinfo is not None for row in rows)
    assert json.loads(slots_json([])) == []


@pytest.mark.parametrize(
    "params",
    [
        {"service": "x", "start": "2026-01-01", "end": "2026-01-02"},
        {"service": 1, "start": "tomorrow", "end": "x"},
        {"start": "2026-01-01", "end": "2026-01-02"},
    ],
)
def test_malformed_slot_queries_get_422(api, params) -> None:
    response = api.get("/api/v1/slots", params)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"


def test_book_then_get_and_list(api, clinic) -> None:
    response = _post(api, "/api/v1/appointments", _payload(clinic, note="first visit"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled" and body["patient"] == clinic.patient.pk and body["note"] == "first visit"
    assert api.get(f"/api/v1/appointments/{body['id']}").json()["id"] == body["id"]
    listed = api.get(
        "/api/v1/appointments",
        {"start": clinic.at(0).isoformat(), "end": (clinic.at(0) + timedelta(days=1)).isoformat()},
    ).json()
    assert [a["id"] for a in listed] == [body["id"]]


def test_calendar_list_is_each_appointments_schema_output_read_from_plain_columns(api, clinic) -> None:
    """GET /api/v1/appointments builds no model instances (kabinet/scheduling/api.py, appointment_rows): its rows
    are what AppointmentOut gives for each appointment, in the caller's language, and its query reads the columns
    it shows, not every column of the doctor's user (the password hash) or of the patient (allergies)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import translation

    from kabinet.scheduling.api import AppointmentOut, appointment_out

    first = _post(api, "/api/v1/appointments", _payload(clinic, note="first visit")).json()["id"]
    second = _post(
        api,
        "/api/v1/appointments",
        _payload(clinic, practitioner=clinic.other_doctor.pk, service=clinic.long_service.pk),
    ).json()["id"]
    Appointment.objects.filter(pk=second).update(reason=clinic.cancel_reason, reason_note="late", is_overbooked=True)
    clinic.service.name_ru = "Консультация"
    clinic.service.save()
    clinic.other_doctor.user.full_name = ""  # the doctor is named by the email then
    clinic.other_doctor.user.save()
    clinic.patient.middle_name = "Ivanovna"
    clinic.patient.save()
    clinic.registrar.language = "ru"
    clinic.registrar.save()
    with CaptureQueriesContext(connection) as queries:
        listed = api.get(
            "/api/v1/appointments",
            {"start": clinic.at(0).isoformat(), "end": (clinic.at(0) + timedelta(days=1)).isoformat()},
        )
    assert listed.status_code == 200 and listed["Content-Type"] == "application/json; charset=utf-8"
    appointments = Appointment.objects.filter(pk__in=[first, second]).order_by("start", "pk")
    with translation.override("ru"):
        expected = [AppointmentOut.model_validate(appointment_out(a)).model_dump(mode="json") for a in appointments]
    assert listed.json() == expected
    assert {row["service_name"] for row in expected} == {"Консультация", "Fillers"}
    assert {row["practitioner_name"] for row in expected} == {"Dr Dana", "doc2@example.org"}
    (calendar,) = [q["sql"] for q in queries.captured_queries if 'FROM "scheduling_appointment"' in q["sql"]]
    assert '"password"' not in calendar and '"allergies"' not in calendar and '"search_text"' not in calendar


def test_second_booking_gets_409_slot_taken(api, clinic) -> None:
    assert _post(api, "/api/v1/appointments", _payload(clinic)).status_code == 201
    response = _post(api, "/api/v1/appointments", _payload(clinic))
    assert response.status_code == 409
    assert response.json()["code"] == "slot_taken"


def test_repeated_post_with_same_idempotency_key_returns_the_first_result(api, clinic) -> None:
    first = _post(api, "/api/v1/appointments", _payload(clinic), **{"Idempotency-Key": "k-1"})
    again = _post(api, "/api/v1/appointments", _payload(clinic), **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field_or_code"),
    [
        ({"start": "2030-01-01T09:00:00"}, "start"),  # naive time
        ({"start": "not a time"}, "start"),
        ({"service": 999999}, "service"),
        ({"patient": "abc"}, "patient"),
        ({"practitioner": None}, "practitioner"),
    ],
)
def test_bad_input_gets_422_with_field_errors(api, clinic, change, field_or_code) -> None:
    response = _post(api, "/api/v1/appointments", _payload(clinic, **change))
    assert response.status_code == 422, response.content
    assert field_or_code in response.json()["errors"]


@pytest.mark.parametrize(
    ("hour", "minute", "code"), [(9, 5, "off_grid"), (11, 30, "in_break"), (15, 0, "outside_working_hours")]
)
def test_rule_breaking_times_get_422_naming_the_problem(api, clinic, hour, minute, code) -> None:
    response = _post(api, "/api/v1/appointments", _payload(clinic, start=clinic.at(hour, minute).isoformat()))
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_malformed_json_is_a_4xx_problem_not_500(api) -> None:
    response = api.post("/api/v1/appointments", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/problem+json"


def test_move_status_and_cancel(api, clinic) -> None:
    appointment_id = _post(api, "/api/v1/appointments", _payload(clinic)).json()["id"]
    moved = api.patch(
        f"/api/v1/appointments/{appointment_id}",
        {"start": clinic.at(10).isoformat(), "note": "moved"},
        content_type="application/json",
    )
    assert moved.status_code == 200 and moved.json()["note"] == "moved"
    confirmed = _post(api, f"/api/v1/appointments/{appointment_id}/status", {"status": "confirmed"})
    assert confirmed.json()["status"] == "confirmed"
    no_reason = _post(api, f"/api/v1/appointments/{appointment_id}/status", {"status": "no_show"})
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    bad = _post(api, f"/api/v1/appointments/{appointment_id}/status", {"status": "teleported"})
    assert bad.status_code == 422
    cancelled = _post(api, f"/api/v1/appointments/{appointment_id}/cancel", {"reason": clinic.cancel_reason.pk})
    assert cancelled.json()["status"] == "cancelled"


def test_other_clinics_and_other_patients_get_404(api, clinic, outsider, login_client, make_user) -> None:
    appointment_id = _post(api, "/api/v1/appointments", _payload(clinic)).json()["id"]
    assert login_client(outsider).get(f"/api/v1/appointments/{appointment_id}").status_code == 404
    from kabinet.core.models import Role
    from tests.factories import PatientFactory

    stranger = make_user(Role.PATIENT, organisation=clinic.org)
    PatientFactory.create(organisation=clinic.org, user=stranger)
    assert login_client(stranger).get(f"/api/v1/appointments/{appointment_id}").status_code == 404
    assert login_client(clinic.patient_user).get(f"/api/v1/appointments/{appointment_id}").status_code == 200


def test_bearer_token_booking_by_the_patient(clinic) -> None:
    _, raw = api_token_create(user=clinic.patient_user, name="phone")
    client = Client()
    response = _post(client, "/api/v1/appointments", _payload(clinic), Authorization=f"Bearer {raw}")
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "online"
    staff_only = _post(
        client,
        "/api/v1/appointments",
        _payload(clinic, service=clinic.staff_only.pk, start=clinic.at(12).isoformat()),
        Authorization=f"Bearer {raw}",
    )
    assert staff_only.status_code == 422


def test_patients_search_and_quick_create(api, clinic) -> None:
    found = api.get("/api/v1/patients", {"search": "Petya"}).json()
    assert [p["id"] for p in found] == [clinic.patient.pk]
    created = _post(
        api, "/api/v1/patients", {"family_name": "Иванова", "given_name": "Анна", "phone": "+359 88 765 4321"}
    )
    assert created.status_code == 201 and created.json()["phone"] == "+359887654321"
    bad = _post(api, "/api/v1/patients", {"family_name": "X", "given_name": "Y", "phone": "12"})
    assert bad.status_code == 422 and "phone" in bad.json()["errors"]
