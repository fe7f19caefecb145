"""The live timeline over /ws/: staff of the clinic subscribe to a patient and hear of new entries; others are
refused."""

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
from django.db import connections

from kabinet.asgi import application
from kabinet.patients import services

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def _close_thread_connections() -> AsyncIterator[None]:
    yield
    await sync_to_async(connections.close_all)()


def _cookie(user: Any) -> bytes:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "kabinet.accounts.backends.EmailOrPhoneBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


async def _connect(user: Any) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    headers.append((b"cookie", await sync_to_async(_cookie)(user)))
    socket = WebsocketCommunicator(application, "/ws/", headers=headers)
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from())["event"] == "hello"
    return socket


async def test_staff_follow_a_patients_timeline_and_others_are_refused(people) -> None:
    nurse = await _connect(people.nurse)
    outsider = await _connect(people.outsider)
    patient = await _connect(people.anna_user)
    subscribe = {"event": "subscribe", "data": {"topic": "patient", "id": people.anna.pk}}
    for socket in (nurse, outsider, patient):
        await socket.send_json_to(subscribe)
    assert (await nurse.receive_json_from())["event"] == "subscribed"
    assert (await outsider.receive_json_from())["event"] == "subscribe.refused"
    assert (await patient.receive_json_from())["event"] == "subscribe.refused"

    note = await sync_to_async(services.note_add)(actor=people.registrar, patient=people.anna, text="Call at 5")

    message = await nurse.receive_json_from(timeout=2)
    assert message["event"] == "patient.timeline"
    assert message["data"]["patient"] == people.anna.pk and message["data"]["kind"] == "note"
    assert "Call at 5" not in str(message)  # ids only: the page fetches the entry through the audited view
    assert note.pk
    assert await outsider.receive_nothing(timeout=0.3)
    for socket in (nurse, outsider, patient):
        await socket.disconnect()
