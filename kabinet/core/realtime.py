"""Publishing live updates to websocket groups, after the surrounding transaction commits."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send `{"event": ..., "data": ...}` to every socket in `group` once the transaction commits."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, {"type": "live.message", "event": event, "data": payload})
        except Exception:  # a live update is a courtesy: never fail the change that caused it
            logger.exception("live update to %s failed", group)

    transaction.on_commit(send)


def notify_user(user_id: int, event: str, payload: dict[str, Any]) -> None:
    publish(user_group(user_id), event, payload)
