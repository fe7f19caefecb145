"""Domain exceptions raised by services; pages and the API map them to messages and status codes."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A rule was broken. `code` is stable (API clients rely on it); `message` is shown to people."""

    status = 400
    code = "error"
    default_message: Any = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, code: str | None = None, errors: dict[str, list[str]] | None = None):
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        self.errors = errors or {}
        super().__init__(str(self.message))


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"
    default_message = _("You do not have permission to do this.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _("Not found.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _("This conflicts with the current state. Reload and try again.")


class Invalid(DomainError):
    status = 422
    code = "validation_error"
    default_message = _("Some fields are not valid.")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_message = _("Too many attempts. Please wait and try again later.")

    def __init__(self, message: Any = None, *, retry_after: int = 60, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)
