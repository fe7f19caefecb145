"""Channel providers behind one interface: each takes an outbox Message and hands it to a gateway.

A provider's `send` returns `Sent` or raises one of the errors below; the dispatcher turns them into states:
Temporary → retried with back-off; Permanent → rejected/bounced/failed with the reason; InvalidAddress → invalid;
OutcomeUnknown → the gateway may or may not have the message (treated like a worker that died mid-send).

`dedupes` says that calling `send` again with the same message never delivers it twice (the gateway honours the
idempotency key, or delivery is a database row): only such providers are retried when the outcome is unknown.
`transactional` providers deliver inside the dispatcher's result transaction (in-app notifications).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import phonenumbers
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signing import Signer

if TYPE_CHECKING:
    from kabinet.notifications.models import Message


@dataclass(frozen=True)
class Sent:
    provider_id: str = ""
    delivered: bool = False  # the provider confirms delivery at once (in-app); else a report may follow
    detail: str = ""


class SendError(Exception):
    code = "error"

    def __init__(self, detail: str, *, code: str | None = None):
        super().__init__(detail)
        self.detail = detail[:2000]
        if code:
            self.code = code


class Temporary(SendError):
    code = "temporary"

    def __init__(self, detail: str, *, retry_after: int | None = None, code: str | None = None):
        super().__init__(detail, code=code)
        self.retry_after = retry_after


class Permanent(SendError):
    code = "rejected"
    state = "rejected"

    def __init__(self, detail: str, *, state: str = "rejected", code: str | None = None):
        super().__init__(detail, code=code or state)
        self.state = state


class InvalidAddress(Permanent):
    def __init__(self, detail: str):
        super().__init__(detail, state="invalid", code="invalid_address")


class OutcomeUnknown(SendError):
    code = "outcome_unknown"


class Provider(Protocol):
    channel: ClassVar[str]
    name: str
    dedupes: bool
    transactional: bool

    def send(self, message: Message) -> Sent: ...

    def close(self) -> None: ...


class BaseProvider:
    channel: ClassVar[str] = ""
    name = ""
    dedupes = False
    transactional = False

    def close(self) -> None:
        return None


# --- configuration ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsConfig:
    """SMS_URL parsed: kind is "kannel", "http" or "console"; `encoding` json/form/get for http."""

    kind: str
    url: str = ""
    username: str = ""
    password: str = ""
    encoding: str = ""
    options: dict[str, str] = field(default_factory=dict)


SMS_SCHEMES = {
    "kannel": ("kannel", "http", ""),
    "kannels": ("kannel", "https", ""),
    "http+json": ("http", "http", "json"),
    "https+json": ("http", "https", "json"),
    "http+form": ("http", "http", "form"),
    "https+form": ("http", "https", "form"),
    "http+get": ("http", "http", "get"),
    "https+get": ("http", "https", "get"),
}


def sms_config(raw: str | None = None) -> SmsConfig | None:
    """None when SMS is off (SMS_URL empty). Raises ImproperlyConfigured naming SMS_URL for a malformed value."""
    raw = settings.SMS_URL if raw is None else raw
    if not raw:
        return None
    if raw.startswith("console:"):
        return SmsConfig(kind="console")
    scheme, _sep, _rest = raw.partition("://")
    if scheme not in SMS_SCHEMES or not _sep:
        raise ImproperlyConfigured(
            "Environment variable SMS_URL must start with kannel://, http+json://, https+json://, http+form://, "
            "https+form://, http+get://, https+get:// or console://"
        )
    kind, transport, encoding = SMS_SCHEMES[scheme]
    parts = urlsplit(f"{transport}://{_rest}")
    if not parts.hostname:
        raise ImproperlyConfigured("Environment variable SMS_URL has no host")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    if kind == "kannel":
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path if parts.path not in ("", "/") else "/cgi-bin/sendsms"
        url = f"{transport}://{netloc}{path}"
        if not parts.username:
            raise ImproperlyConfigured(
                "Environment variable SMS_URL needs the Kannel sendsms user: kannel://user:pass@…"
            )
    else:
        options = {}
        url = f"{transport}://{netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return SmsConfig(
        kind=kind,
        url=url,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        encoding=encoding,
        options=options,
    )


def push_configured() -> bool:
    return bool(settings.VAPID_PRIVATE_KEY and settings.VAPID_PUBLIC_KEY)


def check_configuration() -> None:
    sms_config()
    if bool(settings.VAPID_PRIVATE_KEY) != bool(settings.VAPID_PUBLIC_KEY):
        raise ImproperlyConfigured(
            "Set both VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY (manage.py notifications_vapid_keys)"
        )
    if push_configured() and not settings.VAPID_SUBJECT:
        raise ImproperlyConfigured("Environment variable VAPID_SUBJECT must be set (mailto:… or https://…)")
    header = settings.SMS_HTTP_AUTH_HEADER
    if header and ":" not in header:
        raise ImproperlyConfigured("Environment variable SMS_HTTP_AUTH_HEADER must look like 'Name: value'")


def available(channel: str) -> bool:
    """Whether messages on `channel` can go out at all with this configuration."""
    if channel == "sms":
        return sms_config() is not None
    if channel == "push":
        return push_configured()
    return channel in ("email", "inapp")


def dlr_token() -> str:
    """The secret in Kannel's delivery-report URL: SMS_DLR_TOKEN, or one derived from SECRET_KEY."""
    configured: str = settings.SMS_DLR_TOKEN
    return configured or Signer(salt="kabinet.notifications.dlr").signature("kannel")


PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


def check_phone(address: str) -> str:
    """The E.164 number, or InvalidAddress: a malformed number is never handed to a gateway."""
    if not PHONE.match(address or ""):
        raise InvalidAddress(f"not an E.164 phone number: {address!r}")
    try:
        parsed = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidAddress(f"not a valid phone number: {address}")
    return address


def http_failure(exc: requests.RequestException) -> SendError:
    """A transport error: certain non-delivery when no connection was made, otherwise the outcome is unknown."""
    if isinstance(exc, requests.ConnectTimeout):
        return Temporary(f"cannot connect: {exc}", code="connect")
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        if any(s in text for s in ("NewConnectionError", "Failed to establish", "NameResolution", "refused")):
            return Temporary(f"cannot connect: {exc}", code="connect")
        return OutcomeUnknown(f"connection lost after the request was sent: {exc}")
    if isinstance(exc, requests.Timeout):
        return OutcomeUnknown(f"no answer in time: {exc}")
    return Temporary(str(exc))


def retry_after(response: Any) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if str(value).isdigit() else None


def for_channel(channel: str) -> Provider | None:
    """A fresh provider for the configured gateway of `channel` (None when the channel is off). The dispatcher
    keeps one per batch and closes it after, so an SMTP connection serves the whole batch."""
    if channel == "email":
        from kabinet.notifications.providers.email import EmailProvider

        return EmailProvider()
    if channel == "inapp":
        from kabinet.notifications.providers.inapp import InAppProvider

        return InAppProvider()
    if channel == "push":
        if not push_configured():
            return None
        from kabinet.notifications.providers.webpush import WebPushProvider

        return WebPushProvider()
    if channel == "sms":
        config = sms_config()
        if config is None:
            return None
        if config.kind == "kannel":
            from kabinet.notifications.providers.kannel import KannelProvider

            return KannelProvider(config)
        if config.kind == "http":
            from kabinet.notifications.providers.http import HttpSmsProvider

            return HttpSmsProvider(config)
        from kabinet.notifications.providers.console import ConsoleSmsProvider

        return ConsoleSmsProvider()
    return None
