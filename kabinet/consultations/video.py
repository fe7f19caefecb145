"""What a browser needs to join a video call: the STUN/TURN servers from settings, with short-lived coturn
credentials (the "use-auth-secret" REST scheme: username = "<expiry>:<user id>", credential = base64 HMAC-SHA1 of
the username with VIDEO_TURN_SECRET) for TURN servers configured without a credential."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

TURN_CREDENTIAL_SECONDS = 4 * 3600


def _is_turn(urls: Any) -> bool:
    values = urls if isinstance(urls, list) else [urls]
    return any(str(url).startswith(("turn:", "turns:")) for url in values)


def ice_servers(user_id: int, now: float | None = None) -> list[dict[str, Any]]:
    secret = settings.VIDEO_TURN_SECRET
    servers = []
    for entry in settings.VIDEO_ICE_SERVERS:
        server = dict(entry)
        if secret and _is_turn(server.get("urls")) and not server.get("credential"):
            username = f"{int(now or time.time()) + TURN_CREDENTIAL_SECONDS}:{user_id}"
            digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
            server.update(username=username, credential=base64.b64encode(digest).decode())
        servers.append(server)
    return servers
