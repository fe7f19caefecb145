"""The signalling socket of a video call at /ws/video/<call id>/: the two browsers exchange their WebRTC offer,
answer and network candidates through it (the media then flows between them, or through TURN).

Only the call's patient side and the doctor / care team connect, while the call is open; each message is relayed
to the others in the call and never back to its sender. Messages are small JSON objects of known types.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from kabinet.consultations import selectors

UNAUTHENTICATED = 4401
REFUSED = 4403
RELAYED = frozenset({"offer", "answer", "candidate", "here", "bye"})
MAX_MESSAGE = 64 * 1024


class VideoSignallingConsumer(AsyncJsonWebsocketConsumer):
    group = ""
    side = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=UNAUTHENTICATED)
            return
        call_id = int(self.scope["url_route"]["kwargs"]["call_id"])
        side = await database_sync_to_async(selectors.video_call_side)(user, call_id)
        if side is None:
            await self.close(code=REFUSED)
            return
        self.group, self.side = f"video.{call_id}", side
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "welcome", "side": side})
        await self._relay({"type": "peer-joined", "side": side})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self._relay({"type": "peer-left", "side": self.side})
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if not text_data or len(text_data) > MAX_MESSAGE:
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            return
        if isinstance(content, dict) and content.get("type") in RELAYED:
            await self._relay({"type": content["type"], "side": self.side, "data": content.get("data")})

    async def _relay(self, payload: dict[str, Any]) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "video.relay", "sender": self.channel_name, "payload": payload}
        )

    async def video_relay(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.channel_name:
            await self.send_json(event["payload"])
