"""Live conversations over /ws/: participants follow the topic "conversation", strangers are refused; messages,
read receipts and the contract's end arrive after the commit; a reconnecting client catches up from the last id it
has and receives nothing twice."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.test import Client

from kabinet.consultations import services
from tests.consultations.conftest import Consult
from tests.factories import PASSWORD
from tests.fixtures.websockets import connect

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_close_thread_connections"),
]


async def subscribe(socket: WebsocketCommunicator, conversation_id: int) -> str:
    await socket.send_json_to({"event": "subscribe", "data": {"topic": "conversation", "id": conversation_id}})
    return str((await socket.receive_json_from(timeout=2))["event"])


async def send(user: Any, consult: Consult, text: str) -> int:
    message = await sync_to_async(services.message_send)(actor=user, conversation=consult.conversation, text=text)
    return int(message.pk)


def _fetch_after(user: Any, conversation_id: int, after: int) -> list[int]:
    client = Client()
    assert client.login(username=user.email, password=PASSWORD)
    response = client.get(f"/api/v1/conversations/{conversation_id}/messages", {"after": after})
    assert response.status_code == 200
    return [m["id"] for m in response.json()]


async def test_participants_follow_the_conversation_and_strangers_are_refused(consult: Consult) -> None:
    doctor = await connect(consult.doctor_user)
    patient = await connect(consult.patient_user)
    admin = await connect(consult.admin)
    assert await subscribe(doctor, consult.conversation.pk) == "subscribed"
    assert await subscribe(patient, consult.conversation.pk) == "subscribed"
    assert await subscribe(admin, consult.conversation.pk) == "subscribed"
    for stranger in (consult.other_doctor_user, consult.other_patient_user, consult.outsider):
        socket = await connect(stranger)
        assert await subscribe(socket, consult.conversation.pk) == "subscribe.refused"
        await socket.disconnect()

    message_id = await send(consult.patient_user, consult, "Is the swelling normal?")
    expected = {
        "event": "consultations.message",
        "data": {"conversation": consult.conversation.pk, "message": message_id, "side": "patient", "kind": "text"},
    }
    for socket in (doctor, patient, admin):
        assert await socket.receive_json_from(timeout=2) == expected
    # The event carries ids only: the text is read through the permission-checked, audited views.
    for socket in (doctor, patient, admin):
        await socket.disconnect()


async def test_read_receipts_reach_the_writer(consult: Consult) -> None:
    patient = await connect(consult.patient_user)
    await subscribe(patient, consult.conversation.pk)
    message_id = await send(consult.patient_user, consult, "Hello")
    await patient.receive_json_from(timeout=2)
    await sync_to_async(services.conversation_mark_read)(actor=consult.doctor_user, conversation=consult.conversation)
    assert await patient.receive_json_from(timeout=2) == {
        "event": "consultations.read",
        "data": {"conversation": consult.conversation.pk, "side": "patient", "up_to": message_id},
    }
    await patient.disconnect()


async def test_a_reconnecting_client_catches_up_once(consult: Consult) -> None:
    doctor = await connect(consult.doctor_user)
    await subscribe(doctor, consult.conversation.pk)
    first = await send(consult.patient_user, consult, "one")
    assert (await doctor.receive_json_from(timeout=2))["data"]["message"] == first
    last_seen = first
    await doctor.disconnect()

    missed = [await send(consult.patient_user, consult, "two"), await send(consult.patient_user, consult, "three")]

    doctor = await connect(consult.doctor_user)
    assert await subscribe(doctor, consult.conversation.pk) == "subscribed"
    # On "subscribed" the page asks for what came after the last message it shows.
    fetched = await sync_to_async(_fetch_after)(consult.doctor_user, consult.conversation.pk, last_seen)
    assert fetched == missed
    assert await doctor.receive_nothing(timeout=0.3)  # nothing missed is pushed again

    fourth = await send(consult.doctor_user, consult, "four")
    assert (await doctor.receive_json_from(timeout=2))["data"]["message"] == fourth
    assert await doctor.receive_nothing(timeout=0.3)
    assert await sync_to_async(_fetch_after)(consult.doctor_user, consult.conversation.pk, missed[-1]) == [fourth]
    await doctor.disconnect()


async def test_the_end_of_the_contract_is_announced_live(consult: Consult) -> None:
    patient = await connect(consult.patient_user)
    await subscribe(patient, consult.conversation.pk)
    await sync_to_async(services.contract_end)(actor=consult.admin, contract=consult.contract)
    event = await patient.receive_json_from(timeout=2)
    assert event["event"] == "consultations.contract"
    assert event["data"]["status"] == "ended"
    await patient.disconnect()
