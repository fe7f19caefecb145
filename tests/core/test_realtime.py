"""Authenticated websockets at /ws/: anonymous sockets are closed; a user receives their own notifications only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections, transaction

from kabinet.asgi import application
from kabinet.core.consumers import UNAUTHENTICATED
from kabinet.core.realtime import notify_user

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def _close_thread_connections() -> AsyncIterator[None]:
    """sync_to_async runs ORM calls in a worker thread; close its connection so the test database can be dropped."""
    yield
    await sync_to_async(connections.close_all)()


def _session_cookie(user: Any) -> bytes:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "kabinet.accounts.backends.EmailOrPhoneBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


def _socket(cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
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
    alice_socket = _socket(await sync_to_async(_session_cookie)(alice))
    bob_socket = _socket(await sync_to_async(_session_cookie)(bob))
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
    socket = _socket(await sync_to_async(_session_cookie)(alice))
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
    socket = _socket(await sync_to_async(_session_cookie)(alice))
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await socket.send_json_to({"event": "ping"})
    assert (await socket.receive_json_from())["event"] == "pong"
    await socket.disconnect()
