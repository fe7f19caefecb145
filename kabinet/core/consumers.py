"""The authenticated websocket at /ws/: joins the user's own group; other apps add group subscriptions."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from kabinet.core import permissions, realtime
from kabinet.core.realtime import user_group

UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=UNAUTHENTICATED)
            return
        self.groups_joined = [user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "hello", "data": {"user": user.pk}})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        event, data = content.get("event"), content.get("data") or {}
        if event == "ping":
            await self.send_json({"event": "pong", "data": {}})
        elif event == "subscribe" and isinstance(data, dict):
            await self._subscribe(str(data.get("topic", "")), data.get("id"))

    async def _subscribe(self, topic: str, object_id: Any) -> None:
        """Join a topic's group (e.g. one location's calendar) if the topic's owner says the user may."""
        try:
            object_id = int(object_id)
        except (TypeError, ValueError):
            object_id = None
        group = None
        if object_id is not None:
            group = await database_sync_to_async(self._group_for)(topic, object_id)
        if group is None:
            await self.send_json({"event": "subscribe.refused", "data": {"topic": topic, "id": object_id}})
            return
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.send_json({"event": "subscribed", "data": {"topic": topic, "id": object_id}})

    def _group_for(self, topic: str, object_id: int) -> str | None:
        user = self.scope["user"]
        # The socket's user object lives as long as the socket (hours): each subscription asks for the roles as
        # they are now, so a membership or role revoked meanwhile counts at once.
        permissions.forget_roles(user)
        return realtime.group_for(user, topic, object_id)

    async def live_message(self, message: dict[str, Any]) -> None:
        await self.send_json({"event": message["event"], "data": message["data"]})
