"""Publishing live updates to websocket groups, after the surrounding transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# topic -> function(user, object id) returning the group to join, or None when the user may not follow it.
# Higher apps register their topics at start-up (e.g. scheduling registers "calendar" for a location).
TopicAuthorizer = Callable[[Any, int], str | None]
_topics: dict[str, TopicAuthorizer] = {}


def register_topic(name: str, authorize: TopicAuthorizer) -> None:
    _topics[name] = authorize


def group_for(user: Any, topic: str, object_id: int) -> str | None:
    authorize = _topics.get(topic)
    return authorize(user, object_id) if authorize else None


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
