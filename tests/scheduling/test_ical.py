"""iCalendar: a doctor's private, revocable feed (active visits only, no patient data) and one visit's .ics file,
permission-checked like the appointment itself."""

from __future__ import annotations

import pytest
from django.test import Client
from icalendar import Calendar

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import NotAllowed
from kabinet.scheduling.models import CalendarFeed
from kabinet.scheduling.services import (
    appointment_book,
    appointment_cancel,
    calendar_feed_create,
    calendar_feed_revoke,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def visits(clinic):
    """Two active visits of Dr Dana, one cancelled, and one of Dr Boris."""

    def book(hour, practitioner=None, service=None):
        return appointment_book(
            actor=clinic.registrar,
            patient=clinic.patient,
            practitioner=practitioner or clinic.doctor,
            service=service or clinic.service,
            start=clinic.at(hour),
            location=clinic.location,
        )

    active = [book(9), book(10, service=clinic.long_service)]
    cancelled = book(12)
    appointment_cancel(actor=clinic.registrar, appointment=cancelled, reason_id=clinic.cancel_reason.pk)
    other = book(9, practitioner=clinic.other_doctor)
    return {"active": active, "cancelled": cancelled, "other": other}


def feed_path(token: str) -> str:
    return f"/calendar/feeds/{token}.ics"


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def test_the_feed_lists_the_doctors_active_visits_without_patient_data(clinic, visits) -> None:
    _feed, token = calendar_feed_create(actor=clinic.doctor_user, practitioner=clinic.doctor)

    response = Client().get(feed_path(token))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = parse(response.content).walk("VEVENT")
    by_uid = {str(e["UID"]): e for e in events}
    assert set(by_uid) == {f"appointment-{a.pk}-{clinic.org.pk}@kabinet" for a in visits["active"]}
    first = by_uid[f"appointment-{visits['active'][0].pk}-{clinic.org.pk}@kabinet"]
    assert first.decoded("DTSTART") == clinic.at(9)
    assert first.decoded("DTEND") == clinic.at(9, 30)
    assert str(first["SUMMARY"]) == "Visit: Consultation"
    assert "Sofia" in str(first["LOCATION"])
    body = response.content.decode()
    patient = clinic.patient
    for personal in (patient.family_name, patient.given_name, "Petya", str(patient), clinic.patient_user.email):
        assert personal and personal not in body


def test_the_feed_speaks_the_doctors_language(clinic, visits) -> None:
    clinic.doctor_user.language = "bg"
    clinic.doctor_user.save(update_fields=["language"])
    clinic.service.name_bg = "Консултация"
    clinic.service.save(update_fields=["name_bg"])
    _feed, token = calendar_feed_create(actor=clinic.doctor_user, practitioner=clinic.doctor)

    body = Client().get(feed_path(token)).content.decode()

    assert "Консултация" in body


def test_a_revoked_or_replaced_feed_answers_404(clinic, visits) -> None:
    _first, first_token = calendar_feed_create(actor=clinic.doctor_user, practitioner=clinic.doctor)
    second, second_token = calendar_feed_create(actor=clinic.doctor_user, practitioner=clinic.doctor)

    assert Client().get(feed_path(first_token)).status_code == 404  # one address at a time
    assert Client().get(feed_path(second_token)).status_code == 200

    calendar_feed_revoke(actor=clinic.doctor_user, feed=second)

    assert Client().get(feed_path(second_token)).status_code == 404
    assert Client().get(feed_path("not-a-token")).status_code == 404
    assert not CalendarFeed.objects.filter(token_hash__in=[first_token, second_token]).exists()  # only hashes kept
    assert AuditEvent.objects.filter(action="calendar_feed.revoked").count() == 2


def test_a_doctor_who_left_has_no_feed(clinic, visits) -> None:
    _feed, token = calendar_feed_create(actor=clinic.doctor_user, practitioner=clinic.doctor)
    clinic.doctor.is_active = False
    clinic.doctor.save(update_fields=["is_active"])

    assert Client().get(feed_path(token)).status_code == 404


def test_only_the_doctor_or_an_administrator_manages_a_feed(clinic, admin_user, outsider, make_user) -> None:
    boris = clinic.other_doctor.user
    for intruder in (boris, clinic.registrar, outsider, clinic.patient_user):
        with pytest.raises(NotAllowed):
            calendar_feed_create(actor=intruder, practitioner=clinic.doctor)

    feed, _token = calendar_feed_create(actor=admin_user, practitioner=clinic.doctor)
    with pytest.raises(NotAllowed):
        calendar_feed_revoke(actor=boris, feed=feed)
    calendar_feed_revoke(actor=clinic.doctor_user, feed=feed)


def test_a_doctor_makes_and_revokes_the_feed_on_the_schedule_page(clinic, visits, login_client) -> None:
    client = login_client(clinic.doctor_user)
    page = client.get("/calendar/schedule/").content.decode()
    assert 'id="calendar-feeds"' in page and "Dr Dana" in page
    assert "Dr Boris" not in page.split('id="calendar-feeds"')[1]  # a doctor sees only their own feed

    made = client.post("/calendar/feeds/", {"practitioner": clinic.doctor.pk}, headers={"HX-Request": "true"})
    html = made.content.decode()
    url = html.split('id="new-feed-url">')[1].split("<")[0]
    assert url.startswith("http://testserver/calendar/feeds/") and url.endswith(".ics")
    path = url.removeprefix("http://testserver")
    assert len(parse(Client().get(path).content).walk("VEVENT")) == 2

    feed = CalendarFeed.objects.get(revoked_at__isnull=True)
    refused = login_client(clinic.other_doctor.user).post(f"/calendar/feeds/{feed.pk}/revoke/")
    assert refused.status_code == 404
    revoked = client.post(f"/calendar/feeds/{feed.pk}/revoke/")
    assert revoked.status_code == 200
    assert Client().get(path).status_code == 404


def test_one_visit_downloads_as_an_ics_file_for_those_who_may_see_it(clinic, visits, login_client, outsider) -> None:
    visit = visits["active"][1]
    path = f"/calendar/appointments/{visit.pk}.ics"

    staff = login_client(clinic.registrar).get(path)
    patient = login_client(clinic.patient_user).get(path)

    for response in (staff, patient):
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith('attachment; filename="visit-')
        (event,) = parse(response.content).walk("VEVENT")
        assert event.decoded("DTSTART") == visit.start and event.decoded("DTEND") == visit.end
        assert str(event["SUMMARY"]) == "Visit: Fillers"
        assert "Dr Dana" in str(event["DESCRIPTION"])
        assert "Petya" not in response.content.decode()
    assert login_client(outsider).get(path).status_code == 404
    stranger = login_client(clinic.other_doctor.user)  # staff of the clinic may see every visit
    assert stranger.get(path).status_code == 200
    assert Client().get(path).status_code == 302  # to the login page
    assert login_client(clinic.registrar).get("/calendar/appointments/999999.ics").status_code == 404
