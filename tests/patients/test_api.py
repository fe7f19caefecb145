"""The patients API: search with filters and paging, the card, PATCH, the timeline; who gets 404 and 403."""

from __future__ import annotations

import pytest
from django.test import Client

from kabinet.accounts.services import api_token_create
from kabinet.audit.models import AuditEvent
from kabinet.patients import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(people, login_client) -> Client:
    return login_client(people.registrar)


def _token_client(user) -> Client:
    _, raw = api_token_create(user=user, name="phone")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _patch(client: Client, path: str, body: dict):
    return client.patch(path, body, content_type="application/json")


def test_search_with_paging_and_a_total(api, people) -> None:
    response = api.get("/api/v1/patients", {"limit": 2})
    assert response.status_code == 200
    assert response["X-Total-Count"] == "4"
    first = [p["id"] for p in response.json()]
    second = [p["id"] for p in api.get("/api/v1/patients", {"limit": 2, "offset": 2}).json()]
    assert len(first) == 2 and len(second) == 2 and not set(first) & set(second)
    found = api.get("/api/v1/patients", {"search": "0888 123"}).json()
    assert [(p["family_name"], p["phone"]) for p in found] == [("Иванова", "+359888123456")]
    assert found[0]["card_number"] == people.anna.card_number


def test_search_with_filters(api, people) -> None:
    services.patient_tags_set(actor=people.registrar, patient=people.john, names=["dental"])
    tag = people.john.tags.get()
    assert [p["given_name"] for p in api.get("/api/v1/patients", {"tag": tag.pk}).json()] == ["John"]
    assert [p["tags"] for p in api.get("/api/v1/patients", {"tag": tag.pk}).json()] == [["dental"]]
    assert [p["given_name"] for p in api.get("/api/v1/patients", {"sex": "female"}).json()] == ["Анна"]
    assert api.get("/api/v1/patients", {"age_min": 200}).status_code == 422
    assert api.get("/api/v1/patients", {"status": "bogus"}).status_code == 422


def test_create_gives_a_card_number(api) -> None:
    response = api.post(
        "/api/v1/patients",
        {"family_name": "Новикова", "given_name": "Ольга", "phone": "+359 88 765 4321", "source": "social"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["card_number"] and response.json()["phone"] == "+359887654321"


def test_card_for_staff_with_contacts_relatives_and_notes_is_an_audited_read(api, people) -> None:
    services.note_add(actor=people.registrar, patient=people.anna, text="Calls back in the evening")
    services.patient_update(actor=people.registrar, patient=people.anna, changes={"special_notes": "Hard of hearing"})
    body = api.get(f"/api/v1/patients/{people.anna.pk}").json()
    assert body["phones"] == [{"number": "+359888123456", "kind": "mobile", "is_primary": True}]
    assert body["relatives"] == [
        {
            "id": people.kid.pk,
            "name": "Иванов Миша",
            "relation": "child",
            "may_act_for_patient": False,
            "patient_may_act_for_them": True,
        }
    ]
    assert [n["text"] for n in body["notes"]] == ["Calls back in the evening"]
    assert body["special_notes"] == "Hard of hearing" and body["age"] >= 36
    assert AuditEvent.objects.filter(action="patient.viewed", patient_id=people.anna.pk).exists()


def test_patch_changes_details_tags_and_status(api, people) -> None:
    response = _patch(
        api,
        f"/api/v1/patients/{people.john.pk}",
        {"phone": "+44 7911 123999", "tags": ["vip", "dental"], "status": "passive", "is_vip": True},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["phone"], body["status"], body["is_vip"]) == ("+447911123999", "passive", True)
    assert sorted(body["tags"]) == ["dental", "vip"]


def test_patch_problems_are_422_with_field_errors(api, people) -> None:
    bad_phone = _patch(api, f"/api/v1/patients/{people.john.pk}", {"phone": "12"})
    assert bad_phone.status_code == 422 and "phone" in bad_phone.json()["errors"]
    refusal = _patch(api, f"/api/v1/patients/{people.john.pk}", {"status": "refusal"})
    assert refusal.status_code == 422 and "reason" in refusal.json()["errors"]
    assert refusal["Content-Type"] == "application/problem+json"


def test_timeline_newest_first_with_kind_filter(api, people) -> None:
    services.note_add(actor=people.registrar, patient=people.john, text="Wants a call")
    response = api.get(f"/api/v1/patients/{people.john.pk}/timeline")
    entries = response.json()
    assert entries[0]["kind"] == "note" and entries[0]["body"] == "Wants a call"
    assert entries[0]["actor"] == "Bob Registrar"
    assert int(response["X-Total-Count"]) == len(entries) == 2
    notes = api.get(f"/api/v1/patients/{people.john.pk}/timeline", {"kind": "note"}).json()
    assert [e["kind"] for e in notes] == ["note"]


def test_staff_of_another_clinic_get_404_for_everything(people, login_client) -> None:
    for client in (login_client(people.outsider), _token_client(people.outsider)):
        path = f"/api/v1/patients/{people.anna.pk}"
        assert client.get(path).status_code == 404
        assert client.get(f"{path}/timeline").status_code == 404
        assert _patch(client, path, {"address": "x"}).status_code == 404
        assert people.anna.pk not in [p["id"] for p in client.get("/api/v1/patients").json()]
    people.anna.refresh_from_db()
    assert people.anna.address == ""


def test_a_patients_token_sees_own_and_wards_records_and_nobody_elses(people) -> None:
    services.patient_update(actor=people.registrar, patient=people.anna, changes={"special_notes": "Difficult"})
    client = _token_client(people.anna_user)
    own = client.get(f"/api/v1/patients/{people.anna.pk}")
    assert own.status_code == 200
    assert own.json()["special_notes"] == "" and own.json()["notes"] == []  # the clinic's own remarks stay inside
    assert client.get(f"/api/v1/patients/{people.kid.pk}").status_code == 200
    assert client.get(f"/api/v1/patients/{people.john.pk}").status_code == 404  # another patient's card
    assert client.get(f"/api/v1/patients/{people.stranger.pk}").status_code == 404
    assert {p["id"] for p in client.get("/api/v1/patients").json()} == {people.anna.pk, people.kid.pk}
    assert client.get(f"/api/v1/patients/{people.anna.pk}/timeline").status_code == 403
    assert _patch(client, f"/api/v1/patients/{people.anna.pk}", {"address": "x"}).status_code == 403
    assert _patch(client, f"/api/v1/patients/{people.john.pk}", {"address": "x"}).status_code == 404


def test_anonymous_callers_must_authenticate(people) -> None:
    assert Client().get(f"/api/v1/patients/{people.anna.pk}").status_code == 401


def test_endpoints_are_in_the_openapi_schema(api) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/patients"])
    assert {"get", "patch"} <= set(paths["/api/v1/patients/{patient_id}"])
    assert "get" in paths["/api/v1/patients/{patient_id}/timeline"]
