"""The live board: front-desk changes are announced to the clinic's "frontdesk" group over /ws/ once their transaction
commits (never when it rolls back), with ids and codes only; staff of the clinic may follow it, nobody else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from kabinet.core.models import Member
from kabinet.frontdesk import selectors
from kabinet.frontdesk.models import WaitlistOffer, WorklistItem
from kabinet.frontdesk.services import waitlist
from kabinet.frontdesk.services.arrivals import appointment_arrive
from kabinet.frontdesk.services.common import BOARD_CHANGED, board_group
from kabinet.frontdesk.services.worklists import AttemptInput, attempt_record, confirmations_generate
from kabinet.scheduling.services import appointment_cancel
from tests.fixtures.websockets import connect
from tests.frontdesk.conftest import Desk

# --- end to end over the websocket (transactions really commit) -------------------------------------------------


def _open_item(desk: Desk) -> WorklistItem:
    desk.book(desk.petya, 9)
    confirmations_generate(actor=None, organisation=desk.org, day=desk.call_day)
    return WorklistItem.objects.get()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_staff_follow_the_board_and_hear_an_outcome_once_it_commits(desk: Desk) -> None:
    item = await sync_to_async(_open_item)(desk)
    registrar = await connect(desk.registrar)
    doctor = await connect(desk.doctor_user)
    outsider = await connect(desk.outsider)  # staff of another clinic
    patient = await connect(desk.clinic.patient_user)
    subscribe = {"event": "subscribe", "data": {"topic": "frontdesk", "id": desk.org.pk}}
    for socket in (registrar, doctor, outsider, patient):
        await socket.send_json_to(subscribe)
    assert (await registrar.receive_json_from())["event"] == "subscribed"
    assert (await doctor.receive_json_from())["event"] == "subscribed"  # doctors read the lists
    assert (await outsider.receive_json_from())["event"] == "subscribe.refused"
    assert (await patient.receive_json_from())["event"] == "subscribe.refused"

    def confirm() -> None:
        attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="confirmed"), now=desk.call_at(11))

    await sync_to_async(confirm)()

    for socket in (registrar, doctor):
        message = await socket.receive_json_from(timeout=2)
        assert message == {
            "event": BOARD_CHANGED,
            "data": {
                "organisation": desk.org.pk,
                "what": "attempt",
                "kind": "confirmations",
                "location": desk.clinic.location.pk,
                "day": desk.call_day.isoformat(),
            },
        }
        assert "Petya" not in str(message)  # no personal data on the wire: the board fetches its panel
    assert await outsider.receive_nothing(timeout=0.3)
    assert await patient.receive_nothing(timeout=0.3)
    for socket in (registrar, doctor, outsider, patient):
        await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_a_membership_revoked_while_the_socket_is_open_refuses_the_next_subscription(desk: Desk) -> None:
    registrar = await connect(desk.registrar)
    subscribe = {"event": "subscribe", "data": {"topic": "frontdesk", "id": desk.org.pk}}
    await registrar.send_json_to(subscribe)
    assert (await registrar.receive_json_from())["event"] == "subscribed"

    await sync_to_async(Member.objects.filter(user=desk.registrar, organisation=desk.org).update)(is_active=False)
    await registrar.send_json_to(subscribe)  # the same socket, the same user object: its roles are read again
    assert (await registrar.receive_json_from())["event"] == "subscribe.refused"
    await registrar.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_nothing_is_announced_when_the_outcome_rolls_back(desk: Desk) -> None:
    item = await sync_to_async(_open_item)(desk)
    registrar = await connect(desk.registrar)
    await registrar.send_json_to({"event": "subscribe", "data": {"topic": "frontdesk", "id": desk.org.pk}})
    assert (await registrar.receive_json_from())["event"] == "subscribed"

    def confirm_then_fail() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="confirmed"), now=desk.call_at(11))
            raise RuntimeError("the surrounding work failed")

    await sync_to_async(confirm_then_fail)()
    assert await registrar.receive_nothing(timeout=0.5)
    assert await sync_to_async(lambda: WorklistItem.objects.get(pk=item.pk).state)() == "open"
    await registrar.disconnect()


# --- which changes announce themselves (on-commit callbacks run by the test) -------------------------------------


@pytest.fixture
def board_inbox(desk: Desk, settings: Any) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The messages the clinic's board group receives: a channel of the test joined to it. On the in-memory layer
    whatever the run uses: each read here runs in a new event loop, which channels-redis's receive buffer refuses
    (the websocket tests above cover the Redis layer end to end)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    assert layer is not None
    channel = async_to_sync(layer.new_channel)()
    group = board_group(desk.org.pk)
    async_to_sync(layer.group_add)(group, channel)

    async def drain() -> list[dict[str, Any]]:
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=0.1))
            except TimeoutError:
                return received

    yield lambda: [m["data"] for m in async_to_sync(drain)() if m["event"] == BOARD_CHANGED]
    async_to_sync(layer.group_discard)(group, channel)


@pytest.mark.django_db
def test_generating_the_list_and_each_outcome_announce_the_board(
    desk: Desk, board_inbox: Callable[[], list[dict[str, Any]]], django_capture_on_commit_callbacks: Any
) -> None:
    desk.book(desk.petya, 9)
    with django_capture_on_commit_callbacks(execute=True):
        confirmations_generate(actor=desk.registrar, organisation=desk.org, day=desk.call_day)
    assert [(m["what"], m["kind"]) for m in board_inbox()] == [("generated", "confirmations")]
    with django_capture_on_commit_callbacks(execute=True):
        confirmations_generate(actor=desk.registrar, organisation=desk.org, day=desk.call_day)
    assert board_inbox() == []  # nothing changed, nothing said

    item = WorklistItem.objects.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="no_answer"), now=desk.call_at(11))
        assert board_inbox() == []  # not before the commit
    assert callbacks
    assert [m["what"] for m in board_inbox()] == ["attempt"]


@pytest.mark.django_db
def test_an_arrival_and_a_waiting_list_offer_taken_through_the_link_announce_the_board(
    desk: Desk, board_inbox: Callable[[], list[dict[str, Any]]], django_capture_on_commit_callbacks: Any
) -> None:
    visit = desk.book(desk.petya, 10)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(10, 7))
    assert [(m["what"], m["location"]) for m in board_inbox()] == [("arrived", desk.clinic.location.pk)]
    board = selectors.board(user=desk.registrar, organisation=desk.org, day=desk.visit_day)
    assert (board.arrived, board.arrived_late) == (1, 1)  # what the announcement makes the board show
    assert selectors.board(user=desk.registrar, organisation=desk.org, day=desk.call_day).arrived == 0

    other = desk.book(desk.anna, 11)
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.waitlist_add(actor=desk.registrar, patient=desk.ivan, service=desk.clinic.service)
    assert [m["what"] for m in board_inbox()] == ["waitlist_added"]
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(actor=desk.registrar, appointment=other, reason_id=desk.clinic.cancel_reason.pk)
    assert "offered" in [m["what"] for m in board_inbox()]

    offer = WaitlistOffer.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.waitlist_offer_accept(offer=offer, actor=None, via_link=True)
    assert "offer_accepted" in [m["what"] for m in board_inbox()]
