"""Fixtures for the accounts tests: a real SMTP server, 2FA organisations, audit and HTML helpers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kabinet.accounts.models import User
from kabinet.audit.models import AuditEvent
from kabinet.core.models import Organisation, Role


@pytest.fixture
def org_requiring_2fa(org: Organisation) -> Organisation:
    org.require_2fa_roles = [Role.ADMIN]
    org.save(update_fields=["require_2fa_roles"])
    return org


def current_totp(device: TOTPDevice) -> str:
    """The code an authenticator app would show right now for `device`."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def wrong_totp(device: TOTPDevice) -> str:
    """A code the device accepts in no window around now."""
    device.refresh_from_db()
    near = {
        f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=d):06d}"
        for d in range(-2, 3)
    }
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)


_AUDIT_CONTENT = ("actor_label", "action", "object_type", "object_id", "before", "after")


def audit_dump() -> str:
    """The content of every audit row as one text, to look for secrets that must never be there.
    (The chain hashes and request ids are hex digests, left out so a 6-digit code cannot match them by chance.)"""
    rows = AuditEvent.objects.order_by("id").values(*_AUDIT_CONTENT)
    return "\n".join(repr(row) for row in rows)


def actions_for(user: User) -> list[str]:
    """Audit actions about `user` and their tokens, oldest first."""
    return list(AuditEvent.objects.filter(actor=user).order_by("id").values_list("action", flat=True))


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
_HX_CSRF = re.compile(r'"X-CSRFToken": "[^"]*"')


def page_text(html: str, *, replace: tuple[str, ...] = ()) -> str:
    """A page without its per-request CSRF tokens (and with the given strings blanked), to compare two answers."""
    html = _CSRF.sub("", html)
    html = _HX_CSRF.sub("", html)
    for value in replace:
        html = html.replace(value, "…")
    return html


def html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]*)"', html)
    assert match, html[:200]
    return match.group(1)


LoginPost = Callable[..., Any]


@pytest.fixture
def post_login(client: Client) -> LoginPost:
    """POST the login form as from client address `ip`."""

    def post(login: str, password: str, *, ip: str = "10.0.0.1", using: Client | None = None) -> Any:
        return (using or client).post("/accounts/login/", {"login": login, "password": password}, REMOTE_ADDR=ip)

    return post
