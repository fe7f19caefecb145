"""SMS through a commercial gateway's HTTP API: a URL and a body template, an auth header, JSON or form.

Configured by SMS_URL (http+json://, http+form://, http+get:// or their https+ forms), SMS_HTTP_TEMPLATE,
SMS_HTTP_AUTH_HEADER ("Name: value"; user:password in the URL means basic auth), SMS_HTTP_ID_FIELD (where the
gateway's id is in its JSON answer) and SMS_HTTP_IDEMPOTENCY_HEADER (the header that carries our idempotency key,
for gateways that deduplicate by it: then a send whose outcome is unknown is safely retried).

Placeholders {to}, {text}, {sender}, {reference} (our idempotency key) and {id} (our outbox id) are replaced in
the URL (URL-encoded) and the template: as JSON strings for json (write them unquoted: {"to": {to}}), URL-encoded
for form. A 2xx is success; 408, 425, 429 and 5xx are retried; any other 4xx is final with the gateway's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import requests
from django.conf import settings

from kabinet.notifications.providers import (
    BaseProvider,
    Permanent,
    Sent,
    SmsConfig,
    Temporary,
    check_phone,
    http_failure,
    retry_after,
)

if TYPE_CHECKING:
    from kabinet.notifications.models import Message

DEFAULT_TEMPLATES = {
    "json": '{"to": {to}, "text": {text}, "from": {sender}, "reference": {reference}}',
    "form": "to={to}&text={text}&from={sender}&reference={reference}",
    "get": "",
}
RETRIED = {408, 425, 429}


def fill(template: str, values: dict[str, str], encode: Callable[[str], str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", encode(value))
    return template


def _dig(data: Any, path: str) -> str:
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return ""
    return "" if data is None or isinstance(data, dict | list) else str(data)


class HttpSmsProvider(BaseProvider):
    channel: ClassVar[str] = "sms"
    name = "http"

    def __init__(self, config: SmsConfig):
        self.config = config
        self.session = requests.Session()
        self.dedupes = bool(settings.SMS_HTTP_IDEMPOTENCY_HEADER)

    def close(self) -> None:
        self.session.close()

    def request(self, message: Message) -> tuple[str, str, dict[str, str], str | None]:
        """(method, url, headers, body) for the message: what goes over the wire."""
        values = {
            "to": check_phone(message.address),
            "text": message.body,
            "sender": settings.SMS_FROM,
            "reference": message.idempotency_key,
            "id": str(message.pk),
        }
        encoding = self.config.encoding
        url = fill(self.config.url, values, lambda v: quote(v, safe=""))
        headers: dict[str, str] = {}
        if settings.SMS_HTTP_AUTH_HEADER:
            name, _sep, value = settings.SMS_HTTP_AUTH_HEADER.partition(":")
            headers[name.strip()] = value.strip()
        if settings.SMS_HTTP_IDEMPOTENCY_HEADER:
            headers[settings.SMS_HTTP_IDEMPOTENCY_HEADER] = message.idempotency_key
        template = settings.SMS_HTTP_TEMPLATE or DEFAULT_TEMPLATES[encoding]
        if encoding == "get":
            return "GET", url, headers, None
        if encoding == "json":
            headers["Content-Type"] = "application/json"
            return "POST", url, headers, fill(template, values, lambda v: json.dumps(v, ensure_ascii=False))
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return "POST", url, headers, fill(template, values, lambda v: quote(v, safe=""))

    def send(self, message: Message) -> Sent:
        method, url, headers, body = self.request(message)
        auth = (self.config.username, self.config.password) if self.config.username else None
        try:
            response = self.session.request(
                method,
                url,
                data=body.encode() if body is not None else None,
                headers=headers,
                auth=auth,
                timeout=(5, settings.NOTIFICATIONS_PROVIDER_TIMEOUT),
            )
        except requests.RequestException as exc:
            raise http_failure(exc) from exc
        text = response.text.strip()[:500]
        if 200 <= response.status_code < 300:
            provider_id = ""
            try:
                provider_id = _dig(response.json(), settings.SMS_HTTP_ID_FIELD)
            except ValueError:
                provider_id = ""
            return Sent(provider_id=provider_id[:200], detail=text[:200])
        if response.status_code >= 500 or response.status_code in RETRIED:
            raise Temporary(f"gateway {response.status_code}: {text}", retry_after=retry_after(response))
        raise Permanent(
            f"gateway {response.status_code}: {text}", state="rejected", code=f"http_{response.status_code}"
        )
