"""Web push to every active browser subscription of the recipient (pywebpush: aes128gcm payload, VAPID JWT).

The push service answers 201 when it has the message; 404/410 mean the subscription is gone (we deactivate it);
429 and 5xx are retried. Push services have no idempotency key (Topic only collapses undelivered copies), so this
provider does not dedupe.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, ClassVar

import requests
from django.conf import settings
from django.utils import timezone
from pywebpush import WebPushException, webpush

from kabinet.notifications.models import PushSubscription
from kabinet.notifications.providers import (
    BaseProvider,
    InvalidAddress,
    OutcomeUnknown,
    Permanent,
    SendError,
    Sent,
    Temporary,
    http_failure,
)

if TYPE_CHECKING:
    from kabinet.notifications.models import Message

GONE = {404, 410}
DEFAULT_TTL = 24 * 3600


def payload(message: Message) -> str:
    return json.dumps(
        {
            "title": message.subject or "kabinet",
            "body": message.body,
            "url": message.link or "/",
            "tag": f"message-{message.pk}",
        },
        ensure_ascii=False,
    )


def topic(message: Message) -> str:
    """At most 32 URL-safe characters: copies of one message not yet delivered replace each other."""
    return hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]


class WebPushProvider(BaseProvider):
    channel: ClassVar[str] = "push"
    name = "webpush"

    def __init__(self) -> None:
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def send(self, message: Message) -> Sent:
        subscriptions = []
        if message.user_id is not None:
            subscriptions = list(PushSubscription.objects.filter(user_id=message.user_id, is_active=True))
        if not subscriptions:
            raise InvalidAddress("the recipient has no active push subscription")
        ttl = DEFAULT_TTL
        if message.expires_at is not None:
            ttl = max(60, min(DEFAULT_TTL, int((message.expires_at - timezone.now()).total_seconds())))
        data = payload(message)
        delivered: list[int] = []
        errors: list[SendError] = []
        for subscription in subscriptions:
            try:
                webpush(
                    subscription.info(),
                    data=data,
                    vapid_private_key=settings.VAPID_PRIVATE_KEY,
                    vapid_claims={"sub": settings.VAPID_SUBJECT},
                    ttl=ttl,
                    headers={"Topic": topic(message), "Urgency": "normal"},
                    timeout=settings.NOTIFICATIONS_PROVIDER_TIMEOUT,
                    requests_session=self.session,
                )
            except WebPushException as exc:
                status = exc.status_code or 0
                text = (getattr(exc.response, "text", "") or str(exc.message))[:300]
                if status in GONE:
                    PushSubscription.objects.filter(pk=subscription.pk).update(is_active=False, failure=text)
                    errors.append(InvalidAddress(f"subscription gone ({status})"))
                elif status >= 500 or status == 429:
                    errors.append(Temporary(f"push service {status}: {text}"))
                else:
                    errors.append(Permanent(f"push service {status}: {text}", state="rejected"))
            except requests.RequestException as exc:
                errors.append(http_failure(exc))
            else:
                PushSubscription.objects.filter(pk=subscription.pk).update(last_success_at=timezone.now(), failure="")
                delivered.append(subscription.pk)
        if delivered:
            return Sent(provider_id=",".join(str(pk) for pk in delivered)[:200])
        raise _worst(errors)


def _worst(errors: list[SendError]) -> SendError:
    """No device took it: retry if any error was temporary, unknown if any may have arrived, else final."""
    for kind in (OutcomeUnknown, Temporary, Permanent):
        for error in errors:
            if type(error) is kind:
                return error
    return errors[0]
