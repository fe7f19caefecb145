"""Authenticated websockets at /ws/: anonymous sockets are closed; a user receives their own notifications only."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.db import transaction

from kabinet.asgi import application
from kabinet.core.consumers import UNAUTHENTICATED
from kabinet.core.realtime import notify_user
from tests.fixtures.websockets import HEADERS, session_cookie

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_close_thread_connections"),
]


def _socket(cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = list(HEADERS)
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/", headers=headers)


def _notify(user_id: int, text: str) -> None:
    with transaction.atomic():
        notify_user(user_id, "notification", {"text": text})


async def test_anonymous_socket_is_closed() -> None:
    socket = _socket()
    connected, code = await socket.connect()
    assert not connected
    assert code == UNAUTHENTICATED
    await socket.disconnect()  # the server's part after a close: the consumer stops and leaves the channel layer


async def test_user_receives_own_notification_after_commit_and_not_others(make_user) -> None:
    alice = await sync_to_async(make_user)()
    bob = await sync_to_async(make_user)()
    alice_socket = _socket(await sync_to_async(session_cookie)(alice))
    bob_socket = _socket(await sync_to_async(session_cookie)(bob))
    assert (await alice_socket.connect())[0]
    assert (await bob_socket.connect())[0]
    assert (await alice_socket.receive_json_from())["event"] == "hello"
    assert (await bob_socket.receive_json_from())["event"] == "hello"

    await sync_to_async(_notify)(alice.pk, "Your visit is confirmed")

    assert await alice_socket.receive_json_from(timeout=2) == {
        "event": "notification",
        "data": {"text": "Your visit is confirmed"},
    }
    assert await bob_socket.receive_nothing(timeout=0.3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_nothing_is_sent_when_the_transaction_rolls_back(make_user) -> None:
    alice = await sync_to_async(make_user)()
    socket = _socket(await sync_to_async(session_cookie)(alice))
    assert (await socket.connect())[0]
    await socket.receive_json_from()

    def rolled_back() -> None:
        try:
            with transaction.atomic():
                notify_user(alice.pk, "notification", {"text": "never"})
                raise RuntimeError("abort")
        except RuntimeError:
            pass

    await sync_to_async(rolled_back)()
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_socket_answers_ping(make_user) -> None:
    alice = await sync_to_async(make_user)()
    socket = _socket(await sync_to_async(session_cookie)(alice))
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await socket.send_json_to({"event": "ping"})
    assert (await socket.receive_json_from())["event"] == "pong"
    await socket.disconnect()
