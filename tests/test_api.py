"""The API shell: valid OpenAPI, authentication by session or bearer token, errors as problem+json."""

from __future__ import annotations

import pytest
from django.test import Client
from openapi_spec_validator import validate

from kabinet.accounts.services import api_token_create


def _is_problem(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"]


@pytest.mark.django_db
def test_openapi_document_is_valid_and_lists_me() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert "/api/v1/me" in spec["paths"]
    assert Client().get("/api/v1/docs").status_code == 200


@pytest.mark.django_db
def test_me_with_session(registrar, org, login_client) -> None:
    body = login_client(registrar).get("/api/v1/me").json()
    assert body["email"] == "bob@example.org"
    assert body["memberships"] == [{"organisation_id": org.pk, "organisation": "Alpha Clinic", "roles": ["registrar"]}]


@pytest.mark.django_db
def test_me_with_bearer_token(registrar) -> None:
    _, raw = api_token_create(user=registrar, name="app")
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["id"] == registrar.pk


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer kab_" + "x" * 43, "Basic Zm9vOmJhcg=="])
def test_unauthenticated_calls_get_401_problem(header) -> None:
    headers = {"Authorization": header} if header else {}
    _is_problem(Client().get("/api/v1/me", headers=headers), 401, "not_authenticated")


@pytest.mark.django_db
def test_unknown_api_path_is_a_404_problem(registrar, login_client) -> None:
    _is_problem(login_client(registrar).get("/api/v1/no-such-thing"), 404, "not_found")
    _is_problem(Client().get("/api/v2/me"), 404, "not_found")
    # A client posting to a wrong path with its token gets the 404 too, not the HTML CSRF page.
    strict = Client(enforce_csrf_checks=True)
    _is_problem(strict.post("/api/v1/no-such-thing", {}, headers={"Authorization": "Bearer kb_x"}), 404, "not_found")


@pytest.mark.django_db
def test_organisations_lists_only_the_callers(registrar, outsider, org, other_org, login_client) -> None:
    body = login_client(registrar).get("/api/v1/organisations").json()
    assert [o["slug"] for o in body] == ["alpha"]


@pytest.mark.django_db
def test_a_response_carries_a_request_id(registrar, login_client) -> None:
    response = login_client(registrar).get("/api/v1/me", headers={"X-Request-ID": "abc123"})
    assert response["X-Request-ID"] == "abc123"
    assert len(Client().get("/api/v1/me")["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_a_deactivated_member_has_no_roles(registrar, org, login_client) -> None:
    registrar.memberships.update(is_active=False)
    assert login_client(registrar).get("/api/v1/me").json()["memberships"] == []
