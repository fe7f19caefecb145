"""Audit search page and CSV export: administrators of the organisation only, filtered, scoped."""

from __future__ import annotations

import csv
import io

import pytest

from kabinet.audit.services import record


@pytest.fixture
def events(admin_user, registrar, org, other_org):
    record(
        actor=registrar,
        action="patient.viewed",
        object_type="patients.patient",
        object_id=11,
        organisation=org,
        patient=11,
    )
    record(
        actor=admin_user,
        action="appointment.booked",
        object_type="scheduling.appointment",
        object_id=5,
        organisation=org,
        patient=12,
    )
    record(actor=None, action="secret.other_clinic", object_type="x", object_id=1, organisation=other_org)


@pytest.mark.django_db
def test_admin_sees_own_organisation_events_only(events, admin_user, login_client) -> None:
    response = login_client(admin_user).get("/audit/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "patient.viewed" in body and "appointment.booked" in body
    assert "secret.other_clinic" not in body


@pytest.mark.django_db
def test_filters_by_patient_actor_and_action(events, admin_user, login_client) -> None:
    client = login_client(admin_user)
    by_patient = client.get("/audit/", {"patient": 12}).content.decode()
    assert "appointment.booked" in by_patient and "patient.viewed" not in by_patient
    by_actor = client.get("/audit/", {"actor": "Bob"}).content.decode()
    assert "patient.viewed" in by_actor and "appointment.booked" not in by_actor
    by_action = client.get("/audit/", {"action": "appointment"}).content.decode()
    assert "appointment.booked" in by_action and "patient.viewed" not in by_action


@pytest.mark.django_db
def test_malformed_filters_do_not_break_the_page(events, admin_user, login_client) -> None:
    response = login_client(admin_user).get("/audit/", {"patient": "abc", "date_from": "yesterday", "page": "zz"})
    assert response.status_code == 200


@pytest.mark.django_db
def test_csv_export_streams_the_filtered_events(events, admin_user, login_client) -> None:
    response = login_client(admin_user).get("/audit/export.csv", {"patient": 11})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "time", "actor", "action"]
    assert [r[3] for r in rows[1:]] == ["patient.viewed"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_staff_who_are_not_administrators_are_refused(events, registrar, login_client, path) -> None:
    assert login_client(registrar).get(path).status_code == 403


@pytest.mark.django_db
def test_an_administrator_of_another_clinic_sees_only_their_clinic(events, outsider, login_client) -> None:
    client = login_client(outsider)
    page = client.get("/audit/").content.decode()
    assert "secret.other_clinic" in page
    assert "patient.viewed" not in page
    export = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    assert "secret.other_clinic" in export and "patient.viewed" not in export


@pytest.mark.django_db
def test_anonymous_is_sent_to_login() -> None:
    from django.test import Client

    response = Client().get("/audit/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_account_events_of_members_are_shown_but_not_those_of_other_clinics(admin_user, outsider, login_client) -> None:
    from kabinet.accounts.services import login_succeeded

    login_succeeded(user=admin_user)
    login_succeeded(user=outsider)
    page = login_client(admin_user).get("/audit/", {"action": "account.login"}).content.decode()
    assert page.count("<code>account.login</code>") == 1
    assert "Alice Admin" in page and "Charlie" not in page
