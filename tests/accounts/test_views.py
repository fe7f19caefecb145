"""Account pages: login/logout and their limits, reset by emailed code (through a real SMTP server), activation,
password change, two-factor authentication, API tokens and the language switch."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import DjangoCaptureOnCommitCallbacks

from kabinet.accounts import services
from kabinet.accounts.models import ApiToken, User
from kabinet.audit.models import AuditEvent
from kabinet.core.models import Organisation, Role
from tests.accounts.conftest import (
    LoginPost,
    audit_dump,
    current_totp,
    html_lang,
    page_text,
    wrong_totp,
)
from tests.factories import PASSWORD
from tests.fixtures.mail import SmtpInbox, code_from

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-long-passphrase-42"
PHONE = "+359881234567"
LOCKED_MESSAGE = "Too many failed attempts. Wait 30 minutes or reset your password."


def _fail(post_login: LoginPost, login: str, hosts: range) -> None:
    """One failed login from each client address 10.0.0.<host>."""
    for host in hosts:
        assert post_login(login, "not-the-password", ip=f"10.0.0.{host}").status_code == 400


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- login & logout -----------------------------------------------------------------------------------------------


def test_login_page_renders(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="login"' in response.content


def test_it_logs_in_by_email_and_lands_on_the_dashboard(
    admin_user: User, client: Client, post_login: LoginPost
) -> None:
    response = post_login("alice@example.org", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_it_logs_in_by_phone_typed_with_spaces(
    make_user: Callable[..., User], org: Organisation, client: Client, post_login: LoginPost
) -> None:
    alice = make_user(Role.ADMIN, organisation=org, email=None, phone=PHONE)
    assert post_login("+359 88 123 4567", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_login_goes_to_a_local_next_page(admin_user: User, client: Client) -> None:
    response = client.post(
        "/accounts/login/?next=/accounts/tokens/", {"login": "alice@example.org", "password": PASSWORD}
    )
    assert response["Location"] == "/accounts/tokens/"


def test_login_ignores_a_next_page_on_another_site(admin_user: User, client: Client) -> None:
    response = client.post(
        "/accounts/login/", {"login": "alice@example.org", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_login_is_audited_with_the_client_address(admin_user: User, post_login: LoginPost) -> None:
    post_login("alice@example.org", PASSWORD, ip="10.1.2.3")
    event = AuditEvent.objects.get(action="account.login")
    assert (event.actor, event.ip) == (admin_user, "10.1.2.3")
    assert PASSWORD not in audit_dump()


def test_wrong_password_is_refused_with_a_message(admin_user: User, client: Client, post_login: LoginPost) -> None:
    response = post_login("alice@example.org", "not-the-password")
    assert response.status_code == 400
    assert "The login or password is not correct." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_unknown_account_gets_the_same_answer_as_a_wrong_password(admin_user: User, post_login: LoginPost) -> None:
    wrong = post_login("alice@example.org", "not-the-password", ip="10.0.0.1")
    unknown = post_login("nobody@example.org", "not-the-password", ip="10.0.0.2")
    assert unknown.status_code == wrong.status_code == 400
    assert page_text(unknown.content.decode(), replace=("nobody@example.org",)) == page_text(
        wrong.content.decode(), replace=("alice@example.org",)
    )


def test_after_five_failures_the_right_password_gets_429_with_a_clear_message(
    admin_user: User, client: Client, post_login: LoginPost
) -> None:
    _fail(post_login, "alice@example.org", range(1, 6))  # five client addresses: the account limit bites
    response = post_login("alice@example.org", PASSWORD, ip="10.0.1.1")
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_locked_unknown_account_gets_the_same_answer_as_a_locked_real_one(
    admin_user: User, post_login: LoginPost
) -> None:
    _fail(post_login, "alice@example.org", range(1, 6))
    _fail(post_login, "nobody@example.org", range(11, 16))
    real = post_login("alice@example.org", PASSWORD, ip="10.0.1.1")
    unknown = post_login("nobody@example.org", PASSWORD, ip="10.0.1.2")
    assert real.status_code == unknown.status_code == 429
    assert page_text(unknown.content.decode(), replace=("nobody@example.org",)) == page_text(
        real.content.decode(), replace=("alice@example.org",)
    )


def test_after_five_failures_from_one_address_another_account_gets_429_there(
    admin_user: User, registrar: User, post_login: LoginPost
) -> None:
    for n in range(5):
        post_login(f"guess{n}@example.org", "not-the-password", ip="10.9.9.9")
    assert post_login("bob@example.org", PASSWORD, ip="10.9.9.9").status_code == 429
    assert post_login("bob@example.org", PASSWORD, ip="10.0.0.1").status_code == 302


def test_a_successful_login_clears_the_account_counter(admin_user: User, client: Client, post_login: LoginPost) -> None:
    _fail(post_login, "alice@example.org", range(1, 5))
    assert post_login("alice@example.org", PASSWORD, ip="10.0.1.1").status_code == 302
    client.post("/accounts/logout/")
    _fail(post_login, "alice@example.org", range(11, 15))
    assert post_login("alice@example.org", PASSWORD, ip="10.0.1.2").status_code == 302


def test_logout_ends_the_session(admin_user: User, login_client: Callable[[User], Client]) -> None:
    client = login_client(admin_user)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_logout_is_audited(admin_user: User, login_client: Callable[[User], Client]) -> None:
    login_client(admin_user).post("/accounts/logout/")
    assert AuditEvent.objects.filter(action="account.logout", actor=admin_user).count() == 1


def test_logout_needs_a_post(admin_user: User, login_client: Callable[[User], Client]) -> None:
    client = login_client(admin_user)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200


# --- password reset -----------------------------------------------------------------------------------------------


def test_password_reset_through_a_real_smtp_server(
    admin_user: User,
    client: Client,
    smtp_server: SmtpInbox,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/reset/", {"login": "alice@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/reset/confirm/"
    assert smtp_server.recipients == [["alice@example.org"]]
    assert "password reset code" in str(smtp_server.messages[0]["Subject"])
    code = code_from(smtp_server.bodies()[0])

    response = client.post(
        "/accounts/reset/confirm/",
        {"login": "alice@example.org", "code": code, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.post("/accounts/login/", {"login": "alice@example.org", "password": NEW_PASSWORD}).status_code == 302


def test_password_reset_answers_the_same_for_an_unknown_account(
    admin_user: User,
    client: Client,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        real = client.post("/accounts/reset/", {"login": "alice@example.org"}, follow=True)
        unknown = Client().post("/accounts/reset/", {"login": "nobody@example.org"}, follow=True)
    assert real.redirect_chain == unknown.redirect_chain == [("/accounts/reset/confirm/", 302)]
    assert _messages(real) == _messages(unknown)
    assert page_text(real.content.decode()) == page_text(unknown.content.decode())
    assert [m.to for m in mailoutbox] == [["alice@example.org"]]


def test_third_reset_request_within_an_hour_gets_429(
    admin_user: User, client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/accounts/reset/", {"login": "alice@example.org"}).status_code == 302
        assert client.post("/accounts/reset/", {"login": "alice@example.org"}).status_code == 302
        response = client.post("/accounts/reset/", {"login": "alice@example.org"})
    assert response.status_code == 429
    assert "Too many reset requests for this account. Try again in an hour." in response.content.decode()


def test_third_reset_request_for_an_unknown_account_gets_429_too(client: Client) -> None:
    client.post("/accounts/reset/", {"login": "nobody@example.org"})
    client.post("/accounts/reset/", {"login": "nobody@example.org"})
    assert client.post("/accounts/reset/", {"login": "nobody@example.org"}).status_code == 429


def test_reset_confirm_with_a_wrong_code_is_refused(
    admin_user: User, client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/reset/", {"login": "alice@example.org"})
    response = client.post(
        "/accounts/reset/confirm/",
        {
            "login": "alice@example.org",
            "code": "wrong",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert "The code is not valid or has expired. Request a new one." in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_reset_confirm_needs_the_same_password_twice(
    admin_user: User,
    client: Client,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/reset/", {"login": "alice@example.org"})
    code = code_from(str(mailoutbox[0].body))
    response = client.post(
        "/accounts/reset/confirm/",
        {"login": "alice@example.org", "code": code, "new_password": NEW_PASSWORD, "new_password_again": "other"},
    )
    assert response.status_code == 400
    assert "new_password_again" in response.context["form"].errors


# --- activation ---------------------------------------------------------------------------------------------------


def _activate(client: Client, login: str, code: str, password: str = NEW_PASSWORD) -> Any:
    return client.post(
        "/accounts/activate/", {"login": login, "code": code, "new_password": password, "new_password_again": password}
    )


def test_an_imported_account_is_activated_with_its_code_and_a_password_of_its_choice(
    admin_user: User, client: Client
) -> None:
    charlie = services.user_create(actor=admin_user, email="charlie@example.org", full_name="Charlie Imported")
    code = services.activation_start(actor=admin_user, user=charlie)
    response = _activate(client, "charlie@example.org", code)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    login = client.post("/accounts/login/", {"login": "charlie@example.org", "password": NEW_PASSWORD})
    assert login.status_code == 302


def test_activation_code_arrives_by_email_and_nothing_else_secret_does(
    admin_user: User,
    client: Client,
    smtp_server: SmtpInbox,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    charlie = services.user_create(actor=admin_user, email="charlie@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.activation_start(actor=admin_user, user=charlie)
    (body,) = smtp_server.bodies()
    code = code_from(body)
    assert re.findall(r"\b[A-Z0-9]{8,}\b", body) == [code]  # the code is the only secret-looking word
    assert _activate(client, "charlie@example.org", code).status_code == 302


def test_activation_with_a_wrong_code_is_refused(admin_user: User, client: Client) -> None:
    charlie = services.user_create(actor=admin_user, email="charlie@example.org")
    services.activation_start(actor=admin_user, user=charlie)
    response = _activate(client, "charlie@example.org", "WRONGCODE1")
    assert response.status_code == 400
    assert "The code is not valid or has expired. Request a new one." in response.content.decode()
    charlie.refresh_from_db()
    assert charlie.needs_activation


def test_an_active_account_cannot_be_activated(registrar: User, client: Client) -> None:
    response = _activate(client, "bob@example.org", "ANYCODE123")
    assert response.status_code == 400
    registrar.refresh_from_db()
    assert registrar.check_password(PASSWORD)


# --- password change ----------------------------------------------------------------------------------------------


def _change_password(client: Client, old: str) -> Any:
    return client.post(
        "/accounts/password/", {"old_password": old, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )


def test_password_change_with_a_wrong_old_password_shows_a_field_error(
    admin_user: User, login_client: Callable[[User], Client]
) -> None:
    response = _change_password(login_client(admin_user), old="wrong-password")
    assert response.status_code == 400
    assert response.context["form"].errors["old_password"] == ["The current password is not correct."]
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_password_change_signs_out_other_sessions_and_keeps_this_one(
    admin_user: User, login_client: Callable[[User], Client]
) -> None:
    this, other = login_client(admin_user), login_client(admin_user)
    assert other.get("/").status_code == 200

    response = _change_password(this, old=PASSWORD)
    assert response.status_code == 302

    assert this.get("/").status_code == 200
    response = other.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_password_change_revokes_the_users_api_tokens(admin_user: User, login_client: Callable[[User], Client]) -> None:
    _, raw = services.api_token_create(user=admin_user, name="script")
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    _change_password(login_client(admin_user), old=PASSWORD)
    assert not ApiToken.objects.filter(user=admin_user, revoked_at__isnull=True).exists()
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_password_change_needs_login(client: Client) -> None:
    response = client.get("/accounts/password/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- two-factor authentication ------------------------------------------------------------------------------------


@pytest.fixture
def pending_alice(org_requiring_2fa: Organisation, admin_user: User, client: Client, post_login: LoginPost) -> Client:
    """Alice, an admin of a clinic that requires 2FA for admins, after the password step."""
    assert post_login("alice@example.org", PASSWORD).status_code == 302
    return client


@pytest.mark.parametrize("path", ["/", "/accounts/tokens/", "/accounts/password/"])
def test_staff_owing_2fa_are_sent_to_the_2fa_page(pending_alice: Client, path: str) -> None:
    response = pending_alice.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"


def test_staff_owing_2fa_cannot_create_an_api_token(pending_alice: Client, admin_user: User) -> None:
    """A token made before the second factor would get round it for good."""
    response = pending_alice.post("/accounts/tokens/", {"name": "sneaky"})
    assert response["Location"] == "/accounts/2fa/"
    assert not ApiToken.objects.filter(user=admin_user).exists()


def test_2fa_page_answers_429_after_five_wrong_codes(pending_alice: Client, admin_user: User, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # our limit, not django-otp's back-off, is what this test is about
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    for _attempt in range(5):
        assert pending_alice.post("/accounts/2fa/", {"token": wrong_totp(device)}).status_code == 400
    response = pending_alice.post("/accounts/2fa/", {"token": current_totp(device)})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert pending_alice.get("/")["Location"] == "/accounts/2fa/"


def test_staff_owing_2fa_can_still_log_out(pending_alice: Client) -> None:
    assert pending_alice.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert pending_alice.get("/accounts/2fa/")["Location"].startswith("/accounts/login/")


def test_2fa_setup_with_a_correct_code_lets_the_user_in(pending_alice: Client, admin_user: User) -> None:
    page = pending_alice.get("/accounts/2fa/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert f'data-testid="totp-secret">{secret}<' in page.content.decode()
    assert "data:image/svg+xml" in page.content.decode()

    response = pending_alice.post("/accounts/2fa/", {"token": current_totp(device)})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert pending_alice.get("/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="account.2fa_enabled", actor=admin_user).exists()


def test_2fa_setup_with_a_wrong_code_is_refused(pending_alice: Client, admin_user: User) -> None:
    pending_alice.get("/accounts/2fa/")
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    response = pending_alice.post("/accounts/2fa/", {"token": wrong_totp(device)})
    assert response.status_code == 400
    assert "token" in response.context["form"].errors
    assert not TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()
    assert pending_alice.get("/")["Location"] == "/accounts/2fa/"


def test_a_user_with_a_device_verifies_with_its_code(
    org_requiring_2fa: Organisation, admin_user: User, client: Client, post_login: LoginPost
) -> None:
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    post_login("alice@example.org", PASSWORD)
    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    assert "totp-secret" not in page.content.decode()  # no new device is offered
    response = client.post("/accounts/2fa/", {"token": current_totp(device)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_a_wrong_verification_code_is_refused(
    org_requiring_2fa: Organisation, admin_user: User, client: Client, post_login: LoginPost
) -> None:
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    post_login("alice@example.org", PASSWORD)
    response = client.post("/accounts/2fa/", {"token": wrong_totp(device)})
    assert response.status_code == 400
    assert "The code is not correct." in response.content.decode()
    assert client.get("/")["Location"] == "/accounts/2fa/"


def test_a_role_not_in_the_list_is_not_asked_for_2fa(
    org_requiring_2fa: Organisation, registrar: User, client: Client, post_login: LoginPost
) -> None:
    post_login("bob@example.org", PASSWORD)
    assert client.get("/").status_code == 200


def test_no_2fa_is_asked_when_the_organisation_requires_none(
    admin_user: User, client: Client, post_login: LoginPost
) -> None:
    post_login("alice@example.org", PASSWORD)
    assert client.get("/").status_code == 200


def test_2fa_page_needs_login(client: Client) -> None:
    assert client.get("/accounts/2fa/")["Location"].startswith("/accounts/login/")


# --- API tokens ---------------------------------------------------------------------------------------------------


def _new_token_on_page(html: str) -> str:
    match = re.search(r'data-testid="new-token">([^<]+)<', html)
    assert match, html
    return match.group(1)


def test_a_token_made_on_the_page_is_shown_once_and_stored_as_a_hash(
    admin_user: User, login_client: Callable[[User], Client]
) -> None:
    client = login_client(admin_user)
    response = client.post("/accounts/tokens/", {"name": "reporting script"})
    assert response.status_code == 200
    raw = _new_token_on_page(response.content.decode())

    token = ApiToken.objects.get(user=admin_user)
    assert token.name == "reporting script"
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in repr(ApiToken.objects.filter(pk=token.pk).values().get())

    again = client.get("/accounts/tokens/").content.decode()
    assert raw not in again
    assert token.prefix in again
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").json()["id"] == admin_user.pk


def test_tokens_page_lists_only_the_users_own_tokens(
    admin_user: User, registrar: User, login_client: Callable[[User], Client]
) -> None:
    services.api_token_create(user=admin_user, name="alice-script")
    services.api_token_create(user=registrar, name="bob-script")
    html = login_client(registrar).get("/accounts/tokens/").content.decode()
    assert "bob-script" in html
    assert "alice-script" not in html


def test_a_user_revokes_their_own_token(admin_user: User, login_client: Callable[[User], Client]) -> None:
    token, raw = services.api_token_create(user=admin_user, name="script")
    response = login_client(admin_user).post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response["Location"] == "/accounts/tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_revoking_another_users_token_is_refused(
    admin_user: User, registrar: User, login_client: Callable[[User], Client]
) -> None:
    token, _ = services.api_token_create(user=admin_user, name="alice-script")
    response = login_client(registrar).post(f"/accounts/tokens/{token.pk}/revoke/", follow=True)
    assert _messages(response) == ["Not found."]
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not AuditEvent.objects.filter(action="account.api_token_revoked").exists()


def test_token_revoke_needs_a_post(admin_user: User, login_client: Callable[[User], Client]) -> None:
    token, _ = services.api_token_create(user=admin_user, name="script")
    assert login_client(admin_user).get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405


def test_tokens_page_needs_login(client: Client) -> None:
    assert client.get("/accounts/tokens/")["Location"].startswith("/accounts/login/")


# --- language -----------------------------------------------------------------------------------------------------


def test_the_chosen_language_is_saved_and_pages_render_in_it(
    admin_user: User, login_client: Callable[[User], Client]
) -> None:
    client = login_client(admin_user)
    assert html_lang(client.get("/").content.decode()) == "en"
    response = client.post("/accounts/language/", {"language": "bg", "next": "/"})
    assert response["Location"] == "/"
    admin_user.refresh_from_db()
    assert admin_user.language == "bg"
    assert html_lang(client.get("/").content.decode()) == "bg"


def test_the_saved_language_follows_the_user_to_another_device(
    admin_user: User, login_client: Callable[[User], Client]
) -> None:
    login_client(admin_user).post("/accounts/language/", {"language": "ru", "next": "/"})
    other_device = login_client(admin_user)
    assert html_lang(other_device.get("/").content.decode()) == "ru"


def test_an_anonymous_visitor_switches_language_by_cookie(client: Client) -> None:
    response = client.post("/accounts/language/", {"language": "bg", "next": "/accounts/login/"})
    assert response["Location"] == "/accounts/login/"
    assert html_lang(client.get("/accounts/login/").content.decode()) == "bg"


def test_an_unknown_language_changes_nothing(admin_user: User, login_client: Callable[[User], Client]) -> None:
    client = login_client(admin_user)
    client.post("/accounts/language/", {"language": "xx", "next": "/"})
    admin_user.refresh_from_db()
    assert admin_user.language == "en"


def test_the_language_switch_does_not_redirect_to_another_site(client: Client) -> None:
    response = client.post("/accounts/language/", {"language": "bg", "next": "https://evil.example/"})
    assert response["Location"] == "/"
