"""Asynchronous email bounces: a mail server that accepted a message and failed to deliver it later sends a bounce
to the envelope sender. We give each message its own envelope sender (VERP, `bounces+m42-<signature>@domain` from
NOTIFICATIONS_BOUNCE_ADDRESS) and read what comes back there: standard delivery status notifications (RFC 3464,
multipart/report) and the plain-text bounces some servers still send.

A bounce is matched to its message by the signed VERP address it was sent to, else by the Message-ID of the
returned original (ours carry the message's id and a digest of its key). Only a permanent failure (status 5.x.x)
bounces a message; a delay notice or a temporary failure is written to the message's history; an auto-reply ("out
of office") to the bounce address changes nothing.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from kabinet.notifications.models import Message

logger = logging.getLogger("kabinet.notifications.bounces")

_SALT = "kabinet.notifications.bounce"
_VERP = re.compile(r"^(?P<local>[^+@]+)\+m(?P<pk>\d+)-(?P<sig>[0-9a-f]{16})@(?P<domain>.+)$", re.IGNORECASE)
_OUR_MESSAGE_ID = re.compile(r"<(?P<digest>[0-9a-f]{32})\.(?P<pk>\d+)@[^>]+>")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_REPLY = re.compile(r"\b([45])\d\d[ -]")
_BOUNCER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


@dataclass(frozen=True)
class Bounce:
    message_id: int
    permanent: bool
    status: str
    diagnostic: str

    @property
    def detail(self) -> str:
        return " ".join(part for part in (self.status, self.diagnostic) if part)[:2000]


def _signature(pk: int) -> str:
    return salted_hmac(_SALT, str(pk)).hexdigest()[:16]


def verp_address(message: Message) -> str:
    """The envelope sender for `message`, or "" when no bounce address is configured."""
    base = settings.NOTIFICATIONS_BOUNCE_ADDRESS
    if not base or message.pk is None:
        return ""
    local, _at, domain = base.rpartition("@")
    return f"{local}+m{message.pk}-{_signature(message.pk)}@{domain}"


def _message_from_verp(address: str) -> int | None:
    match = _VERP.match(parseaddr(address)[1] or address.strip())
    if not match:
        return None
    pk = int(match["pk"])
    return pk if constant_time_compare(match["sig"].lower(), _signature(pk)) else None


def _message_from_returned_headers(mail: EmailMessage) -> int | None:
    """Our Message-ID in the returned original (message/rfc822 or text/rfc822-headers part, or quoted in the text)."""
    from kabinet.notifications.providers.email import message_id

    texts = []
    for part in mail.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers", "text/plain"):
            payload = part.get_payload()
            texts.append(payload if isinstance(payload, str) else "\n".join(str(p) for p in payload))
    for text in texts:
        for match in _OUR_MESSAGE_ID.finditer(text):
            message = Message.objects.filter(pk=int(match["pk"]), channel="email").first()
            if message is not None and message_id(message) == match.group(0):
                return message.pk
    return None


def _delivery_status(mail: EmailMessage) -> list[dict[str, str]]:
    """Per-recipient fields of the message/delivery-status part (lower-case names), [] when there is none."""
    for part in mail.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks: Any = part.get_payload()
        if isinstance(blocks, str):  # some parsers leave it as text: fields in blank-line separated groups
            groups = [email.message_from_string(g) for g in re.split(r"\r?\n\r?\n", blocks.strip()) if g.strip()]
        else:
            groups = [block for block in blocks if not isinstance(block, str)]
        per_recipient = []
        for group in groups[1:] or groups:  # the first group is per-message
            fields = {k.lower(): str(v).strip() for k, v in group.items()}
            if "action" in fields or "status" in fields:
                per_recipient.append(fields)
        return per_recipient
    return []


def parse(raw: bytes, *, recipient: str = "") -> Bounce | None:
    """The bounce in a raw email, or None when it is not a bounce of one of our messages.

    `recipient` is the envelope recipient the mail server delivered it to (the VERP address); without it the
    To/Delivered-To/X-Original-To headers are tried.
    """
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    candidates = [recipient] if recipient else []
    for header in ("X-Original-To", "Delivered-To", "To", "Envelope-To"):
        candidates += [address for _name, address in getaddresses(mail.get_all(header, []))]
    pk = next((found for found in map(_message_from_verp, candidates) if found is not None), None)
    if pk is None:
        pk = _message_from_returned_headers(mail)
    if pk is None:
        return None

    fields = _delivery_status(mail)
    if fields:
        failed = [f for f in fields if f.get("action", "").lower() == "failed" or f.get("status", "").startswith("5")]
        chosen = failed[0] if failed else fields[0]
        status = chosen.get("status", "")
        diagnostic = chosen.get("diagnostic-code", "").partition(";")[2].strip() or chosen.get("diagnostic-code", "")
        permanent = status.startswith("5") or (chosen.get("action", "").lower() == "failed" and not status)
        return Bounce(message_id=pk, permanent=permanent, status=status, diagnostic=" ".join(diagnostic.split()))

    # Not a DSN: a plain-text bounce comes from the mailer daemon; anything else sent to the bounce address (an "out
    # of office" reply, say, which comes from the person) is not a bounce.
    sender = parseaddr(str(mail.get("From", "")))[1]
    if not _BOUNCER.match(sender):
        return None
    body = mail.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    status_match = _STATUS.search(text)
    reply_match = _SMTP_REPLY.search(text)
    permanent = bool(status_match and status_match[1] == "5") or bool(reply_match and reply_match[1] == "5")
    line = next((ln.strip() for ln in text.splitlines() if _SMTP_REPLY.search(ln) or _STATUS.search(ln)), "")
    return Bounce(
        message_id=pk,
        permanent=permanent,
        status=status_match.group(0) if status_match else "",
        diagnostic=line[:500],
    )


def bounce_receive(raw: bytes, *, recipient: str = "") -> Message | None:
    """Apply a bounce to its message: a permanent failure marks it `bounced`, anything else goes to its history.
    Mail that is not a bounce of ours is logged (without its content) and ignored."""
    from kabinet.notifications.services import delivery_report

    bounce = parse(raw, recipient=recipient)
    if bounce is None:
        logger.info("mail to the bounce address is not a bounce of one of our messages; ignored")
        return None
    return delivery_report(
        message_id=bounce.message_id,
        provider="smtp",
        state=Message.State.BOUNCED if bounce.permanent else None,
        detail=f"bounce: {bounce.detail}" if bounce.permanent else f"delay or temporary failure: {bounce.detail}",
    )
