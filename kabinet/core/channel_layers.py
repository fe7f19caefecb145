"""The Redis channel layer kabinet runs with when REDIS_URL is set.

channels-redis builds redis-py's plain connection pool, which in redis-py 8 holds 100 connections and raises
MaxConnectionsError beyond them: when a burst of sockets connects or disconnects at once (staff opening the calendar
at 08:00, a server restart dropping every socket), the sockets past the pool's size fail with a 500 or lose their
group membership. This layer gives each host a pool that waits (up to `timeout` seconds) for a free connection.
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool


class WaitingRedisChannelLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(host.pop("address"), **host)
