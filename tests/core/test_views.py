"""Staff shell: who lands where, organisation switching, PWA manifest and service worker."""

from __future__ import annotations

import pytest
from django.test import Client

from kabinet.core.models import Role
from tests.factories import member


@pytest.mark.django_db
def test_staff_dashboard_shows_the_organisation_and_roles(registrar, login_client) -> None:
    response = login_client(registrar).get("/")
    assert response.status_code == 200
    assert b"Alpha Clinic" in response.content
    assert b"Registrar" in response.content


@pytest.mark.django_db
def test_anonymous_is_sent_to_login() -> None:
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_a_patient_is_sent_to_the_patient_area(org, make_user, login_client) -> None:
    patient = make_user(Role.PATIENT, organisation=org)
    response = login_client(patient).get("/")
    assert response.status_code == 302 and response["Location"] == "/my/"
    assert login_client(patient).get("/my/").status_code == 200


@pytest.mark.django_db
def test_a_user_without_membership_gets_a_clear_page(make_user, login_client) -> None:
    response = login_client(make_user()).get("/")
    assert response.status_code == 403


@pytest.mark.django_db
def test_switching_organisation_only_to_ones_the_user_belongs_to(registrar, org, other_org, login_client) -> None:
    client = login_client(registrar)
    client.post("/organisation/", {"organisation": other_org.pk})
    assert b"Alpha Clinic" in client.get("/").content  # not a member of Beta: ignored
    member(registrar, other_org, Role.COORDINATOR)
    client.post("/organisation/", {"organisation": other_org.pk})
    page = client.get("/").content
    assert b"Coordinator" in page
    client.post("/organisation/", {"organisation": "junk"})
    assert client.get("/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "start"), [("/manifest.webmanifest", "/"), ("/my/manifest.webmanifest", "/my/")])
def test_manifests_for_both_areas(path: str, start: str) -> None:
    response = Client().get(path)
    assert response["Content-Type"] == "application/manifest+json"
    body = response.json()
    assert body["start_url"] == start and body["scope"] == start
    assert {icon["sizes"] for icon in body["icons"]} == {"192x192", "512x512"}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "scope"), [("/sw.js", "/"), ("/my/sw.js", "/my/")])
def test_service_workers_are_javascript_scoped_to_their_area(path: str, scope: str) -> None:
    response = Client().get(path)
    assert response["Content-Type"] == "application/javascript"
    assert response["Service-Worker-Allowed"] == scope
    assert b"OFFLINE_URL" in response.content
