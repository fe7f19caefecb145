"""Publishing live updates to websocket groups, after the surrounding transaction commits.

Each update is sent on its own once its transaction commits, unless it was published inside `batched()`: then the
committed updates wait for the end of the block (or at most `seconds`) and go to the channel layer together, in one
trip into async code — a dispatcher batch announces its hundreds of timeline changes that way. An update whose
transaction rolls back is never sent, batched or not."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
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


Update = tuple[str, dict[str, Any]]  # (group, channel-layer message)


@dataclass
class _Batch:
    seconds: float
    updates: list[Update] = field(default_factory=list)
    since: float = 0.0


_batch: ContextVar[_Batch | None] = ContextVar("kabinet_realtime_batch", default=None)


def _send(updates: list[Update]) -> None:
    layer = get_channel_layer()
    if layer is None or not updates:
        return

    async def send_all() -> None:
        for group, message in updates:
            try:
                await layer.group_send(group, message)
            except Exception:  # a live update is a courtesy: never fail the change that caused it
                logger.exception("live update to %s failed", group)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.exception("live updates failed")


def _committed(update: Update) -> None:
    batch = _batch.get()
    if batch is None:
        _send([update])
        return
    if not batch.updates:
        batch.since = time.monotonic()
    batch.updates.append(update)
    if time.monotonic() - batch.since >= batch.seconds:
        updates, batch.updates = batch.updates, []
        _send(updates)


@contextmanager
def batched(*, seconds: float = 0.5) -> Iterator[None]:
    """Send the updates that commit inside the block together: at its end, or as one commits after the oldest
    waited `seconds` (so a slow batch still shows its progress)."""
    batch = _Batch(seconds=seconds)
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
        _send(batch.updates)


def publish(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send `{"event": ..., "data": ...}` to every socket in `group` once the transaction commits."""
    update: Update = (group, {"type": "live.message", "event": event, "data": payload})
    transaction.on_commit(lambda: _committed(update))


def notify_user(user_id: int, event: str, payload: dict[str, Any]) -> None:
    publish(user_group(user_id), event, payload)
