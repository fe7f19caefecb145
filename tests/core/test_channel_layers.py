"""The Redis channel layer under a burst: more simultaneous operations than the pool has connections wait for one
instead of failing (redis-py 8's plain pool raises MaxConnectionsError past its size). Needs the local Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from channels_redis.core import RedisChannelLayer
from redis.exceptions import MaxConnectionsError

from kabinet.core.channel_layers import WaitingRedisChannelLayer

URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
HOST = {"address": URL, "max_connections": 2, "timeout": 10, "socket_timeout": 30, "socket_connect_timeout": 5}


async def _burst(layer: RedisChannelLayer, sockets: int) -> None:
    group = f"burst-{uuid.uuid4().hex}"
    channels = [await layer.new_channel() for _ in range(sockets)]
    try:
        await asyncio.gather(*(layer.group_add(group, channel) for channel in channels))
        await layer.group_send(group, {"type": "live.message", "event": "ping", "data": {}})
        received = await asyncio.gather(*(layer.receive(channel) for channel in channels))
        assert {m["event"] for m in received} == {"ping"}
        await asyncio.gather(*(layer.group_discard(group, channel) for channel in channels))
    finally:
        await layer.flush()


def test_a_burst_larger_than_the_pool_waits_for_connections() -> None:
    asyncio.run(_burst(WaitingRedisChannelLayer(hosts=[HOST], prefix=f"t{uuid.uuid4().hex[:8]}"), 50))


def test_the_plain_pool_fails_the_same_burst() -> None:
    """What the layer is for: channels-redis's own pool refuses the burst."""
    plain = {k: v for k, v in HOST.items() if k != "timeout"}
    with pytest.raises(MaxConnectionsError):
        asyncio.run(_burst(RedisChannelLayer(hosts=[plain], prefix=f"t{uuid.uuid4().hex[:8]}"), 50))
