"""`manage.py issue_api_token`: prints a working token for a user found by email or phone, once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from kabinet.accounts.models import ApiToken, User
from kabinet.audit.models import AuditEvent
from tests.accounts.conftest import audit_dump

pytestmark = pytest.mark.django_db


def _issue(*args: str) -> str:
    out = StringIO()
    call_command("issue_api_token", *args, stdout=out)
    return out.getvalue().strip()


def test_it_prints_a_token_that_works_on_the_api(admin_user: User) -> None:
    raw = _issue("alice@example.org")
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["id"] == admin_user.pk


def test_it_stores_only_the_hash_of_the_printed_token(admin_user: User) -> None:
    raw = _issue("alice@example.org", "--name", "backup job")
    token = ApiToken.objects.get(user=admin_user)
    assert token.name == "backup job"
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in repr(ApiToken.objects.filter(pk=token.pk).values().get())


def test_it_finds_the_user_by_phone_in_any_format(make_user: Callable[..., User]) -> None:
    alice = make_user(email=None, phone="+359881234567")
    raw = _issue("+359 88 123 4567")
    assert ApiToken.objects.get(token_hash=hashlib.sha256(raw.encode()).hexdigest()).user == alice


def test_each_run_issues_a_new_token(admin_user: User) -> None:
    assert _issue("alice@example.org") != _issue("alice@example.org")
    assert ApiToken.objects.filter(user=admin_user).count() == 2


def test_it_is_audited_without_the_token(admin_user: User) -> None:
    raw = _issue("alice@example.org")
    assert AuditEvent.objects.filter(action="account.api_token_created", actor=admin_user).count() == 1
    assert raw not in audit_dump()


def test_an_unknown_login_is_refused(admin_user: User) -> None:
    with pytest.raises(CommandError):
        _issue("nobody@example.org")
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token(make_user: Callable[..., User]) -> None:
    make_user(email="bob@example.org", is_active=False)
    with pytest.raises(CommandError):
        _issue("bob@example.org")
    assert not ApiToken.objects.exists()
