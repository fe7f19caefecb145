"""Fixtures for the accounts tests: a real SMTP server, 2FA organisations, audit and HTML helpers."""

from __future__ import annotations

import email
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kabinet.accounts.models import User
from kabinet.audit.models import AuditEvent
from kabinet.core.models import Organisation, Role


@dataclass
class SmtpInbox:
    """Messages received by the test SMTP server, parsed."""

    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def bodies(self) -> list[str]:
        out = []
        for message in self.messages:
            part = message.get_payload(decode=True)
            assert isinstance(part, bytes)
            out.append(part.decode(message.get_content_charset() or "utf-8"))
        return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpInbox]:
    """A real SMTP server (aiosmtpd) on a free local port; Django's SMTP backend is pointed at it."""
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield inbox
    finally:
        controller.stop()


CODE_IN_MAIL = re.compile(r"code is ([A-Z0-9]{6,10})\.")


def code_from(body: str) -> str:
    """The one-time code in a reset or activation email."""
    match = CODE_IN_MAIL.search(body)
    assert match, body
    return match.group(1)


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
