"""Video visits: an appointment of a video service gets a video call that its doctor (or a nurse of its location)
starts around the visit's time and the patient (or whoever acts for them) joins from /my/; the signalling socket
admits the two sides of the visit only."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from kabinet.accounts.models import User
from kabinet.audit.models import AuditEvent
from kabinet.consultations import services
from kabinet.consultations.consumers import REFUSED
from kabinet.consultations.models import VideoCall
from kabinet.core.exceptions import Invalid, NotAllowed, NotFound
from kabinet.core.models import Role
from kabinet.notifications.models import Message as Outbox
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment, Service
from kabinet.scheduling.services import appointment_book, appointment_cancel, appointment_set_status
from tests.consultations.test_video import _socket
from tests.factories import LocationFactory, UserFactory, member
from tests.fixtures.clinic import Clinic

Status = Appointment.Status


@dataclass
class Visits:
    clinic: Clinic
    video: Service
    nurse: User  # works at the visits' location
    far_nurse: User  # a nurse of the clinic at another location
    admin: User
    outsider: User

    def visit(self, start: datetime, patient: Patient | None = None, service: Service | None = None) -> Appointment:
        """A visit at any time (around now for the pages and sockets), written directly: no schedule needed."""
        end = start + timedelta(minutes=30)
        return Appointment.objects.create(
            organisation=self.clinic.org,
            location=self.clinic.location,
            practitioner=self.clinic.doctor,
            patient=patient or self.clinic.patient,
            service=service or self.video,
            start=start,
            end=end,
            busy_start=start,
            busy_end=end,
            status=Status.CONFIRMED,
        )

    def now_visit(self, patient: Patient | None = None) -> Appointment:
        return self.visit((timezone.now() - timedelta(minutes=5)).replace(microsecond=0), patient=patient)


@pytest.fixture
def visits(clinic: Clinic, admin_user: User, outsider: User) -> Visits:
    video = Service.objects.create(
        organisation=clinic.org, name="Video consultation 30 min", duration_minutes=30, is_video=True
    )
    video.practitioners.set([clinic.doctor, clinic.other_doctor])
    nurse = UserFactory.create(email="nina@example.org", full_name="Nina Nurse")
    member(nurse, clinic.org, Role.NURSE).locations.add(clinic.location)
    far_nurse = UserFactory.create(email="fiona@example.org", full_name="Fiona Nurse")
    elsewhere = LocationFactory.create(organisation=clinic.org, name="Plovdiv")
    member(far_nurse, clinic.org, Role.NURSE).locations.add(elsewhere)
    return Visits(clinic, video, nurse, far_nurse, admin_user, outsider)


def _code(call: Callable[[], Any], error: type[Exception]) -> str:
    with pytest.raises(error) as caught:
        call()
    return str(getattr(caught.value, "code", ""))


# --- services and permissions ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_doctor_starts_the_call_of_a_video_visit_around_its_time(visits: Visits) -> None:
    clinic = visits.clinic
    visit = appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=visits.video,
        start=clinic.at(10),
    )

    def start(actor: User, minute_of_hour: tuple[int, int] = (9, 50)) -> VideoCall:
        return services.video_call_start_for_appointment(actor=actor, appointment=visit, now=clinic.at(*minute_of_hour))

    assert _code(lambda: start(clinic.doctor_user, (9, 44)), Invalid) == "too_early"
    call = start(clinic.doctor_user, (9, 45))  # 15 minutes before
    assert call.is_open and call.appointment_id == visit.pk and call.conversation_id is None
    event = AuditEvent.objects.get(action="consultation.video.started")
    assert (event.patient_id, event.object_id) == (clinic.patient.pk, str(call.pk))
    assert Outbox.objects.filter(idempotency_key__startswith=f"consult:visit:{visit.pk}:video:{call.pk}").exists()
    assert start(visits.nurse) == call  # one open call per visit: starting again rejoins it

    # Only the visit's doctor and the nurses of its location call; other staff see the visit but not its call.
    for stranger in (clinic.other_doctor.user, visits.far_nurse, clinic.registrar, visits.admin):
        assert _code(functools.partial(start, stranger), NotAllowed) == "forbidden"
    with pytest.raises(NotAllowed):
        start(clinic.patient_user)  # the patient joins, never starts
    with pytest.raises(NotFound):
        start(visits.outsider)

    services.video_call_end(actor=clinic.patient_user, call=call)
    assert AuditEvent.objects.filter(action="consultation.video.ended", patient_id=clinic.patient.pk).exists()
    assert _code(lambda: start(clinic.doctor_user, (10, 30)), Invalid) == "too_late"
    fresh = start(clinic.doctor_user, (10, 29))
    assert fresh != call and fresh.is_open

    # A visit of an ordinary service has no call.
    plain = visits.visit(clinic.at(12), service=clinic.service)
    with pytest.raises(Invalid) as caught:
        services.video_call_start_for_appointment(actor=clinic.doctor_user, appointment=plain, now=clinic.at(12))
    assert caught.value.code == "not_video"


@pytest.mark.django_db
def test_a_cancelled_or_missed_visit_has_no_call_and_ends_the_open_one(visits: Visits) -> None:
    clinic = visits.clinic
    visit = visits.now_visit()
    call = services.video_call_start_for_appointment(actor=clinic.doctor_user, appointment=visit)
    appointment_set_status(
        actor=clinic.registrar, appointment=visit, status=Status.NO_SHOW, reason_id=clinic.no_show_reason.pk
    )
    call.refresh_from_db()
    assert not call.is_open  # the scheduling hook ended it
    visit.refresh_from_db()
    with pytest.raises(NotAllowed) as caught:
        services.video_call_start_for_appointment(actor=clinic.doctor_user, appointment=visit)
    assert caught.value.code == "visit_not_active" and "no-show" in str(caught.value.message)

    other = visits.visit(visit.end + timedelta(minutes=5))
    appointment_cancel(actor=clinic.registrar, appointment=other, reason_id=clinic.cancel_reason.pk)
    other.refresh_from_db()
    with pytest.raises(NotAllowed) as caught:
        services.video_call_start_for_appointment(actor=clinic.doctor_user, appointment=other)
    assert caught.value.code == "visit_not_active"


@pytest.mark.django_db
def test_a_call_belongs_to_exactly_one_conversation_or_visit(visits: Visits) -> None:
    clinic = visits.clinic
    visit = visits.now_visit()
    with pytest.raises(IntegrityError), transaction.atomic():
        VideoCall.objects.create(organisation=clinic.org)
    VideoCall.objects.create(organisation=clinic.org, appointment=visit)
    with pytest.raises(IntegrityError), transaction.atomic():
        VideoCall.objects.create(organisation=clinic.org, appointment=visit)  # one open call per visit
    VideoCall.objects.filter(appointment=visit).update(ended_at=timezone.now())
    VideoCall.objects.create(organisation=clinic.org, appointment=visit)


# --- pages and API --------------------------------------------------------------------------------------------------


def _start(client: Client, visit: Appointment) -> Any:
    return client.post(f"/api/v1/appointments/{visit.pk}/video-call", content_type="application/json")


@pytest.mark.django_db
def test_the_calendar_starts_the_call_and_refuses_with_a_reason(
    visits: Visits, login_client: Callable[[User], Client]
) -> None:
    clinic = visits.clinic
    visit = visits.now_visit()
    doctor = login_client(clinic.doctor_user)
    listed = doctor.get(f"/api/v1/appointments/{visit.pk}").json()
    assert listed["is_video"] is True

    started = _start(doctor, visit)
    assert started.status_code == 201
    call = VideoCall.objects.get(appointment=visit)
    assert started.json()["url"] == f"/consultations/video/{call.pk}/"
    again = _start(login_client(visits.nurse), visit)
    assert (again.status_code, again.json()["id"]) == (200, call.pk)

    refused = _start(login_client(clinic.registrar), visit)
    assert refused.status_code == 403 and "doctor" in refused.json()["detail"]
    assert _start(login_client(clinic.patient_user), visit).status_code == 403
    assert _start(login_client(visits.outsider), visit).status_code == 404

    later = visits.visit(timezone.now() + timedelta(hours=2))
    early = _start(doctor, later)
    assert (early.status_code, early.json()["code"]) == (422, "too_early")
    assert "15 minutes before" in early.json()["detail"]
    later.status = Status.CANCELLED
    later.save(update_fields=["status"])
    cancelled = _start(doctor, later)
    assert (cancelled.status_code, cancelled.json()["code"]) == (403, "visit_not_active")


@pytest.mark.django_db
def test_the_calendar_offers_the_call_to_those_who_may_start_it(
    visits: Visits, login_client: Callable[[User], Client]
) -> None:
    def extension(user: User) -> Any:
        page = login_client(user).get("/calendar/").content.decode()
        found = re.search(r'<script id="calendar-config" type="application/json">(.*?)</script>', page, re.S)
        assert found is not None
        return json.loads(found.group(1))["extensions"].get("consultations")

    doctor = extension(visits.clinic.doctor_user)
    assert doctor["member"] == visits.clinic.doctor.pk and doctor["locations"] == []
    assert doctor["start"] == "appointments/{id}/video-call"
    assert extension(visits.nurse)["locations"] == [visits.clinic.location.pk]
    assert extension(visits.clinic.registrar) is None


@pytest.mark.django_db
def test_the_patient_and_a_proxy_join_from_my_visits(
    visits: Visits, ward: Patient, login_client: Callable[[User], Client]
) -> None:
    clinic = visits.clinic
    visit = visits.now_visit(patient=ward)  # begun five minutes ago: a video visit stays listed until it ends
    visits.visit(timezone.now() - timedelta(hours=1), service=clinic.service)  # an ordinary visit begun: not listed
    patient = login_client(clinic.patient_user)  # the ward's parent, with proxy rights
    home = patient.get("/my/").content.decode()
    assert f'data-video-visit="{visit.pk}"' in home and "data-video-join" not in home
    assert home.count('data-testid="upcoming-visit"') == 1

    call = services.video_call_start_for_appointment(actor=clinic.doctor_user, appointment=visit)
    home = patient.get("/my/").content.decode()
    assert f'href="/my/consultations/video/{call.pk}/"' in home and "Join video call" in home
    page = patient.get(f"/my/consultations/video/{call.pk}/")
    assert page.status_code == 200 and 'href="/my/"' in page.content.decode()
    doctor_page = login_client(clinic.doctor_user).get(f"/consultations/video/{call.pk}/").content.decode()
    assert f'href="/calendar/?location={clinic.location.pk}"' in doctor_page
    for stranger in (clinic.registrar, clinic.other_doctor.user, visits.admin, visits.outsider):
        assert login_client(stranger).get(f"/consultations/video/{call.pk}/").status_code == 404

    ended = patient.post(f"/consultations/video/{call.pk}/end/")
    assert ended["Location"] == "/my/"
    call.refresh_from_db()
    assert not call.is_open
    assert "data-video-join" not in patient.get("/my/").content.decode()


# --- the signalling socket ------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_close_thread_connections")
async def test_signalling_admits_the_two_sides_of_the_visit_only(visits: Visits, ward: Patient) -> None:
    clinic = visits.clinic
    visit = await sync_to_async(visits.now_visit)(ward)
    call = await sync_to_async(services.video_call_start_for_appointment)(actor=clinic.doctor_user, appointment=visit)
    doctor, connected, _ = await _socket(clinic.doctor_user, call.pk)
    assert connected and await doctor.receive_json_from() == {"type": "welcome", "side": "staff"}
    proxy, connected, _ = await _socket(clinic.patient_user, call.pk)
    assert connected and await proxy.receive_json_from() == {"type": "welcome", "side": "patient"}
    assert await doctor.receive_json_from(timeout=2) == {"type": "peer-joined", "side": "patient"}
    await doctor.send_json_to({"type": "offer", "data": {"type": "offer", "sdp": "v=0"}})
    assert (await proxy.receive_json_from(timeout=2))["type"] == "offer"

    for stranger in (clinic.registrar, clinic.other_doctor.user, visits.far_nurse, visits.admin, visits.outsider):
        _refused, connected, code = await _socket(stranger, call.pk)
        assert not connected and code == REFUSED
    await proxy.disconnect()
    await doctor.disconnect()
