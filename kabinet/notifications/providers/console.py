"""SMS written to the log (SMS_URL=console://): for development, where no gateway is at hand."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from kabinet.notifications.providers import BaseProvider, Sent, check_phone

if TYPE_CHECKING:
    from kabinet.notifications.models import Message

logger = logging.getLogger("kabinet.notifications.sms")


class ConsoleSmsProvider(BaseProvider):
    channel: ClassVar[str] = "sms"
    name = "console"

    def send(self, message: Message) -> Sent:
        check_phone(message.address)
        logger.info("SMS #%s to %s: %s", message.pk, message.address, message.body)
        return Sent(provider_id=f"console:{message.pk}")
