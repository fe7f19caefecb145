"""The API's view of accounts: bearer tokens and the session (with 2FA) on GET /api/v1/me; errors as problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from kabinet.accounts import services
from kabinet.accounts.models import User
from kabinet.core.models import Organisation, Role
from tests.accounts.conftest import LoginPost, current_totp
from tests.factories import PASSWORD, member

pytestmark = pytest.mark.django_db


def _me(token: str) -> Any:
    """GET /api/v1/me with a bearer token, from a client without a session."""
    return Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def _assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status


def test_a_bearer_token_identifies_its_user(admin_user: User, org: Organisation) -> None:
    _, raw = services.api_token_create(user=admin_user, name="script")
    response = _me(raw)
    assert response.status_code == 200
    assert response.json() == {
        "id": admin_user.pk,
        "email": "alice@example.org",
        "phone": None,
        "full_name": "Alice Admin",
        "language": "en",
        "memberships": [{"organisation_id": org.pk, "organisation": "Alpha Clinic", "roles": ["admin"]}],
    }


def test_each_token_speaks_for_its_own_user(admin_user: User, registrar: User) -> None:
    _, alices = services.api_token_create(user=admin_user, name="alice")
    _, bobs = services.api_token_create(user=registrar, name="bob")
    assert _me(alices).json()["id"] == admin_user.pk
    assert _me(bobs).json()["id"] == registrar.pk


def test_me_lists_every_membership_with_its_roles(admin_user: User, org: Organisation, other_org: Organisation) -> None:
    member(admin_user, other_org, Role.DOCTOR, Role.NURSE)
    _, raw = services.api_token_create(user=admin_user, name="script")
    memberships = _me(raw).json()["memberships"]
    assert [(m["organisation"], m["roles"]) for m in memberships] == [
        ("Alpha Clinic", ["admin"]),
        ("Beta Clinic", ["doctor", "nurse"]),
    ]


def test_a_revoked_token_gets_401_problem_json(admin_user: User) -> None:
    token, raw = services.api_token_create(user=admin_user, name="script")
    services.api_token_revoke(user=admin_user, token_id=token.pk)
    response = _me(raw)
    _assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_unknown_token_gets_401_problem_json(admin_user: User) -> None:
    response = _me("kab_made-up")
    _assert_problem(response, 401, "not_authenticated")


def test_no_credentials_get_401_problem_json() -> None:
    _assert_problem(Client().get("/api/v1/me"), 401, "not_authenticated")


def test_the_session_works_for_the_api(admin_user: User, login_client: Callable[[User], Client]) -> None:
    response = login_client(admin_user).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["id"] == admin_user.pk


def test_a_session_owing_2fa_gets_401_until_verified(
    admin_user: User, org: Organisation, client: Client, post_login: LoginPost
) -> None:
    org.require_2fa_roles = [Role.ADMIN]
    org.save(update_fields=["require_2fa_roles"])
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    post_login("alice@example.org", PASSWORD)

    _assert_problem(client.get("/api/v1/me"), 401, "not_authenticated")

    assert client.post("/accounts/2fa/", {"token": current_totp(device)}).status_code == 302
    assert client.get("/api/v1/me").status_code == 200


def test_a_session_of_a_role_without_2fa_works_in_a_clinic_requiring_it_for_others(
    org: Organisation, registrar: User, login_client: Callable[[User], Client]
) -> None:
    org.require_2fa_roles = [Role.ADMIN]
    org.save(update_fields=["require_2fa_roles"])
    assert login_client(registrar).get("/api/v1/me").status_code == 200


def test_a_phone_user_sees_the_phone_in_e164(db: None) -> None:
    alice = User.objects.create_user(phone="+359 88 123 4567", password=PASSWORD)
    _, raw = services.api_token_create(user=alice, name="script")
    assert _me(raw).json()["phone"] == "+359881234567"
