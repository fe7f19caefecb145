"""Account pages: login, 2FA, password change/reset, activation, API tokens, language."""

from __future__ import annotations

from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from kabinet.accounts import forms, services
from kabinet.accounts.http import AuthenticatedRequest
from kabinet.accounts.models import ApiToken, User
from kabinet.core.exceptions import DomainError, RateLimited
from kabinet.core.request_context import client_ip


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _apply_errors(form: Any, exc: DomainError) -> None:
    if exc.errors:
        for field, errors in exc.errors.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc.message)


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request, reverse("core:dashboard")))
    form = forms.LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.login_check(
                login=form.cleaned_data["login"], password=form.cleaned_data["password"], ip=client_ip(request)
            )
        except RateLimited as exc:
            minutes = settings.LOGIN_FAILURE_WINDOW_SECONDS // 60
            form.add_error(
                None,
                ngettext(
                    "Too many failed attempts. Wait %(n)s minute or reset your password.",
                    "Too many failed attempts. Wait %(n)s minutes or reset your password.",
                    minutes,
                )
                % {"n": minutes},
            )
            status = exc.status
        except DomainError as exc:
            _apply_errors(form, exc)
            status = 400
        else:
            auth_login(request, user, backend="kabinet.accounts.backends.EmailOrPhoneBackend")
            services.login_succeeded(user=user)
            translation.activate(user.language)
            return redirect(_safe_next(request, reverse("core:dashboard")))
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request, "")}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.logged_out(user=request.user)
    auth_logout(request)
    return redirect("accounts:login")


@login_required
def two_factor_view(request: AuthenticatedRequest) -> HttpResponse:
    """Verify the second factor, or set it up first when the user has no confirmed device."""
    user = request.user
    has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    form = forms.OneTimeTokenForm(request.POST or None)
    if has_device:
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                device = services.totp_verify(user=user, token=form.cleaned_data["token"])
            except RateLimited as exc:
                form.add_error(None, str(exc))
                status = 429
            else:
                if device is not None:
                    otp_login(request, device)
                    return redirect(_safe_next(request, reverse("core:dashboard")))
                form.add_error("token", _("The code is not correct. Check the time on your phone and try again."))
        if form.errors and status == 200:
            status = 400
        return render(request, "accounts/two_factor_verify.html", {"form": form}, status=status)

    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_device_confirm(user=user, token=form.cleaned_data["token"])
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            otp_login(request, device)
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("core:dashboard")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or request.method == "GET":
        device = services.totp_device_start(user=user)
    qr = segno.make(device.config_url, micro=False).svg_data_uri(scale=5)
    return render(
        request,
        "accounts/two_factor_setup.html",
        {"form": form, "qr": qr, "secret": _b32_secret(device)},
        status=400 if form.errors else 200,
    )


def _b32_secret(device: TOTPDevice) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode().rstrip("=")


@login_required
def password_change_view(request: AuthenticatedRequest) -> HttpResponse:
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(
                request, _("Password changed. Your other sessions were signed out and your API tokens revoked.")
            )
            return redirect("core:dashboard")
    return render(request, "accounts/password_change.html", {"form": form}, status=400 if form.errors else 200)


def password_reset_view(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordResetRequestForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_request(login=form.cleaned_data["login"])
        except RateLimited as exc:
            form.add_error(None, _("Too many reset requests for this account. Try again in an hour."))
            status = exc.status
        else:
            messages.info(
                request, _("If an account with this email or phone exists, we have sent a code to its email.")
            )
            return redirect("accounts:password_reset_confirm")
    code_minutes = settings.PASSWORD_RESET_CODE_TTL_SECONDS // 60
    return render(request, "accounts/password_reset.html", {"form": form, "code_minutes": code_minutes}, status=status)


def _code_page(request: HttpRequest, *, template: str, action: Any, success: str) -> HttpResponse:
    form = forms.CodeWithPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            action(
                login=form.cleaned_data["login"],
                code=form.cleaned_data["code"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, success)
            return redirect("accounts:login")
    return render(request, template, {"form": form}, status=400 if form.errors else 200)


def password_reset_confirm_view(request: HttpRequest) -> HttpResponse:
    return _code_page(
        request,
        template="accounts/password_reset_confirm.html",
        action=services.password_reset_confirm,
        success=_("Your password was changed. Log in with the new password."),
    )


def activate_view(request: HttpRequest) -> HttpResponse:
    return _code_page(
        request,
        template="accounts/activate.html",
        action=services.account_activate,
        success=_("Your account is active. Log in with the password you chose."),
    )


@login_required
def tokens_view(request: AuthenticatedRequest) -> HttpResponse:
    form = forms.ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            form = forms.ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return render(request, "accounts/tokens.html", {"form": form, "tokens": tokens, "new_token": new_token})


@login_required
@require_POST
def token_revoke_view(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    try:
        services.api_token_revoke(user=request.user, token_id=token_id)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Token revoked."))
    return redirect("accounts:tokens")


@require_POST
def set_language_view(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; for a logged-in user it is saved and follows them to other devices."""
    form = forms.LanguageForm(request.POST)
    target = _safe_next(request, "/")
    response = HttpResponseRedirect(target)
    if form.is_valid():
        language = form.cleaned_data["language"]
        if isinstance(request.user, User):
            services.user_language_set(user=request.user, language=language)
        translation.activate(language)
        from django.conf import settings

        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax")
    return response
