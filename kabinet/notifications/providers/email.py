"""Email over Django's mail backend (EMAIL_URL): text and HTML parts, attachments, a stable Message-ID, and on
marketing List-Unsubscribe, a visible unsubscribe link and an open-tracking image. One SMTP connection serves a
dispatcher batch."""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from kabinet.notifications.providers import BaseProvider, InvalidAddress, OutcomeUnknown, Permanent, Sent, Temporary

if TYPE_CHECKING:
    from kabinet.notifications.models import Message


def message_id(message: Message) -> str:
    """Derived from the idempotency key: a copy sent again carries the same Message-ID (mail clients fold them)."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "kabinet.localhost"
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}.{message.pk}@{domain}>"


def _smtp_code(exc: smtplib.SMTPException) -> int:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        return max(codes) if codes else 0
    return int(getattr(exc, "smtp_code", 0) or 0)


class EmailProvider(BaseProvider):
    channel: ClassVar[str] = "email"
    name = "smtp"

    def __init__(self) -> None:
        self.connection: Any = None

    def _connection(self) -> Any:
        if self.connection is None:
            connection = get_connection(fail_silently=False)
            try:
                connection.open()
            except (OSError, smtplib.SMTPException) as exc:  # nothing was sent: try again later
                raise Temporary(f"cannot connect to the mail server: {exc}", code="connect") from exc
            self.connection = connection
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection is best-effort
                self.connection.close()
            self.connection = None

    def build(self, message: Message) -> EmailMultiAlternatives:
        headers = {"Message-ID": message_id(message), "X-Kabinet-Message": str(message.pk)}
        body, html = message.body, message.html
        if message.marketing:
            from kabinet.notifications.services import opened_url, unsubscribe_url

            url = unsubscribe_url(message)
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            with translation.override(message.language or None):
                footer = _("To stop receiving these messages, unsubscribe: %(url)s") % {"url": url}
                link = _("Unsubscribe")
            body = f"{body}\n\n-- \n{footer}"
            if html:
                extra = (
                    f'<p style="font-size:small;color:#555"><a href="{escape(url)}">{escape(link)}</a></p>'
                    f'<img src="{escape(opened_url(message))}" width="1" height="1" alt="">'
                )
                html = html.replace("</body>", extra + "</body>") if "</body>" in html else html + extra
        from kabinet.notifications.bounces import verp_address

        # The envelope sender (where bounces go) is the message's own VERP address; people see the clinic's From.
        envelope_sender = verp_address(message)
        if envelope_sender:
            headers["From"] = settings.DEFAULT_FROM_EMAIL
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=body,
            from_email=envelope_sender or settings.DEFAULT_FROM_EMAIL,
            to=[message.address],
            headers=headers,
        )
        if html:
            email.attach_alternative(html, "text/html")
        for attachment in message.attachments or []:
            email.attach(attachment["filename"], attachment["content"], attachment.get("mimetype") or None)
        return email

    def send(self, message: Message) -> Sent:
        try:
            validate_email(message.address)
        except ValidationError as exc:
            raise InvalidAddress(f"not an email address: {message.address!r}") from exc
        email = self.build(message)
        email.connection = self._connection()
        try:
            email.send()
        except smtplib.SMTPResponseException as exc:
            self.close()
            code = exc.smtp_code
            text = f"{code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc}"
            if 400 <= code < 500:
                raise Temporary(f"the mail server refused for now: {text}", code=f"smtp_{code}") from exc
            raise Permanent(f"the mail server refused: {text}", state="rejected", code=f"smtp_{code}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code = _smtp_code(exc)
            detail = "; ".join(f"{rcpt}: {c} {t.decode(errors='replace')}" for rcpt, (c, t) in exc.recipients.items())
            if 400 <= code < 500:
                raise Temporary(f"recipient refused for now: {detail}", code=f"smtp_{code}") from exc
            # A synchronous refusal of the recipient is a bounce (no such mailbox, domain does not accept mail).
            raise Permanent(f"recipient refused: {detail}", state="bounced", code=f"smtp_{code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            # The connection broke while the message was on its way: the server may have queued it.
            self.close()
            raise OutcomeUnknown(f"the mail server connection broke during sending: {exc}") from exc
        return Sent(provider_id=message_id(message))
