"""In-app notifications: a row in the user's bell, announced over their websocket. Delivery is a database write
in the dispatcher's result transaction, so it happens exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kabinet.core import realtime
from kabinet.notifications.models import InAppNotification
from kabinet.notifications.providers import BaseProvider, InvalidAddress, Sent

if TYPE_CHECKING:
    from kabinet.notifications.models import Message


class InAppProvider(BaseProvider):
    channel: ClassVar[str] = "inapp"
    name = "inapp"
    dedupes = True
    transactional = True

    def send(self, message: Message) -> Sent:
        if message.user_id is None:
            raise InvalidAddress("no user to show the notification to")
        note, _created = InAppNotification.objects.get_or_create(
            message=message,
            defaults={
                "organisation_id": message.organisation_id,
                "user_id": message.user_id,
                "title": message.subject or message.body[:300],
                "body": message.body if message.subject else "",
                "link": message.link,
            },
        )
        unread = InAppNotification.objects.filter(user_id=message.user_id, read_at__isnull=True).count()
        realtime.notify_user(
            message.user_id,
            "notification",
            {"kind": "inapp", "id": note.pk, "text": note.title, "link": note.link, "unread": unread},
        )
        return Sent(provider_id=f"inapp:{note.pk}", delivered=True)
