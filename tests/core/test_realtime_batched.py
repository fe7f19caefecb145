"""Live updates published inside `realtime.batched()`: only committed ones go out, together at the end of the block
(or once the oldest has waited the block's `seconds`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from kabinet.core import realtime

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def _listener() -> Any:
    """A channel in the test's group. Each is read once: the Redis layer binds a channel's buffer to the event loop
    of its first read, and every `async_to_sync` call runs its own loop."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("batch-test", channel)

    async def drain() -> list[Any]:
        out: list[Any] = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=0.3)
            except TimeoutError:
                return out
            out.append(message["data"]["n"])

    return async_to_sync(drain)


def _publish(n: int) -> None:
    with transaction.atomic():
        realtime.publish("batch-test", "test", {"n": n})


def test_committed_updates_wait_for_the_end_of_the_block_and_rolled_back_ones_never_go() -> None:
    during, after = _listener(), _listener()
    with realtime.batched(seconds=60):
        _publish(1)
        with pytest.raises(Rollback), transaction.atomic():
            realtime.publish("batch-test", "test", {"n": 2})
            raise Rollback
        _publish(3)
        assert during() == []  # held until the block ends
    assert after() == [1, 3]
    outside = _listener()
    _publish(4)  # outside a block: at once
    assert outside() == [4]


def test_a_slow_block_sends_what_waited_longer_than_its_seconds() -> None:
    during = _listener()
    with realtime.batched(seconds=0.2):
        _publish(1)
        time.sleep(0.3)
        _publish(2)  # the oldest waited past 0.2 s: both go now
        assert during() == [1, 2]
        after = _listener()
        _publish(3)
    assert after() == [3]
