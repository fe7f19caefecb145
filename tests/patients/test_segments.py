"""Saved segments: a search saved under a name, applied again later (new patients that match appear), listed on
the patients page and in the API, visible only to staff of their clinic."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError
from django.test import Client

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotAllowed, NotFound
from kabinet.patients import selectors, services
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import Patient, Segment

pytestmark = pytest.mark.django_db


def test_a_saved_segment_applies_its_criteria_again(people) -> None:
    criteria = PatientCriteria(sex=Patient.Sex.MALE, age_min=18)
    segment = services.segment_save(
        actor=people.doctor, organisation=people.org, name=" Adult  men ", criteria=criteria
    )
    assert segment.name == "Adult men" and segment.criteria == {"sex": "male", "age_min": 18}
    found = selectors.segment_patients(user=people.doctor, segment=segment)
    assert sorted(p.given_name for p in found) == ["John", "Петър"]
    services.patient_create(
        actor=people.registrar, organisation=people.org, family_name="New", given_name="Man", sex="male",
        birth_date=date(1990, 1, 1),
    )  # fmt: skip
    assert "Man" in [p.given_name for p in selectors.segment_patients(user=people.doctor, segment=segment)]
    event = AuditEvent.objects.get(action="patient.segment_saved")
    assert event.organisation_id == people.org.pk and (event.after or {})["name"] == "Adult men"


def test_the_query_and_dates_survive_the_round_trip(people) -> None:
    criteria = PatientCriteria(query="иванова", next_visit_from=date(2026, 1, 1), extra={"debt": True})
    segment = services.segment_save(actor=people.registrar, organisation=people.org, name="q", criteria=criteria)
    segment.refresh_from_db()
    assert segment.criteria == {"query": "иванова", "next_visit_from": "2026-01-01", "extra": {"debt": True}}
    assert PatientCriteria.from_json(segment.criteria) == criteria


def test_saving_under_an_existing_name_replaces_and_names_are_unique_per_clinic(people) -> None:
    first = services.segment_save(
        actor=people.registrar, organisation=people.org, name="VIP", criteria=PatientCriteria(status="active")
    )
    again = services.segment_save(
        actor=people.registrar, organisation=people.org, name="VIP", criteria=PatientCriteria(status="passive")
    )
    assert again.pk == first.pk and again.criteria == {"status": "passive"}
    other = services.segment_save(
        actor=people.outsider, organisation=people.other_org, name="VIP", criteria=PatientCriteria()
    )
    assert other.pk != first.pk
    with pytest.raises(IntegrityError):
        Segment.objects.create(organisation=people.org, name="VIP")
    with pytest.raises(Invalid):
        services.segment_save(actor=people.registrar, organisation=people.org, name="  ", criteria=PatientCriteria())


def test_other_clinics_and_patients_cannot_save_see_or_apply(people) -> None:
    segment = services.segment_save(
        actor=people.registrar, organisation=people.org, name="All", criteria=PatientCriteria()
    )
    for user in (people.outsider, people.anna_user):
        with pytest.raises(NotAllowed):
            services.segment_save(actor=user, organisation=people.org, name="x", criteria=PatientCriteria())
        with pytest.raises(NotFound):
            selectors.segment_patients(user=user, segment=segment)
        with pytest.raises(NotFound):
            selectors.segment_get(user=user, segment_id=segment.pk)
        assert list(selectors.segments_of(user=user, organisation=people.org)) == []
        with pytest.raises(NotAllowed):
            services.segment_delete(actor=user, segment=segment)
    services.segment_delete(actor=people.registrar, segment=segment)
    assert not Segment.objects.exists()
    assert AuditEvent.objects.filter(action="patient.segment_deleted", object_id=str(segment.pk)).exists()


def test_the_list_page_saves_the_current_search_and_links_to_segments(people, login_client) -> None:
    client = login_client(people.nurse)
    response = client.post("/patients/segments/", {"name": "Women", "query": "sex=female&q=иван"})
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.criteria == {"query": "иван", "sex": "female"}
    page = client.get(response["Location"]).content.decode()
    assert "Women" in page and "Иванова" in page and "Smith" not in page
    assert "q=%D0%B8%D0%B2%D0%B0%D0%BD&amp;sex=female" in client.get("/patients/").content.decode()
    # htmx sends the search form's current fields instead of the rendered query string
    response = client.post(
        "/patients/segments/", {"name": "Men", "sex": "male", "query": "stale"}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == "/patients/?sex=male"
    assert Segment.objects.get(name="Men").criteria == {"sex": "male"}
    assert client.post(f"/patients/segments/{segment.pk}/delete/").status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_the_list_page_of_another_clinic_shows_none_of_its_segments(people, login_client) -> None:
    segment = services.segment_save(
        actor=people.registrar, organisation=people.org, name="Secret", criteria=PatientCriteria()
    )
    outsider = login_client(people.outsider)
    assert "Secret" not in outsider.get("/patients/").content.decode()
    assert outsider.post(f"/patients/segments/{segment.pk}/delete/").status_code == 404
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_api_save_list_and_apply(people, login_client) -> None:
    client = login_client(people.registrar)
    response = client.post(
        "/api/v1/patients/segments",
        {"name": "Bulgarian speakers", "filters": {"language": "bg"}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["criteria"] == {"language": "bg"}
    assert [s["name"] for s in client.get("/api/v1/patients/segments").json()] == ["Bulgarian speakers"]
    found = client.get(f"/api/v1/patients/segments/{body['id']}/patients")
    assert found["X-Total-Count"] == "1" and [p["given_name"] for p in found.json()] == ["Петър"]
    assert client.delete(f"/api/v1/patients/segments/{body['id']}").status_code == 204


def test_api_refuses_other_clinics_and_anonymous(people, login_client) -> None:
    segment = services.segment_save(
        actor=people.registrar, organisation=people.org, name="Mine", criteria=PatientCriteria()
    )
    outsider = login_client(people.outsider)
    assert outsider.get(f"/api/v1/patients/segments/{segment.pk}/patients").status_code == 404
    assert outsider.get("/api/v1/patients/segments").json() == []
    assert outsider.delete(f"/api/v1/patients/segments/{segment.pk}").status_code == 404
    assert Client().get("/api/v1/patients/segments").status_code == 401
    patient = login_client(people.anna_user)
    refused = patient.post("/api/v1/patients/segments", {"name": "x"}, content_type="application/json")
    assert refused.status_code == 403
