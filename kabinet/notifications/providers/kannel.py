"""SMS through Kannel's smsbox HTTP interface (`/cgi-bin/sendsms`) with delivery reports.

Kannel answers 202 "0: Accepted for delivery" (or "3: Queued for later delivery") once bearerbox has the message;
it then calls our dlr-url with %d = 8 (submitted to the SMSC), 1 (delivered), 2 (undelivered), 16 (SMSC rejected)
or 4 (buffered). The dlr-url carries the outbox id and the secret token (SMS_DLR_TOKEN) that the view checks.
Kannel has no idempotency key, so this provider does not dedupe: see dispatch.py for what that means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.urls import reverse

from kabinet.notifications.providers import (
    BaseProvider,
    Permanent,
    Sent,
    SmsConfig,
    Temporary,
    check_phone,
    dlr_token,
    http_failure,
    retry_after,
)

if TYPE_CHECKING:
    from kabinet.notifications.models import Message

# GSM 03.38 basic alphabet: texts made only of these go as 7-bit (160 characters a part), others as UCS-2 (70).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Kannel's DLR types (the %d escape) and the outbox state each one means.
DLR_DELIVERED, DLR_UNDELIVERED, DLR_BUFFERED, DLR_SUBMITTED, DLR_REJECTED = 1, 2, 4, 8, 16


def coding_for(text: str) -> int:
    return 0 if set(text) <= GSM_BASIC else 2


class KannelProvider(BaseProvider):
    channel: ClassVar[str] = "sms"
    name = "kannel"

    def __init__(self, config: SmsConfig):
        self.config = config
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def dlr_url(self, message: Message) -> str:
        base = (self.config.options.get("dlr_base") or settings.SITE_URL).rstrip("/")
        path = reverse("notifications:dlr_kannel", kwargs={"token": dlr_token()})
        # %d, %A and %T are Kannel's escapes (report type, SMSC answer, time); Kannel fills them in.
        return f"{base}{path}?{urlencode({'message': message.pk})}&type=%d&answer=%A&ts=%T"

    def send(self, message: Message) -> Sent:
        phone = check_phone(message.address)
        params = {
            "username": self.config.username,
            "password": self.config.password,
            "to": phone,
            "text": message.body,
            "charset": "UTF-8",
            "coding": str(coding_for(message.body)),
            "dlr-mask": "31",
            "dlr-url": self.dlr_url(message),
        }
        sender = self.config.options.get("from") or settings.SMS_FROM
        if sender:
            params["from"] = sender
        if self.config.options.get("smsc"):
            params["smsc"] = self.config.options["smsc"]
        try:
            response = self.session.get(
                self.config.url, params=params, timeout=(5, settings.NOTIFICATIONS_PROVIDER_TIMEOUT)
            )
        except requests.RequestException as exc:
            raise http_failure(exc) from exc
        text = response.text.strip()[:500]
        if response.status_code in (200, 202) and text[:2] in ("0:", "3:"):
            return Sent(provider_id=f"kannel:{message.pk}", detail=text)
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise Temporary(f"Kannel {response.status_code}: {text}", retry_after=retry_after(response))
        raise Permanent(f"Kannel {response.status_code}: {text}", state="rejected", code=f"http_{response.status_code}")
