"""The recall diary (calls planned when a visit is completed) and the passive list (the periodic job)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from kabinet.audit.models import AuditEvent
from kabinet.frontdesk import tasks
from kabinet.frontdesk.models import FrontDeskPolicy, RecallRule, WorklistItem
from kabinet.frontdesk.services import recall
from kabinet.frontdesk.services.worklists import AttemptInput, attempt_record
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book, appointment_set_status, shift_create
from tests.factories import PatientFactory
from tests.frontdesk.conftest import Desk

pytestmark = pytest.mark.django_db
Status = Appointment.Status


def complete(desk: Desk, visit: Appointment) -> None:
    appointment_set_status(actor=desk.registrar, appointment=visit, status=Status.ARRIVED)
    appointment_set_status(actor=desk.doctor_user, appointment=visit, status=Status.COMPLETED)


def rules(desk: Desk) -> tuple[RecallRule, RecallRule]:
    call = RecallRule.objects.create(
        organisation=desk.org,
        service=desk.clinic.service,
        kind=RecallRule.Kind.CALL,
        after_days=1,
        name="Check-up call the next day",
        instructions="Ask how the skin feels.",
    )
    control = RecallRule.objects.create(
        organisation=desk.org,
        service=desk.clinic.service,
        kind=RecallRule.Kind.VISIT,
        after_days=182,
        name="Control visit in 6 months",
    )
    RecallRule.objects.create(
        organisation=desk.org, service=desk.clinic.long_service, after_days=3, name="Other service"
    )
    return call, control


def test_completing_a_visit_plans_the_calls_of_its_service_rules_once(desk: Desk) -> None:
    call, control = rules(desk)
    visit = desk.book(desk.petya, 10)
    complete(desk, visit)
    today = timezone.localdate(timezone.now(), desk.clinic.location.zone)
    items = {i.recall_rule: i for i in WorklistItem.objects.filter(kind=WorklistItem.Kind.RECALL)}
    assert set(items) == {call, control}
    assert items[call].day == today + timedelta(days=1)
    assert items[control].day == today + timedelta(days=182)
    assert (items[call].patient, items[call].appointment, items[call].note) == (
        desk.petya,
        visit,
        "Ask how the skin feels.",
    )
    assert recall.recall_plan(appointment=visit, actor=None) == []  # once per rule and visit
    assert TimelineEntry.objects.filter(patient=desk.petya, title__contains="Check-up call the next day").exists()
    assert AuditEvent.objects.filter(action="recall.planned").count() == 2


def test_each_recall_call_is_logged_with_its_note(desk: Desk) -> None:
    rules(desk)
    visit = desk.book(desk.petya, 10)
    complete(desk, visit)
    item = WorklistItem.objects.get(recall_rule__kind=RecallRule.Kind.CALL)
    attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="no_answer"))
    item.refresh_from_db()
    assert item.state == "open" and item.next_call_at is not None
    attempt_record(actor=desk.operator, item=item, data=AttemptInput(outcome="confirmed", note="all fine, no redness"))
    item.refresh_from_db()
    assert (item.state, item.outcome, item.attempts) == ("closed", "confirmed", 2)
    entry = TimelineEntry.objects.filter(patient=desk.petya, title="Recall call: confirmed").get()
    assert entry.body == "all fine, no redness"


def test_a_recall_call_back_moves_the_call_to_that_day(desk: Desk) -> None:
    rules(desk)
    visit = desk.book(desk.petya, 10)
    complete(desk, visit)
    item = WorklistItem.objects.get(recall_rule__kind=RecallRule.Kind.CALL)
    later = datetime.combine(item.day + timedelta(days=5), datetime.min.time(), tzinfo=desk.clinic.location.zone)
    attempt_record(
        actor=desk.operator,
        item=item,
        data=AttemptInput(outcome="call_back", callback_at=later + timedelta(hours=11)),
    )
    item.refresh_from_db()
    assert (item.state, item.day) == ("open", later.date())


def test_a_control_visit_call_closes_itself_when_the_patient_has_booked(desk: Desk) -> None:
    _call, control = rules(desk)
    visit = desk.book(desk.petya, 10)
    complete(desk, visit)
    item = WorklistItem.objects.get(recall_rule=control)
    assert recall.recall_settle(organisation=desk.org, day=item.day) == 0
    desk.book(desk.petya, 12)  # booked meanwhile
    assert recall.recall_settle(organisation=desk.org, day=item.day) == 1
    item.refresh_from_db()
    assert (item.state, item.outcome) == ("closed", "obsolete")


def _past_visit(desk: Desk, patient: Patient, days_ago: int, status: str = Status.COMPLETED) -> None:
    start = timezone.now() - timedelta(days=days_ago)
    Appointment.objects.create(
        organisation=desk.org,
        location=desk.clinic.location,
        practitioner=desk.clinic.doctor,
        patient=patient,
        service=desk.clinic.service,
        start=start,
        end=start + timedelta(minutes=30),
        busy_start=start,
        busy_end=start + timedelta(minutes=30),
        status=status,
    )


def test_patients_without_visits_for_months_move_to_the_passive_list(desk: Desk) -> None:
    FrontDeskPolicy.objects.create(organisation=desk.org, passive_after_months=6)
    long_ago = timezone.now() - timedelta(days=400)
    old = PatientFactory.create(organisation=desk.org, family_name="Old")
    recent = PatientFactory.create(organisation=desk.org, family_name="Recent")
    upcoming = PatientFactory.create(organisation=desk.org, family_name="Upcoming")
    refused = PatientFactory.create(organisation=desk.org, family_name="Refused", status=Patient.Status.REFUSAL)
    no_show_only = PatientFactory.create(organisation=desk.org, family_name="NoShow")
    newcomer = PatientFactory.create(organisation=desk.org, family_name="New")
    Patient.objects.filter(pk__in=[old.pk, recent.pk, upcoming.pk, refused.pk, no_show_only.pk]).update(
        created_at=long_ago
    )
    _past_visit(desk, old, 300)
    _past_visit(desk, recent, 30)
    _past_visit(desk, upcoming, 310)
    desk.book(upcoming, 10)
    _past_visit(desk, no_show_only, 20, status=Status.NO_SHOW)

    result = tasks.passive_list_refresh.call()

    statuses = dict(Patient.objects.filter(organisation=desk.org).values_list("family_name", "status"))
    assert statuses["Old"] == "passive"
    assert statuses["NoShow"] == "passive"  # a no-show is not a visit
    assert (statuses["Recent"], statuses["Upcoming"], statuses["New"]) == ("active", "active", "active")
    assert statuses["Refused"] == "refusal"
    assert result == {"moved": 2}
    assert tasks.passive_list_refresh.call() == {"moved": 0}  # idempotent
    assert AuditEvent.objects.filter(action="patient.status_changed", actor=None, patient_id=old.pk).exists()
    assert TimelineEntry.objects.filter(patient=old, kind=TimelineEntry.Kind.STATUS).exists()
    assert newcomer.pk


def test_the_clock_job_lists_tomorrows_visits_for_todays_calls(desk: Desk) -> None:
    zone = desk.clinic.location.zone
    today = timezone.localdate(timezone.now(), zone)
    tomorrow = today + timedelta(days=1)
    shift_create(
        actor=None,
        practitioner=desk.clinic.other_doctor,
        location=desk.clinic.location,
        day=tomorrow,
        start_time=time(13),  # after Dr Boris's fixture shift, which may fall on the same day near midnight
        end_time=time(18),
    )
    visit = appointment_book(
        actor=desk.registrar,
        patient=desk.anna,
        practitioner=desk.clinic.other_doctor,
        service=desk.clinic.service,
        start=datetime.combine(tomorrow, time(17), tzinfo=zone),
        location=desk.clinic.location,
    )
    totals = tasks.worklists_refresh.call()
    assert totals["confirmations"] == 1
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.CONFIRMATION)
    assert (item.appointment, item.day) == (visit, today)
    assert tasks.worklists_refresh.call()["confirmations"] == 0
