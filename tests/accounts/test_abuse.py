"""Authentication abuse: what tests/accounts/test_services.py and test_views.py leave open.

Already proven there (not repeated here): 429 after five failed logins per account and per address within 30
minutes, reset-request limits, one-time codes single use, expiring and dead after five wrong tries, the same
answer for known and unknown logins and reset requests, sessions and tokens ended by a password change, tokens by a
reset, 2FA enforced for the configured roles with its own 429.

Here: every login path runs the password hasher exactly once (so timing cannot tell who has an account); portal
sign-up answers alike for new, active and pending accounts; a reset ends the other sessions; a TOTP code works once;
a forged X-Forwarded-For does not escape the per-address limit; the sign-up limit per address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.mail import EmailMessage
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from kabinet.accounts.models import User
from kabinet.core.models import Organisation
from kabinet.portal.services import SIGNUP_IP_LIMIT_PER_HOUR
from tests.accounts.conftest import LoginPost, current_totp, page_text
from tests.factories import PASSWORD
from tests.fixtures.clinic import Clinic
from tests.fixtures.mail import code_from

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-long-passphrase-42"


# --- the hasher runs once on every login path ----------------------------------------------------------------------


@pytest.fixture
def hasher_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names of Argon2 operations (hashing a password or checking one: the same cost) during the test."""
    calls: list[str] = []
    encode, verify = Argon2PasswordHasher.encode, Argon2PasswordHasher.verify

    def counted_encode(self: Argon2PasswordHasher, password: str, salt: str) -> str:
        calls.append("encode")
        return encode(self, password, salt)

    def counted_verify(self: Argon2PasswordHasher, password: str, encoded: str) -> bool:
        calls.append("verify")
        return verify(self, password, encoded)

    monkeypatch.setattr(Argon2PasswordHasher, "encode", counted_encode)
    monkeypatch.setattr(Argon2PasswordHasher, "verify", counted_verify)
    yield calls


@pytest.mark.parametrize(
    "login",
    [
        "alice@example.org",  # exists, wrong password
        "nobody@example.org",  # no such email
        "+359 88 000 0000",  # no such phone
        "imported@example.org",  # exists, never activated (no usable password)
        "gone@example.org",  # exists, deactivated
    ],
)
def test_every_failed_login_costs_one_password_hash(
    login: str,
    admin_user: User,
    make_user: Callable[..., User],
    post_login: LoginPost,
    hasher_calls: list[str],
) -> None:
    make_user(email="imported@example.org", password=False)
    make_user(email="gone@example.org", is_active=False)
    hasher_calls.clear()
    response = post_login(login, "not-the-password-1")
    assert response.status_code == 400
    assert len(hasher_calls) == 1, hasher_calls


def test_a_locked_login_costs_no_hash_whether_or_not_the_account_exists(
    admin_user: User, post_login: LoginPost, hasher_calls: list[str]
) -> None:
    """Once limited, neither a real nor an unknown account is checked at all: both answers take the same path."""
    for login in ("alice@example.org", "nobody@example.org"):
        for n in range(5):
            post_login(login, "wrong-password-1", ip=f"10.3.{n}.1")
    hasher_calls.clear()
    real = post_login("alice@example.org", PASSWORD, ip="10.4.0.1")
    unknown = post_login("nobody@example.org", PASSWORD, ip="10.4.0.2")
    assert real.status_code == unknown.status_code == 429
    assert hasher_calls == []


# --- portal sign-up does not tell who is a patient ------------------------------------------------------------------


def _signup(clinic: Clinic, email: str, ip: str = "10.5.0.1") -> Any:
    return Client().post(
        f"/book/{clinic.org.slug}/",
        {
            "action": "signup",
            "signup-given_name": "Vera",
            "signup-family_name": "Novikova",
            "signup-email": email,
            "signup-phone": "",
        },
        REMOTE_ADDR=ip,
    )


def test_sign_up_answers_alike_for_a_new_an_active_and_a_pending_account(
    clinic: Clinic,
    make_user: Callable[..., User],
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_user(email="pending@example.org", password=False)
    with django_capture_on_commit_callbacks(execute=True):
        new = _signup(clinic, "new@example.org")
        active = _signup(clinic, "pat@example.org")  # the clinic's patient, who has a password
        pending = _signup(clinic, "pending@example.org")
    assert new.status_code == active.status_code == pending.status_code == 200

    def text(response: Any, email: str) -> str:
        return page_text(response.content.decode(), replace=(email,))

    assert text(new, "new@example.org") == text(active, "pat@example.org") == text(pending, "pending@example.org")
    # The active account's owner keeps their password, and nobody is mailed a code that could take it over.
    assert sorted(m.to[0] for m in mailoutbox) == ["new@example.org", "pending@example.org"]
    assert clinic.patient_user.check_password(PASSWORD)


def test_sign_up_is_limited_per_address(clinic: Clinic, settings: Settings) -> None:
    for n in range(SIGNUP_IP_LIMIT_PER_HOUR):
        assert _signup(clinic, f"visitor{n}@example.org", ip="10.6.0.1").status_code == 200
    assert _signup(clinic, "one-more@example.org", ip="10.6.0.1").status_code == 429
    assert not User.objects.filter(email="one-more@example.org").exists()
    assert _signup(clinic, "elsewhere@example.org", ip="10.6.0.2").status_code == 200


# --- a password reset ends the other sessions ------------------------------------------------------------------------


def test_a_password_reset_signs_out_every_session(
    admin_user: User,
    login_client: Callable[[User], Client],
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """Someone who stole a session keeps nothing once the owner resets the password."""
    stolen = login_client(admin_user)
    assert stolen.get("/").status_code == 200
    owner = Client()
    with django_capture_on_commit_callbacks(execute=True):
        owner.post("/accounts/reset/", {"login": "alice@example.org"})
    code = code_from(str(mailoutbox[-1].body))
    response = owner.post(
        "/accounts/reset/confirm/",
        {"login": "alice@example.org", "code": code, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert stolen.get("/")["Location"].startswith("/accounts/login/")


# --- a TOTP code works once ---------------------------------------------------------------------------------------


@pytest.fixture
def org_requiring_admin_2fa(org: Organisation) -> Organisation:
    org.require_2fa_roles = ["admin"]
    org.save(update_fields=["require_2fa_roles"])
    return org


def test_a_totp_code_cannot_be_replayed_in_another_session(
    org_requiring_admin_2fa: Organisation, admin_user: User, post_login: LoginPost
) -> None:
    """A code seen over a shoulder (or phished) after its owner used it lets nobody in."""
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    owner, attacker = Client(), Client()
    post_login("alice@example.org", PASSWORD, using=owner)
    post_login("alice@example.org", PASSWORD, using=attacker, ip="10.7.0.1")
    code = current_totp(device)
    assert owner.post("/accounts/2fa/", {"token": code}).status_code == 302
    assert attacker.post("/accounts/2fa/", {"token": code}).status_code == 400
    assert attacker.get("/")["Location"] == "/accounts/2fa/"


# --- the per-address limit cannot be dodged with a forged header ----------------------------------------------------


def test_a_forged_x_forwarded_for_does_not_escape_the_address_limit(
    admin_user: User, registrar: User, client: Client
) -> None:
    """Without a trusted proxy (TRUSTED_PROXY_COUNT=0) the header is ignored: the address is the socket's."""
    for n in range(5):
        client.post(
            "/accounts/login/",
            {"login": f"guess{n}@example.org", "password": "wrong-password-1"},
            REMOTE_ADDR="10.8.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    response = client.post(
        "/accounts/login/",
        {"login": "bob@example.org", "password": PASSWORD},
        REMOTE_ADDR="10.8.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 429


def test_behind_one_proxy_only_the_address_it_added_counts(
    admin_user: User, registrar: User, client: Client, settings: Settings
) -> None:
    """The proxy appends the real client address; whatever the client put before it is not trusted."""
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        client.post(
            "/accounts/login/",
            {"login": f"guess{n}@example.org", "password": "wrong-password-1"},
            REMOTE_ADDR="10.0.0.254",  # the proxy
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9",
        )
    locked = client.post(
        "/accounts/login/",
        {"login": "bob@example.org", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.254",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9",
    )
    assert locked.status_code == 429
    other = Client().post(
        "/accounts/login/",
        {"login": "bob@example.org", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.254",
        HTTP_X_FORWARDED_FOR="203.0.113.10",
    )
    assert other.status_code == 302
