"""Account rules, tested at the service layer: login and its limits, one-time codes, password change, tokens, 2FA."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.mail import EmailMessage
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from kabinet.accounts import services
from kabinet.accounts.models import ApiToken, OneTimeCode, RateLimitEvent, User
from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotFound, RateLimited
from tests.accounts.conftest import audit_dump, current_totp, wrong_totp
from tests.factories import PASSWORD
from tests.fixtures.mail import code_from

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-long-passphrase-42"
PHONE = "+359881234567"

MakeUser = Callable[..., User]


def _fail_login(login: str, *, ip: str | None) -> None:
    with pytest.raises(services.InvalidCredentials):
        services.login_check(login=login, password="not-the-password", ip=ip)


def _request_reset(login: str, capture: DjangoCaptureOnCommitCallbacks) -> None:
    with capture(execute=True):
        services.password_reset_request(login=login)


def _last_code(outbox: list[EmailMessage]) -> str:
    assert outbox, "no email was sent"
    return code_from(str(outbox[-1].body))


def _age_codes(user: User, by: timedelta) -> None:
    """Move the user's codes back in time, as if they had been issued `by` earlier."""
    for row in OneTimeCode.objects.filter(user=user):
        OneTimeCode.objects.filter(pk=row.pk).update(created_at=row.created_at - by, expires_at=row.expires_at - by)


def _age_rate_limit_events(by: timedelta) -> None:
    for row in RateLimitEvent.objects.all():
        RateLimitEvent.objects.filter(pk=row.pk).update(created_at=row.created_at - by)


# --- login --------------------------------------------------------------------------------------------------------


def test_it_logs_in_by_email_whatever_its_case(admin_user: User) -> None:
    user = services.login_check(login="  Alice@Example.ORG ", password=PASSWORD, ip="10.0.0.1")
    assert user == admin_user


@pytest.mark.parametrize(
    "typed",
    [
        "+359881234567",
        "+359 88 123 4567",
        "+359-88-123-4567",
        "(+359) 88 123 45 67",
        "+359.88.123.4567",
        "00359 88 123 4567",
    ],
)
def test_it_logs_in_by_phone_typed_in_any_common_format(make_user: MakeUser, typed: str) -> None:
    alice = make_user(email=None, phone=PHONE, full_name="Alice Phone")
    assert services.login_check(login=typed, password=PASSWORD, ip="10.0.0.1") == alice


@pytest.mark.parametrize("typed", ["+359 88 123 4567", "00359-88-123-4567", "(+359) 881 234 567"])
def test_phone_is_stored_in_e164(typed: str) -> None:
    user = User.objects.create_user(phone=typed)
    user.refresh_from_db()
    assert user.phone == PHONE


def test_wrong_password_is_refused(admin_user: User) -> None:
    with pytest.raises(services.InvalidCredentials):
        services.login_check(login="alice@example.org", password="wrong-password", ip="10.0.0.1")


def test_unknown_account_gets_the_same_error_as_a_wrong_password(admin_user: User) -> None:
    with pytest.raises(services.InvalidCredentials) as wrong_password:
        services.login_check(login="alice@example.org", password="wrong-password", ip="10.0.0.1")
    with pytest.raises(services.InvalidCredentials) as unknown:
        services.login_check(login="nobody@example.org", password="wrong-password", ip="10.0.0.2")
    assert (unknown.value.code, unknown.value.status, str(unknown.value.message)) == (
        wrong_password.value.code,
        wrong_password.value.status,
        str(wrong_password.value.message),
    )


def test_inactive_account_cannot_log_in(make_user: MakeUser) -> None:
    make_user(email="bob@example.org", is_active=False)
    _fail_login("bob@example.org", ip="10.0.0.1")
    with pytest.raises(services.InvalidCredentials):
        services.login_check(login="bob@example.org", password=PASSWORD, ip="10.0.0.1")


def test_after_five_failures_the_account_is_locked_even_for_the_right_password(admin_user: User) -> None:
    for n in range(5):
        _fail_login("alice@example.org", ip=f"10.0.0.{n + 1}")  # a new address each time: the account limit bites
    with pytest.raises(RateLimited) as exc:
        services.login_check(login="alice@example.org", password=PASSWORD, ip="10.0.1.1")
    assert exc.value.status == 429


def test_four_failures_do_not_lock_the_account(admin_user: User) -> None:
    for n in range(4):
        _fail_login("alice@example.org", ip=f"10.0.0.{n + 1}")
    assert services.login_check(login="alice@example.org", password=PASSWORD, ip="10.0.1.1") == admin_user


def test_failures_by_email_and_by_phone_count_for_the_same_account(make_user: MakeUser) -> None:
    make_user(email="alice@example.org", phone=PHONE)
    for n, login in enumerate(
        ["alice@example.org", "+359 88 123 4567", PHONE, "ALICE@example.org", "+359-881-234-567"]
    ):
        _fail_login(login, ip=f"10.0.0.{n + 1}")
    with pytest.raises(RateLimited):
        services.login_check(login=PHONE, password=PASSWORD, ip="10.0.1.1")


def test_after_five_failures_from_one_address_that_address_is_locked_for_every_account(
    admin_user: User, registrar: User
) -> None:
    for n in range(5):
        _fail_login(f"guess{n}@example.org", ip="10.9.9.9")
    with pytest.raises(RateLimited):
        services.login_check(login="bob@example.org", password=PASSWORD, ip="10.9.9.9")
    assert services.login_check(login="bob@example.org", password=PASSWORD, ip="10.0.0.1") == registrar


def test_failures_older_than_thirty_minutes_do_not_count(admin_user: User) -> None:
    for n in range(5):
        _fail_login("alice@example.org", ip=f"10.0.0.{n + 1}")
    _age_rate_limit_events(timedelta(minutes=30, seconds=1))
    assert services.login_check(login="alice@example.org", password=PASSWORD, ip="10.0.0.1") == admin_user


def test_failures_within_thirty_minutes_still_count(admin_user: User) -> None:
    for n in range(5):
        _fail_login("alice@example.org", ip=f"10.0.0.{n + 1}")
    _age_rate_limit_events(timedelta(minutes=29))
    with pytest.raises(RateLimited):
        services.login_check(login="alice@example.org", password=PASSWORD, ip="10.0.1.1")


def test_a_success_clears_the_account_counter(admin_user: User) -> None:
    for n in range(4):
        _fail_login("alice@example.org", ip=f"10.0.0.{n + 1}")
    services.login_succeeded(user=services.login_check(login="alice@example.org", password=PASSWORD, ip="10.0.1.1"))
    for n in range(4):
        _fail_login("alice@example.org", ip=f"10.0.2.{n + 1}")
    assert services.login_check(login="alice@example.org", password=PASSWORD, ip="10.0.3.1") == admin_user


def test_an_unknown_account_is_locked_like_a_real_one_however_the_phone_is_spelled(make_user: MakeUser) -> None:
    """Were spellings counted apart for unknown numbers only, a sixth try would tell who has an account."""
    make_user(email=None, phone=PHONE)
    spellings = ["+359 88 765 4321", "+359887654321", "+359-88-765-4321", "(+359) 88 765 43 21", "00359887654321"]
    for n, login in enumerate(spellings):
        _fail_login(login, ip=f"10.0.0.{n + 1}")
    with pytest.raises(RateLimited):
        services.login_check(login="+359 887 654 321", password=PASSWORD, ip="10.0.1.1")


def test_rate_limit_events_store_no_login_or_address_in_clear(admin_user: User) -> None:
    _fail_login("alice@example.org", ip="10.7.7.7")
    stored = repr(list(RateLimitEvent.objects.values()))
    assert "alice" not in stored
    assert "10.7.7.7" not in stored


def test_login_succeeded_is_audited(admin_user: User) -> None:
    services.login_succeeded(user=admin_user)
    event = AuditEvent.objects.get(action="account.login")
    assert event.actor == admin_user
    assert PASSWORD not in audit_dump()


# --- password reset -----------------------------------------------------------------------------------------------


def test_reset_request_emails_a_six_digit_code(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.org"]
    code = _last_code(mailoutbox)
    assert code.isdigit() and len(code) == 6


def test_reset_request_by_phone_emails_the_account(
    make_user: MakeUser,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_user(email="alice@example.org", phone=PHONE)
    _request_reset("+359 88 123 4567", django_capture_on_commit_callbacks)
    assert mailoutbox[0].to == ["alice@example.org"]


def test_reset_request_for_an_unknown_account_sends_nothing_and_raises_nothing(
    mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("nobody@example.org", django_capture_on_commit_callbacks)
    assert mailoutbox == []
    assert not OneTimeCode.objects.exists()


def test_reset_email_is_sent_only_after_commit(admin_user: User, mailoutbox: list[EmailMessage]) -> None:
    services.password_reset_request(login="alice@example.org")
    assert mailoutbox == []  # still inside the test's transaction


def test_third_reset_request_within_an_hour_is_rate_limited(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    with pytest.raises(RateLimited) as exc:
        _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    assert exc.value.status == 429
    assert len(mailoutbox) == 2


def test_third_reset_request_for_an_unknown_account_is_rate_limited_too(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _request_reset("nobody@example.org", django_capture_on_commit_callbacks)
    _request_reset("nobody@example.org", django_capture_on_commit_callbacks)
    with pytest.raises(RateLimited):
        _request_reset("nobody@example.org", django_capture_on_commit_callbacks)


def test_reset_requests_count_per_account_whatever_login_is_typed(
    make_user: MakeUser, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    make_user(email="alice@example.org", phone=PHONE)
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    _request_reset("+359 88 123 4567", django_capture_on_commit_callbacks)
    with pytest.raises(RateLimited):
        _request_reset("ALICE@example.org", django_capture_on_commit_callbacks)


def test_reset_requests_older_than_an_hour_do_not_count(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    _age_rate_limit_events(timedelta(hours=1, seconds=1))
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 3


def test_reset_code_sets_the_new_password(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    services.password_reset_confirm(login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD)
    admin_user.refresh_from_db()
    assert admin_user.check_password(NEW_PASSWORD)
    assert not admin_user.check_password(PASSWORD)


def test_reset_code_works_only_once(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    code = _last_code(mailoutbox)
    services.password_reset_confirm(login="alice@example.org", code=code, new_password=NEW_PASSWORD)
    with pytest.raises(Invalid):
        services.password_reset_confirm(login="alice@example.org", code=code, new_password="another-long-passphrase-7")
    admin_user.refresh_from_db()
    assert admin_user.check_password(NEW_PASSWORD)


def test_reset_code_lives_at_most_ten_minutes(
    admin_user: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    row = OneTimeCode.objects.get(user=admin_user)
    assert row.expires_at - row.created_at <= timedelta(minutes=10)


def test_reset_code_is_refused_once_expired(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    _age_codes(admin_user, timedelta(minutes=10, seconds=1))
    with pytest.raises(Invalid):
        services.password_reset_confirm(
            login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD
        )
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_reset_code_still_works_just_before_it_expires(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    _age_codes(admin_user, timedelta(minutes=9))
    services.password_reset_confirm(login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD)
    admin_user.refresh_from_db()
    assert admin_user.check_password(NEW_PASSWORD)


def test_wrong_reset_code_is_refused(
    admin_user: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    with pytest.raises(Invalid) as exc:
        services.password_reset_confirm(login="alice@example.org", code="000000x", new_password=NEW_PASSWORD)
    assert exc.value.code == "invalid_code"
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_wrong_reset_tries_are_counted_on_the_code(
    admin_user: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    for _ in range(2):
        with pytest.raises(Invalid):
            services.password_reset_confirm(login="alice@example.org", code="wrong", new_password=NEW_PASSWORD)
    assert OneTimeCode.objects.get(user=admin_user).failed_attempts == 2


def test_reset_code_is_dead_after_five_wrong_tries(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    for _ in range(5):
        with pytest.raises(Invalid):
            services.password_reset_confirm(login="alice@example.org", code="wrong", new_password=NEW_PASSWORD)
    with pytest.raises(Invalid):
        services.password_reset_confirm(
            login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD
        )
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_reset_code_still_works_after_four_wrong_tries(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    for _ in range(4):
        with pytest.raises(Invalid):
            services.password_reset_confirm(login="alice@example.org", code="wrong", new_password=NEW_PASSWORD)
    services.password_reset_confirm(login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD)


def test_a_new_reset_code_replaces_the_earlier_one(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    first = OneTimeCode.objects.get(user=admin_user)
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert not first.is_usable()
    assert OneTimeCode.objects.filter(user=admin_user, used_at__isnull=True).count() == 1
    services.password_reset_confirm(login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD)


def test_reset_code_of_one_user_does_not_work_for_another(
    admin_user: User,
    registrar: User,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    with pytest.raises(Invalid):
        services.password_reset_confirm(login="bob@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD)


def test_reset_with_a_weak_password_is_refused_and_keeps_the_code(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    code = _last_code(mailoutbox)
    with pytest.raises(Invalid) as exc:
        services.password_reset_confirm(login="alice@example.org", code=code, new_password="123")
    assert "new_password" in exc.value.errors
    services.password_reset_confirm(login="alice@example.org", code=code, new_password=NEW_PASSWORD)


def test_reset_for_an_unknown_account_gives_the_code_error() -> None:
    with pytest.raises(Invalid) as exc:
        services.password_reset_confirm(login="nobody@example.org", code="123456", new_password=NEW_PASSWORD)
    assert exc.value.code == "invalid_code"


def test_reset_revokes_the_users_api_tokens(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _, raw = services.api_token_create(user=admin_user, name="script")
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    services.password_reset_confirm(login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD)
    assert services.api_token_authenticate(raw) is None


def test_reset_lifts_the_login_lock_of_the_account(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """The 429 page tells a locked-out person to reset the password; that must let them in."""
    for n in range(5):
        _fail_login("alice@example.org", ip=f"10.0.0.{n + 1}")
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    services.password_reset_confirm(login="alice@example.org", code=_last_code(mailoutbox), new_password=NEW_PASSWORD)
    assert services.login_check(login="alice@example.org", password=NEW_PASSWORD, ip="10.0.1.1") == admin_user


def test_reset_is_audited_without_the_code_or_password(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _request_reset("alice@example.org", django_capture_on_commit_callbacks)
    code = _last_code(mailoutbox)
    services.password_reset_confirm(login="alice@example.org", code=code, new_password=NEW_PASSWORD)
    actions = list(
        AuditEvent.objects.filter(object_id=str(admin_user.pk)).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["account.password_reset_requested", "account.password_reset"]
    dump = audit_dump()
    assert code not in dump
    assert NEW_PASSWORD not in dump


# --- activation ---------------------------------------------------------------------------------------------------


def _import(email: str | None = "charlie@example.org", phone: str | None = None) -> User:
    return services.user_create(actor=None, email=email, phone=phone, full_name="Charlie Imported")


def test_created_account_has_no_usable_password_and_is_audited() -> None:
    charlie = _import()
    assert charlie.needs_activation
    assert AuditEvent.objects.filter(action="account.created", object_id=str(charlie.pk)).exists()


def test_created_account_stores_the_phone_in_e164() -> None:
    charlie = _import(email=None, phone="+359 88 123 4567")
    assert charlie.phone == PHONE


def test_an_account_with_the_same_email_is_refused() -> None:
    _import()
    with pytest.raises(Invalid) as exc:
        _import(email="Charlie@Example.org")
    assert exc.value.code == "duplicate"


def test_activation_mails_a_code_and_never_a_password(
    admin_user: User, mailoutbox: list[EmailMessage], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    charlie = _import()
    with django_capture_on_commit_callbacks(execute=True):
        code = services.activation_start(actor=admin_user, user=charlie)
    assert len(mailoutbox) == 1
    assert code_from(str(mailoutbox[0].body)) == code
    charlie.refresh_from_db()
    assert not charlie.has_usable_password()  # nothing was generated behind the person's back


def test_activation_lets_the_person_choose_their_password(admin_user: User) -> None:
    charlie = _import()
    code = services.activation_start(actor=admin_user, user=charlie)
    services.account_activate(login="charlie@example.org", code=code, new_password=NEW_PASSWORD)
    charlie.refresh_from_db()
    assert charlie.check_password(NEW_PASSWORD)
    assert charlie.activated_at is not None
    assert services.login_check(login="charlie@example.org", password=NEW_PASSWORD, ip="10.0.0.1") == charlie


def test_activation_code_is_accepted_in_lower_case_and_with_dashes(admin_user: User) -> None:
    charlie = _import()
    code = services.activation_start(actor=admin_user, user=charlie)
    services.account_activate(
        login="charlie@example.org", code=f"{code[:5]}-{code[5:]}".lower(), new_password=NEW_PASSWORD
    )
    charlie.refresh_from_db()
    assert charlie.check_password(NEW_PASSWORD)


def test_activation_of_a_phone_only_account_by_phone(admin_user: User) -> None:
    charlie = _import(email=None, phone=PHONE)
    code = services.activation_start(actor=admin_user, user=charlie)
    services.account_activate(login="+359 88 123 4567", code=code, new_password=NEW_PASSWORD)
    charlie.refresh_from_db()
    assert charlie.check_password(NEW_PASSWORD)


def test_phone_only_account_gets_no_email(admin_user: User, mailoutbox: list[EmailMessage]) -> None:
    charlie = _import(email=None, phone=PHONE)
    services.activation_start(actor=admin_user, user=charlie)
    assert mailoutbox == []


def test_wrong_activation_code_is_refused(admin_user: User) -> None:
    charlie = _import()
    services.activation_start(actor=admin_user, user=charlie)
    with pytest.raises(Invalid) as exc:
        services.account_activate(login="charlie@example.org", code="WRONGCODE1", new_password=NEW_PASSWORD)
    assert exc.value.code == "invalid_code"
    charlie.refresh_from_db()
    assert charlie.needs_activation


def test_activation_code_is_dead_after_five_wrong_tries(admin_user: User) -> None:
    charlie = _import()
    code = services.activation_start(actor=admin_user, user=charlie)
    for _ in range(5):
        with pytest.raises(Invalid):
            services.account_activate(login="charlie@example.org", code="WRONGCODE1", new_password=NEW_PASSWORD)
    with pytest.raises(Invalid):
        services.account_activate(login="charlie@example.org", code=code, new_password=NEW_PASSWORD)
    charlie.refresh_from_db()
    assert charlie.needs_activation


def test_activation_code_works_only_once(admin_user: User) -> None:
    charlie = _import()
    code = services.activation_start(actor=admin_user, user=charlie)
    services.account_activate(login="charlie@example.org", code=code, new_password=NEW_PASSWORD)
    with pytest.raises(Invalid):
        services.account_activate(login="charlie@example.org", code=code, new_password="another-long-passphrase-7")


def test_activation_code_is_refused_once_expired(admin_user: User, settings: Settings) -> None:
    charlie = _import()
    code = services.activation_start(actor=admin_user, user=charlie)
    _age_codes(charlie, timedelta(seconds=settings.ACTIVATION_CODE_TTL_SECONDS + 1))
    with pytest.raises(Invalid):
        services.account_activate(login="charlie@example.org", code=code, new_password=NEW_PASSWORD)


def test_activation_cannot_start_for_an_active_account(admin_user: User, registrar: User) -> None:
    with pytest.raises(Invalid) as exc:
        services.activation_start(actor=admin_user, user=registrar)
    assert exc.value.code == "already_active"
    assert not OneTimeCode.objects.filter(user=registrar).exists()


def test_an_active_account_cannot_be_activated_even_with_a_live_code(admin_user: User) -> None:
    charlie = _import()
    code = services.activation_start(actor=admin_user, user=charlie)
    services.account_activate(login="charlie@example.org", code=code, new_password=NEW_PASSWORD)
    # Even a code issued around the check (e.g. by an old link) must not overwrite the chosen password.
    code = services.one_time_code_issue(user=charlie, purpose=OneTimeCode.Purpose.ACTIVATION)
    with pytest.raises(Invalid):
        services.account_activate(login="charlie@example.org", code=code, new_password="another-long-passphrase-7")
    charlie.refresh_from_db()
    assert charlie.check_password(NEW_PASSWORD)


def test_a_reset_code_does_not_activate(admin_user: User) -> None:
    charlie = _import()
    code = services.one_time_code_issue(user=charlie, purpose=OneTimeCode.Purpose.PASSWORD_RESET)
    with pytest.raises(Invalid):
        services.account_activate(login="charlie@example.org", code=code, new_password=NEW_PASSWORD)


def test_activation_is_audited_without_the_code_or_password(admin_user: User) -> None:
    charlie = _import()
    code = services.activation_start(actor=admin_user, user=charlie)
    services.account_activate(login="charlie@example.org", code=code, new_password=NEW_PASSWORD)
    events = AuditEvent.objects.filter(object_id=str(charlie.pk)).order_by("id")
    assert [(e.action, e.actor_id) for e in events] == [
        ("account.created", None),
        ("account.activation_code_issued", admin_user.pk),
        ("account.activated", charlie.pk),
    ]
    dump = audit_dump()
    assert code not in dump
    assert NEW_PASSWORD not in dump


# --- password change ----------------------------------------------------------------------------------------------


def test_password_change_with_a_wrong_old_password_is_refused_on_that_field(admin_user: User) -> None:
    with pytest.raises(Invalid) as exc:
        services.password_change(user=admin_user, old_password="wrong-password", new_password=NEW_PASSWORD)
    assert list(exc.value.errors) == ["old_password"]
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_password_change_with_a_weak_new_password_is_refused(admin_user: User) -> None:
    with pytest.raises(Invalid) as exc:
        services.password_change(user=admin_user, old_password=PASSWORD, new_password="alice12")
    assert "new_password" in exc.value.errors


def test_password_change_sets_the_password(admin_user: User) -> None:
    services.password_change(user=admin_user, old_password=PASSWORD, new_password=NEW_PASSWORD)
    admin_user.refresh_from_db()
    assert admin_user.check_password(NEW_PASSWORD)


def test_password_change_revokes_every_api_token_of_the_user(admin_user: User, registrar: User) -> None:
    _, first = services.api_token_create(user=admin_user, name="one")
    _, second = services.api_token_create(user=admin_user, name="two")
    _, bobs = services.api_token_create(user=registrar, name="bob's")
    services.password_change(user=admin_user, old_password=PASSWORD, new_password=NEW_PASSWORD)
    assert services.api_token_authenticate(first) is None
    assert services.api_token_authenticate(second) is None
    assert services.api_token_authenticate(bobs) == registrar


def test_password_change_is_audited_without_passwords(admin_user: User) -> None:
    services.password_change(user=admin_user, old_password=PASSWORD, new_password=NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="account.password_changed", actor=admin_user).count() == 1
    dump = audit_dump()
    assert PASSWORD not in dump
    assert NEW_PASSWORD not in dump


# --- language -----------------------------------------------------------------------------------------------------


def test_language_is_saved(admin_user: User) -> None:
    services.user_language_set(user=admin_user, language="bg")
    admin_user.refresh_from_db()
    assert admin_user.language == "bg"


def test_unknown_language_is_refused(admin_user: User) -> None:
    with pytest.raises(Invalid):
        services.user_language_set(user=admin_user, language="xx")


def test_language_change_is_audited(admin_user: User) -> None:
    services.user_language_set(user=admin_user, language="ru")
    event = AuditEvent.objects.get(action="account.language_changed")
    assert (event.actor, event.before, event.after) == (admin_user, {"language": "en"}, {"language": "ru"})


def test_setting_the_same_language_again_changes_and_audits_nothing(admin_user: User) -> None:
    services.user_language_set(user=admin_user, language="en")
    assert not AuditEvent.objects.filter(action="account.language_changed").exists()


# --- API tokens ---------------------------------------------------------------------------------------------------


def test_api_token_is_returned_once_and_only_its_hash_is_stored(admin_user: User) -> None:
    token, raw = services.api_token_create(user=admin_user, name="script")
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert raw not in repr(stored)
    assert token.token_hash != raw
    assert len(token.token_hash) == 64
    assert raw.startswith(token.prefix)


def test_api_token_authenticates_its_user(admin_user: User) -> None:
    _, raw = services.api_token_create(user=admin_user, name="script")
    assert services.api_token_authenticate(raw) == admin_user


def test_api_token_authentication_notes_the_last_use(admin_user: User) -> None:
    token, raw = services.api_token_create(user=admin_user, name="script")
    services.api_token_authenticate(raw)
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize("raw", ["", "kab_not-a-real-token", "something-else", "kab_" + "x" * 200])
def test_unknown_api_token_authenticates_nobody(admin_user: User, raw: str) -> None:
    assert services.api_token_authenticate(raw) is None


def test_api_token_of_an_inactive_user_authenticates_nobody(admin_user: User) -> None:
    _, raw = services.api_token_create(user=admin_user, name="script")
    User.objects.filter(pk=admin_user.pk).update(is_active=False)
    assert services.api_token_authenticate(raw) is None


def test_api_token_needs_a_name(admin_user: User) -> None:
    with pytest.raises(Invalid):
        services.api_token_create(user=admin_user, name="   ")


def test_revoked_api_token_authenticates_nobody(admin_user: User) -> None:
    token, raw = services.api_token_create(user=admin_user, name="script")
    services.api_token_revoke(user=admin_user, token_id=token.pk)
    assert services.api_token_authenticate(raw) is None


def test_revoking_another_users_token_is_refused(admin_user: User, registrar: User) -> None:
    token, raw = services.api_token_create(user=admin_user, name="alice's")
    with pytest.raises(NotFound):
        services.api_token_revoke(user=registrar, token_id=token.pk)
    assert services.api_token_authenticate(raw) == admin_user


def test_api_tokens_are_audited_without_the_token(admin_user: User) -> None:
    token, raw = services.api_token_create(user=admin_user, name="script")
    services.api_token_revoke(user=admin_user, token_id=token.pk)
    services.api_token_revoke(user=admin_user, token_id=token.pk)  # a second revoke changes nothing
    events = AuditEvent.objects.filter(object_type="accounts.apitoken", object_id=str(token.pk)).order_by("id")
    assert [e.action for e in events] == ["account.api_token_created", "account.api_token_revoked"]
    assert raw not in audit_dump()


# --- TOTP ---------------------------------------------------------------------------------------------------------


def test_totp_device_is_confirmed_with_a_correct_code(admin_user: User) -> None:
    device = services.totp_device_start(user=admin_user)
    services.totp_device_confirm(user=admin_user, token=current_totp(device))
    device.refresh_from_db()
    assert device.confirmed


def test_totp_device_is_not_confirmed_with_a_wrong_code(admin_user: User) -> None:
    device = services.totp_device_start(user=admin_user)
    with pytest.raises(Invalid) as exc:
        services.totp_device_confirm(user=admin_user, token=wrong_totp(device))
    assert "token" in exc.value.errors
    device.refresh_from_db()
    assert not device.confirmed


def test_starting_a_totp_device_again_replaces_the_unconfirmed_one(admin_user: User) -> None:
    services.totp_device_start(user=admin_user)
    services.totp_device_start(user=admin_user)
    assert TOTPDevice.objects.filter(user=admin_user).count() == 1


def test_turning_on_2fa_is_audited_without_the_code(admin_user: User) -> None:
    device = services.totp_device_start(user=admin_user)
    code = current_totp(device)
    services.totp_device_confirm(user=admin_user, token=code)
    assert AuditEvent.objects.filter(action="account.2fa_enabled", actor=admin_user).count() == 1
    assert code not in audit_dump()


def test_totp_verify_accepts_the_code_of_a_confirmed_device_only(admin_user: User) -> None:
    device = services.totp_device_start(user=admin_user)
    assert services.totp_verify(user=admin_user, token=current_totp(device)) is None  # not confirmed yet
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    assert services.totp_verify(user=admin_user, token=current_totp(device)) == device


def test_totp_verification_is_audited_both_ways_without_the_code(admin_user: User, settings: Settings) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own back-off would refuse the right code a second later
    device = services.totp_device_start(user=admin_user)
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    wrong, right = wrong_totp(device), current_totp(device)
    assert services.totp_verify(user=admin_user, token=wrong) is None
    assert services.totp_verify(user=admin_user, token=right) == device
    actions = list(AuditEvent.objects.filter(actor=admin_user).order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["account.2fa_failed", "account.2fa_verified"]
    assert wrong not in audit_dump() and right not in audit_dump()


def test_totp_codes_are_refused_after_five_wrong_ones_even_when_right(admin_user: User, settings: Settings) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # our limit, not django-otp's back-off, is what this test is about
    device = services.totp_device_start(user=admin_user)
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    for _attempt in range(settings.LOGIN_FAILURE_LIMIT):
        assert services.totp_verify(user=admin_user, token=wrong_totp(device)) is None
    with pytest.raises(RateLimited):
        services.totp_verify(user=admin_user, token=current_totp(device))


def test_failed_login_leaves_no_password_in_the_audit_log(admin_user: User) -> None:
    _fail_login("alice@example.org", ip="10.0.0.1")
    assert "not-the-password" not in audit_dump()
