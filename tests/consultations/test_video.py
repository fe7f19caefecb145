"""Video consultations: who starts and joins a call, the signalling socket that relays offers, answers and
candidates between the two sides only, and the STUN/TURN servers handed to the browsers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator

from kabinet.asgi import application
from kabinet.consultations import services, video
from kabinet.consultations.consumers import REFUSED
from kabinet.consultations.models import VideoCall
from kabinet.core.exceptions import NotAllowed, NotFound
from kabinet.notifications.models import Message as Outbox
from tests.consultations.conftest import Consult
from tests.fixtures.websockets import HEADERS, session_cookie


@pytest.mark.django_db
def test_the_doctor_starts_a_call_and_the_patient_is_called(consult: Consult) -> None:
    call = services.video_call_start(actor=consult.doctor_user, conversation=consult.conversation)
    assert call.is_open
    assert Outbox.objects.filter(idempotency_key__startswith=f"consult:{consult.conversation.pk}:video:{call.pk}")
    again = services.video_call_start(actor=consult.nurse, conversation=consult.conversation)
    call.refresh_from_db()
    assert not call.is_open and again.is_open  # one open call per conversation
    with pytest.raises(NotAllowed):
        services.video_call_start(actor=consult.patient_user, conversation=consult.conversation)
    with pytest.raises(NotAllowed):
        services.video_call_start(actor=consult.admin, conversation=consult.conversation)
    with pytest.raises(NotFound):
        services.video_call_start(actor=consult.other_doctor_user, conversation=consult.conversation)
    services.video_call_end(actor=consult.patient_user, call=again)
    services.contract_end(actor=consult.admin, contract=consult.contract)
    with pytest.raises(NotAllowed):
        services.video_call_start(actor=consult.doctor_user, conversation=consult.conversation)


@pytest.mark.django_db
def test_the_call_page_is_for_the_two_sides_only(consult: Consult, login_client: Any) -> None:
    doctor = login_client(consult.doctor_user)
    started = doctor.post(f"/consultations/c/{consult.conversation.pk}/video/")
    call = VideoCall.objects.get()
    assert started["Location"] == f"/consultations/video/{call.pk}/"
    page = doctor.get(started["Location"])
    assert page.status_code == 200 and 'id="ice-servers"' in page.content.decode()
    patient = login_client(consult.patient_user)
    conversation_page = patient.get(f"/my/consultations/{consult.conversation.pk}/").content.decode()
    assert f'href="/my/consultations/video/{call.pk}/"' in conversation_page
    assert patient.get(f"/my/consultations/video/{call.pk}/").status_code == 200
    for stranger in (consult.other_patient_user, consult.other_doctor_user, consult.admin, consult.outsider):
        assert login_client(stranger).get(f"/consultations/video/{call.pk}/").status_code == 404
    ended = patient.post(f"/consultations/video/{call.pk}/end/")
    assert ended["Location"] == f"/my/consultations/{consult.conversation.pk}/"
    call.refresh_from_db()
    assert not call.is_open


def test_turn_servers_get_short_lived_credentials(settings: Any) -> None:
    settings.VIDEO_ICE_SERVERS = [{"urls": "stun:turn.example.org:3478"}, {"urls": ["turn:turn.example.org:3478"]}]
    settings.VIDEO_TURN_SECRET = "s3cret"
    stun, turn = video.ice_servers(7, now=1_000_000)
    assert stun == {"urls": "stun:turn.example.org:3478"}
    assert turn["username"] == f"{1_000_000 + video.TURN_CREDENTIAL_SECONDS}:7"
    expected = base64.b64encode(hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected
    settings.VIDEO_TURN_SECRET = ""
    assert video.ice_servers(7)[1] == {"urls": ["turn:turn.example.org:3478"]}


# --- the signalling socket ------------------------------------------------------------------------------------------


async def _socket(user: Any, call_id: int) -> tuple[WebsocketCommunicator, bool, int | None]:
    cookie = await sync_to_async(session_cookie)(user)
    headers = [*HEADERS, (b"cookie", cookie)]
    socket = WebsocketCommunicator(application, f"/ws/video/{call_id}/", headers=headers)
    connected, code = await socket.connect()
    if not connected:
        await socket.disconnect()  # the server's part after a refused handshake: the consumer stops
    return socket, connected, code


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_signalling_relays_between_the_two_sides_only(consult: Consult) -> None:
    call = await sync_to_async(services.video_call_start)(actor=consult.doctor_user, conversation=consult.conversation)
    doctor, connected, _ = await _socket(consult.doctor_user, call.pk)
    assert connected
    assert await doctor.receive_json_from() == {"type": "welcome", "side": "staff"}
    patient, connected, _ = await _socket(consult.patient_user, call.pk)
    assert connected
    assert await patient.receive_json_from() == {"type": "welcome", "side": "patient"}
    assert await doctor.receive_json_from(timeout=2) == {"type": "peer-joined", "side": "patient"}

    await doctor.send_json_to({"type": "offer", "data": {"type": "offer", "sdp": "v=0"}})
    assert await patient.receive_json_from(timeout=2) == {
        "type": "offer",
        "side": "staff",
        "data": {"type": "offer", "sdp": "v=0"},
    }
    assert await doctor.receive_nothing(timeout=0.2)  # never echoed to the sender
    await patient.send_json_to({"type": "shell", "data": "rm -rf"})  # unknown types are dropped
    assert await doctor.receive_nothing(timeout=0.2)

    for stranger in (consult.other_doctor_user, consult.other_patient_user, consult.admin, consult.outsider):
        _refused, connected, code = await _socket(stranger, call.pk)
        assert not connected and code == REFUSED

    await patient.disconnect()
    assert await doctor.receive_json_from(timeout=2) == {"type": "peer-left", "side": "patient"}
    await doctor.disconnect()
    await sync_to_async(services.video_call_end)(actor=consult.doctor_user, call=call)
    _socket_after, connected, code = await _socket(consult.doctor_user, call.pk)
    assert not connected and code == REFUSED
