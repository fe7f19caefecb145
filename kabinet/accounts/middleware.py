"""Middleware: enforce two-factor authentication where the organisation requires it; apply the user's language."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation

from kabinet.accounts.models import User
from kabinet.core import permissions

# Paths a user who still owes a second factor may reach. Only the pages of the 2FA step itself: the other account
# pages (API tokens above all) would give a way round the second factor.
_TWO_FACTOR_EXEMPT = (
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/2fa/",
    "/accounts/language/",
    "/static/",
    "/i18n/",
    "/healthz",
    "/manifest",
    "/sw.js",
    "/my/sw.js",
)


def two_factor_pending(request: HttpRequest) -> bool:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return False
    # is_verified() is attached to the user by django_otp.middleware.OTPMiddleware.
    if user.is_verified():  # type: ignore[attr-defined]
        return False
    return permissions.requires_two_factor(user)


class TwoFactorRequiredMiddleware:
    """Staff whose organisation requires 2FA for their role reach nothing but the 2FA pages until verified.
    The API applies the same rule in its session authentication."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        exempt = request.path.startswith(_TWO_FACTOR_EXEMPT) or request.path.startswith("/api/")
        if not exempt and two_factor_pending(request):
            return redirect("accounts:two_factor")
        return self.get_response(request)


class UserLanguageMiddleware:
    """A logged-in user's saved language wins over the browser's, so it is remembered across devices."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if isinstance(user, User) and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)
