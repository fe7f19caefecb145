"""Authentication backend: log in with an email or a phone number (any common format)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from kabinet.accounts.models import User


class EmailOrPhoneBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        login = username or kwargs.get("email") or kwargs.get("login")
        if not login or not password:
            return None
        user = User.objects.get_by_login(login)
        if user is None:
            User().set_password(password)  # spend the same time as a real check: no account enumeration by timing
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
