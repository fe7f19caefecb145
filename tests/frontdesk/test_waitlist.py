"""The waiting list: freed times offered to the entries they suit, booked by the first to accept (through the signed
link or by staff), never twice; call-backs come back as worklist items."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed, NotFound
from kabinet.frontdesk.models import FrontDeskPolicy, WaitlistEntry, WaitlistOffer, WorklistItem
from kabinet.frontdesk.services import waitlist
from kabinet.frontdesk.services.worklists import AttemptInput, attempt_record
from kabinet.notifications.models import Message
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.scheduling.availability import SlotTaken
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_cancel, appointment_move
from tests.frontdesk.conftest import Desk

Offer = WaitlistOffer.State


def wait(desk: Desk, patient: Patient, **wishes: Any) -> WaitlistEntry:
    return waitlist.waitlist_add(actor=desk.registrar, patient=patient, service=desk.clinic.service, **wishes)


def cancel(desk: Desk, appointment: Appointment, actor: Any = None) -> None:
    appointment_cancel(actor=actor or desk.registrar, appointment=appointment, reason_id=desk.clinic.cancel_reason.pk)


@pytest.mark.django_db
def test_a_cancelled_visit_is_offered_to_the_entries_it_suits(desk: Desk, sms: None) -> None:
    visit = desk.book(desk.petya, 10)
    suits = wait(desk, desk.anna, practitioners=[desk.clinic.doctor], note="any morning")
    other_doctor = wait(desk, desk.ivan, practitioners=[desk.clinic.other_doctor])
    late_only = wait(desk, desk.ivan, time_from=time(12))
    wrong_day = wait(desk, desk.ivan, weekdays=[(desk.visit_day.weekday() + 1) % 7])
    own = wait(desk, desk.petya)  # the patient who cancels is not offered their own time

    cancel(desk, visit)

    offer = WaitlistOffer.objects.get()
    assert offer.entry == suits
    assert (offer.start, offer.end, offer.practitioner, offer.state) == (
        desk.clinic.at(10),
        desk.clinic.at(10, 30),
        desk.clinic.doctor,
        "open",
    )
    assert offer.freed_by == visit
    assert not WaitlistOffer.objects.filter(entry__in=[other_doctor, late_only, wrong_day, own]).exists()
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.WAITLIST)
    assert (item.patient, item.offer, item.state) == (desk.anna, offer, "open")
    message = Message.objects.get(event="frontdesk.waitlist_offer")
    assert (message.patient, message.channel) == (desk.anna, "sms")
    token = message.body.split("/my/offers/")[1].split("/")[0]
    assert waitlist.offer_from_token(token) == offer  # the link in the SMS opens this offer
    assert TimelineEntry.objects.filter(patient=desk.anna, title__startswith="Freed time offered").exists()
    assert AuditEvent.objects.filter(action="waitlist.offer_created", patient_id=desk.anna.pk).exists()


@pytest.mark.django_db
def test_a_moved_visit_frees_its_old_time_and_clinics_may_keep_offers_off_the_phone(desk: Desk, sms: None) -> None:
    FrontDeskPolicy.objects.create(organisation=desk.org, offer_by_message=False)
    visit = desk.book(desk.petya, 10)
    entry = wait(desk, desk.anna)
    appointment_move(actor=desk.registrar, appointment=visit, start=desk.clinic.at(12))
    offer = WaitlistOffer.objects.get()
    assert (offer.entry, offer.start) == (entry, desk.clinic.at(10))
    assert WorklistItem.objects.filter(offer=offer).exists()  # staff still call
    assert not Message.objects.filter(event="frontdesk.waitlist_offer").exists()


@pytest.mark.django_db
def test_the_patient_books_the_offered_time_through_the_link(desk: Desk, client: Client, sms: None) -> None:
    visit = desk.book(desk.petya, 10)
    entry = wait(desk, desk.anna)
    rival_entry = wait(desk, desk.ivan)
    cancel(desk, visit)
    offer, rival = WaitlistOffer.objects.order_by("pk")
    url = waitlist.offer_url(offer).removeprefix("http://127.0.0.1:8000")

    page = client.get(url)  # looking changes nothing (link previews open it too)
    assert page.status_code == 200
    assert b"Book this time" in page.content
    assert not Appointment.objects.filter(patient=desk.anna).exists()

    done = client.post(url, {"action": "accept"})
    assert done.status_code == 200
    assert b"You are booked" in done.content
    booked = Appointment.objects.get(patient=desk.anna)
    assert (booked.start, booked.practitioner, booked.status, booked.source) == (
        desk.clinic.at(10),
        desk.clinic.doctor,
        Appointment.Status.SCHEDULED,
        Appointment.Source.ONLINE,
    )
    offer.refresh_from_db()
    rival.refresh_from_db()
    entry.refresh_from_db()
    rival_entry.refresh_from_db()
    assert (offer.state, offer.appointment) == ("accepted", booked)
    assert (entry.state, entry.appointment) == ("booked", booked)
    assert rival.state == "taken" and rival_entry.state == "waiting"
    items = dict(WorklistItem.objects.values_list("offer_id", "outcome"))
    assert items == {offer.pk: "booked", rival.pk: "obsolete"}

    rival_url = waitlist.offer_url(rival).removeprefix("http://127.0.0.1:8000")
    late = client.post(rival_url, {"action": "accept"})
    assert late.status_code == 409
    assert b"already been taken" in late.content
    assert Appointment.objects.filter(start=desk.clinic.at(10), status="scheduled").count() == 1


@pytest.mark.django_db
def test_a_lost_race_leaves_the_entry_waiting(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    entry = wait(desk, desk.anna)
    cancel(desk, visit)
    offer = WaitlistOffer.objects.get()
    desk.book(desk.ivan, 10)  # the registrar books the freed time for someone at the desk meanwhile
    with pytest.raises(SlotTaken):
        waitlist.waitlist_offer_accept(offer=offer, actor=None)
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert (offer.state, entry.state) == ("taken", "waiting")
    assert AuditEvent.objects.filter(action="waitlist.offer_lost").exists()
    assert WorklistItem.objects.get(offer=offer).state == "closed"


@pytest.mark.django_db
def test_staff_book_an_offer_for_the_patient_from_the_worklist(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    wait(desk, desk.anna)
    cancel(desk, visit)
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.WAITLIST)
    result = attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="confirmed"))
    item.refresh_from_db()
    assert result.error is None and result.appointment is not None
    assert result.appointment.patient == desk.anna
    assert result.appointment.source == Appointment.Source.STAFF
    assert (item.state, item.outcome) == ("closed", "confirmed")


@pytest.mark.django_db
def test_staff_are_told_when_the_offered_time_is_gone_and_the_outcome_is_kept(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    wait(desk, desk.anna)
    cancel(desk, visit)
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.WAITLIST)
    desk.book(desk.ivan, 10)
    result = attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="confirmed"))
    item.refresh_from_db()
    assert isinstance(result.error, SlotTaken)
    assert (item.state, item.outcome, item.attempts) == ("closed", "obsolete", 1)
    assert WaitlistEntry.objects.get().state == "waiting"


@pytest.mark.django_db
def test_declining_an_offer_keeps_the_patient_waiting(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    entry = wait(desk, desk.anna)
    cancel(desk, visit)
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.WAITLIST)
    attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="cancelled"))
    entry.refresh_from_db()
    assert WaitlistOffer.objects.get().state == "declined"
    assert entry.state == "waiting"


@pytest.mark.django_db
def test_expired_offers_are_refused_and_closed_by_the_job(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    wait(desk, desk.anna)
    cancel(desk, visit)
    offer = WaitlistOffer.objects.get()
    WaitlistOffer.objects.filter(pk=offer.pk).update(expires_at=offer.created_at - timedelta(minutes=1))
    with pytest.raises(Conflict) as caught:
        waitlist.waitlist_offer_accept(offer=offer, actor=None)
    assert caught.value.code == "offer_closed"
    offer.refresh_from_db()
    assert offer.state == "expired"
    assert not Appointment.objects.filter(patient=desk.anna).exists()


@pytest.mark.django_db
def test_a_forged_or_foreign_link_is_not_found(desk: Desk, client: Client) -> None:
    with pytest.raises(NotFound):
        waitlist.offer_from_token("42:1abc:forged")
    assert client.get("/my/offers/42:1abc:forged/").status_code == 404


@pytest.mark.django_db
def test_entries_are_checked(desk: Desk, other_org: Any) -> None:
    with pytest.raises(NotAllowed):
        waitlist.waitlist_add(actor=desk.doctor_user, patient=desk.anna, service=desk.clinic.service)
    with pytest.raises(Invalid) as caught:
        wait(desk, desk.anna, date_from=desk.visit_day, date_to=desk.visit_day - timedelta(days=1), weekdays=[9])
    assert {"date_to", "weekdays"} <= set(caught.value.errors)


@pytest.mark.django_db
def test_call_back_dates_bring_entries_back_to_the_worklist_once(desk: Desk) -> None:
    entry = wait(desk, desk.anna, callback_date=desk.call_day)
    wait(desk, desk.ivan, callback_date=desk.visit_day)
    assert waitlist.callbacks_generate(organisation=desk.org, day=desk.call_day) == 1
    assert waitlist.callbacks_generate(organisation=desk.org, day=desk.call_day) == 0
    item = WorklistItem.objects.get()
    assert (item.kind, item.waitlist_entry, item.day, item.patient) == ("waitlist", entry, desk.call_day, desk.anna)
    attempt_record(
        actor=desk.operator,
        item=item,
        data=AttemptInput(outcome="confirmed", callback_date=desk.visit_day + timedelta(days=14)),
    )
    entry.refresh_from_db()
    assert (entry.state, entry.callback_date) == ("waiting", desk.visit_day + timedelta(days=14))


# --- the race: two patients accept offers of the same freed time at once --------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_patients_accepting_the_same_time_at_once_get_exactly_one_booking(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    wait(desk, desk.anna)
    wait(desk, desk.ivan)
    cancel(desk, visit)
    offers = list(WaitlistOffer.objects.order_by("pk"))
    assert len(offers) == 2
    barrier = threading.Barrier(len(offers))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def accept(offer: WaitlistOffer) -> None:
        try:
            barrier.wait()
            waitlist.waitlist_offer_accept(offer=offer, actor=None)
            result = "booked"
        except SlotTaken:
            result = "taken"
        except Conflict:
            result = "closed"  # the winner closed this offer before the loser got to it
        except Exception as exc:  # asserted below
            result = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=accept, args=(offer,)) for offer in offers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert outcomes["booked"] == 1, outcomes
    assert outcomes["taken"] + outcomes["closed"] == 1, outcomes
    booked = Appointment.objects.filter(start=desk.clinic.at(10), status=Appointment.Status.SCHEDULED)
    assert booked.count() == 1
    states = Counter(WaitlistOffer.objects.values_list("state", flat=True))
    assert states == Counter({"accepted": 1, "taken": 1})
    entries = Counter(WaitlistEntry.objects.values_list("state", flat=True))
    assert entries == Counter({"booked": 1, "waiting": 1})
