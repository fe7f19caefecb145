"""Account use cases: login, one-time codes (reset, activation), password change, API tokens, TOTP devices."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from kabinet.accounts import ratelimit
from kabinet.accounts.models import ApiToken, OneTimeCode, User, normalize_email, normalize_login
from kabinet.audit.services import record
from kabinet.core.exceptions import Invalid, NotFound

LOGIN_ACCOUNT_SCOPE = "login-account"
LOGIN_IP_SCOPE = "login-ip"
RESET_SCOPE = "reset-account"
TOTP_SCOPE = "totp-account"
TOKEN_PREFIX = "kab_"  # noqa: S105  (a marker, not a secret)


class InvalidCredentials(Invalid):
    code = "invalid_credentials"


def _login_key(login: str) -> str:
    user = User.objects.get_by_login(login)
    # Count per account when it exists, else per the normalised login: any spelling of an email or phone counts
    # together either way, so the limits cannot tell an existing account from an unknown one.
    return f"user:{user.pk}" if user else f"login:{normalize_login(login)}"


def login_check(*, login: str, password: str, ip: str | None) -> User:
    """Authenticate by email or phone. After LOGIN_FAILURE_LIMIT failures in the window, per account and per
    client address, refuse with RateLimited even for a correct password. Failures are counted whether or not the
    account exists, and the error is the same, so neither reveals who has an account."""
    limit, window = settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_FAILURE_WINDOW_SECONDS
    account_key = _login_key(login)
    ratelimit.ensure_below(LOGIN_ACCOUNT_SCOPE, account_key, limit=limit, window_seconds=window)
    if ip:
        ratelimit.ensure_below(LOGIN_IP_SCOPE, ip, limit=limit, window_seconds=window)
    user = authenticate(None, username=login, password=password)
    if user is None:
        with transaction.atomic():
            ratelimit.hit(LOGIN_ACCOUNT_SCOPE, account_key)
            if ip:
                ratelimit.hit(LOGIN_IP_SCOPE, ip)
        raise InvalidCredentials(_("The login or password is not correct."))
    assert isinstance(user, User)
    return user


def login_succeeded(*, user: User) -> None:
    with transaction.atomic():
        ratelimit.clear(LOGIN_ACCOUNT_SCOPE, f"user:{user.pk}")
        record(actor=user, action="account.login", obj=user)


# --- one-time codes ---------------------------------------------------------------------------------------------


def _new_code(purpose: str) -> str:
    if purpose == OneTimeCode.Purpose.ACTIVATION:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the front desk
        return "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{secrets.randbelow(10**6):06d}"


def _code_hash(user: User, purpose: str, code: str) -> str:
    normalized = code.strip().upper().replace(" ", "").replace("-", "")
    return hashlib.sha256(f"{settings.SECRET_KEY}:{user.pk}:{purpose}:{normalized}".encode()).hexdigest()


def one_time_code_issue(*, user: User, purpose: str) -> str:
    """Create a fresh code (earlier unused codes of that purpose stop working) and return it in clear once."""
    ttl = (
        settings.PASSWORD_RESET_CODE_TTL_SECONDS
        if purpose == OneTimeCode.Purpose.PASSWORD_RESET
        else settings.ACTIVATION_CODE_TTL_SECONDS
    )
    code = _new_code(purpose)
    now = timezone.now()
    with transaction.atomic():
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(used_at=now)
        OneTimeCode.objects.create(
            user=user,
            purpose=purpose,
            code_hash=_code_hash(user, purpose, code),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    return code


def _one_time_code_redeem(*, user: User | None, purpose: str, code: str, then: Callable[[User], None]) -> User:
    """Use the user's live code and run `then(user)` in one transaction, so when `then` refuses (a weak password)
    the code stays usable. A wrong code counts a failed try; that count is written after the rollback, or it
    would be undone with it and the ONE_TIME_CODE_MAX_ATTEMPTS limit would never bite."""
    error = Invalid(_("The code is not valid or has expired. Request a new one."), code="invalid_code")
    if user is None:
        raise error
    wrong_code_id: int | None = None
    try:
        with transaction.atomic():
            now = timezone.now()
            live = (
                OneTimeCode.objects.select_for_update()
                .filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=now)
                .order_by("-created_at")
                .first()
            )
            if live is None or not live.is_usable(now):
                raise error
            if not secrets.compare_digest(live.code_hash, _code_hash(user, purpose, code)):
                wrong_code_id = live.pk
                raise error
            live.used_at = now
            live.save(update_fields=["used_at"])
            then(user)
    except Invalid:
        if wrong_code_id is not None:
            OneTimeCode.objects.filter(pk=wrong_code_id).update(failed_attempts=F("failed_attempts") + 1)
        raise
    return user


def _send_code_email(user: User, template: str, code: str) -> None:
    if not user.email:
        return
    with translation.override(user.language):
        context = {
            "user": user,
            "code": code,
            "site_url": settings.SITE_URL,
            "code_minutes": settings.PASSWORD_RESET_CODE_TTL_SECONDS // 60,
        }
        subject = render_to_string(f"accounts/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"accounts/email/{template}.txt", context)
    email = user.email
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))


def password_reset_request(*, login: str) -> None:
    """Send a reset code to the account's email. At most PASSWORD_RESET_LIMIT_PER_HOUR requests per account;
    the caller shows the same answer whether the account exists or not."""
    key = _login_key(login)
    with transaction.atomic():
        ratelimit.ensure_below(RESET_SCOPE, key, limit=settings.PASSWORD_RESET_LIMIT_PER_HOUR, window_seconds=3600)
        ratelimit.hit(RESET_SCOPE, key)
        user = User.objects.get_by_login(login)
        if user is None or not user.is_active or not user.email:
            return
        code = one_time_code_issue(user=user, purpose=OneTimeCode.Purpose.PASSWORD_RESET)
        record(actor=None, action="account.password_reset_requested", obj=user)
        _send_code_email(user, "password_reset", code)


def _validate_password(user: User, password: str) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(errors={"new_password": list(exc.messages)}) from exc


def _set_password(user: User, password: str) -> None:
    """Set the password and end every other way in: old sessions fail their auth hash; tokens are revoked.
    The account's failed-login count starts afresh (the lock-out page sends people to the password reset)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    ratelimit.clear(LOGIN_ACCOUNT_SCOPE, f"user:{user.pk}")


def password_reset_confirm(*, login: str, code: str, new_password: str) -> User:
    """Set a new password with the reset code: single use, expiring, at most ONE_TIME_CODE_MAX_ATTEMPTS tries."""

    def reset(user: User) -> None:
        _validate_password(user, new_password)
        _set_password(user, new_password)
        record(actor=user, action="account.password_reset", obj=user)

    user = User.objects.get_by_login(login)
    return _one_time_code_redeem(user=user, purpose=OneTimeCode.Purpose.PASSWORD_RESET, code=code, then=reset)


def activation_start(*, actor: Any, user: User) -> str:
    """Issue an activation code for an account that has no password yet (imported or created at reception).
    The code is emailed when the account has an email, and returned so staff can hand it over."""
    if not user.needs_activation:
        raise Invalid(_("This account is already active."), code="already_active")
    with transaction.atomic():
        code = one_time_code_issue(user=user, purpose=OneTimeCode.Purpose.ACTIVATION)
        record(actor=actor, action="account.activation_code_issued", obj=user)
        _send_code_email(user, "activation", code)
    return code


def account_activate(*, login: str, code: str, new_password: str) -> User:
    """Activate with the one-time code; the person sets their own password (none is ever generated)."""

    def activate(user: User) -> None:
        _validate_password(user, new_password)
        _set_password(user, new_password)
        user.activated_at = timezone.now()
        user.save(update_fields=["activated_at"])
        record(actor=user, action="account.activated", obj=user)

    user = User.objects.get_by_login(login)
    if user is not None and not user.needs_activation:
        user = None  # same answer as a wrong code
    return _one_time_code_redeem(user=user, purpose=OneTimeCode.Purpose.ACTIVATION, code=code, then=activate)


def password_change(*, user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password):
        raise Invalid(errors={"old_password": [_("The current password is not correct.")]})
    _validate_password(user, new_password)
    with transaction.atomic():
        _set_password(user, new_password)
        record(actor=user, action="account.password_changed", obj=user)


def user_language_set(*, user: User, language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise Invalid(errors={"language": [_("Unknown language.")]})
    if user.language != language:
        before = user.language
        with transaction.atomic():
            user.language = language
            user.save(update_fields=["language"])
            record(
                actor=user,
                action="account.language_changed",
                obj=user,
                before={"language": before},
                after={"language": language},
            )


# --- API tokens -------------------------------------------------------------------------------------------------


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the clear value is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise Invalid(errors={"name": [_("Give the token a name.")]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name[:100], prefix=raw[:12], token_hash=_token_hash(raw))
        record(actor=user, action="account.api_token_created", obj=token, after={"name": token.name})
    return token, raw


def api_token_revoke(*, user: User, token_id: int) -> None:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if token is None:
            raise NotFound()
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record(actor=user, action="account.api_token_revoked", obj=token)


def api_token_authenticate(raw: str) -> User | None:
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=_token_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- two-factor (TOTP) ------------------------------------------------------------------------------------------


def totp_device_start(*, user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for the user to scan; replaces an earlier unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def totp_device_confirm(*, user: User, token: str) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token((token or "").strip()):
        raise Invalid(errors={"token": [_("The code is not correct. Check the time on your phone and try again.")]})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        record(actor=user, action="account.2fa_enabled", obj=user)
    return device


def totp_verify(*, user: User, token: str) -> TOTPDevice | None:
    """The confirmed device the code belongs to, or None. Like passwords, codes are refused outright after
    LOGIN_FAILURE_LIMIT wrong ones in the window (a six-digit code falls to guessing otherwise); both outcomes are
    audited."""
    limit, window = settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_FAILURE_WINDOW_SECONDS
    key = f"user:{user.pk}"
    ratelimit.ensure_below(TOTP_SCOPE, key, limit=limit, window_seconds=window)
    for device in TOTPDevice.objects.devices_for_user(user, confirmed=True):
        if device.verify_token((token or "").strip()):
            with transaction.atomic():
                ratelimit.clear(TOTP_SCOPE, key)
                record(actor=user, action="account.2fa_verified", obj=user)
            return device
    with transaction.atomic():
        ratelimit.hit(TOTP_SCOPE, key)
        record(actor=user, action="account.2fa_failed", obj=user)
    return None


def logged_out(*, user: Any) -> None:
    """Audit the end of a session (the view ends it)."""
    if getattr(user, "is_authenticated", False):
        record(actor=user, action="account.logout", obj=user)


def user_create(
    *, actor: Any, email: str | None = None, phone: str | None = None, full_name: str = "", language: str | None = None
) -> User:
    """An account without a password: the person activates it with a one-time code."""
    email = normalize_email(email)
    if email and User.objects.filter(email=email).exists():
        raise Invalid(errors={"email": [_("An account with this email already exists.")]}, code="duplicate")
    with transaction.atomic():
        user = User.objects.create_user(
            email=email, phone=phone, full_name=full_name, language=language or settings.LANGUAGE_CODE
        )
        record(actor=actor, action="account.created", obj=user)
    return user
