"""The live timeline over /ws/: staff of the clinic subscribe to a patient and hear of new entries; others are
refused."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from kabinet.patients import services
from tests.fixtures.websockets import connect

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_close_thread_connections"),
]


async def test_staff_follow_a_patients_timeline_and_others_are_refused(people) -> None:
    nurse = await connect(people.nurse)
    outsider = await connect(people.outsider)
    patient = await connect(people.anna_user)
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
