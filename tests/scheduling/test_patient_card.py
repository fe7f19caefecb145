"""The Appointments tab of the patient card: upcoming and past visits in the location's time zone, with the doctor,
the service, the status and its reason, a link into the calendar at that day; the badge counts upcoming visits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kabinet.core.exceptions import NotFound
from kabinet.scheduling import selectors
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book, appointment_cancel

pytestmark = pytest.mark.django_db


def card(patient) -> str:
    return reverse("patients:card", args=[patient.pk]) + "?tab=appointments"


def past_visit(clinic, days_ago: int, status: str = Appointment.Status.COMPLETED) -> Appointment:
    """A visit that already happened (the booking service refuses the past, so the row is written directly)."""
    start = clinic.at(10, day=timezone.localdate() - timedelta(days=days_ago))
    end = start + timedelta(minutes=30)
    return Appointment.objects.create(
        organisation=clinic.org,
        location=clinic.location,
        practitioner=clinic.doctor,
        patient=clinic.patient,
        service=clinic.service,
        start=start,
        end=end,
        busy_start=start,
        busy_end=end,
        status=status,
    )


def book(clinic, hour: int, minute: int = 0) -> Appointment:
    return appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(hour, minute),
        location=clinic.location,
    )


def test_upcoming_soonest_first_past_newest_first_and_the_badge_counts_active_upcoming(clinic) -> None:
    later, sooner = book(clinic, 12), book(clinic, 9, 30)
    cancelled = book(clinic, 10, 30)
    appointment_cancel(actor=clinic.registrar, appointment=cancelled, reason_id=clinic.cancel_reason.pk)
    old, recent = past_visit(clinic, 40), past_visit(clinic, 3)
    visits = selectors.patient_visits(user=clinic.registrar, patient=clinic.patient)
    assert [v.appointment for v in visits.upcoming] == [sooner, cancelled, later]
    assert [v.appointment for v in visits.past] == [recent, old]
    assert visits.upcoming_count == 2  # the cancelled one is listed, not counted
    first = visits.upcoming[0]
    assert first.start.strftime("%H:%M") == "09:30" and str(first.start.tzinfo) == "Europe/Sofia"
    assert first.calendar_query == (
        f"location={clinic.location.pk}&date={clinic.day:%Y-%m-%d}&doctor={clinic.doctor.pk}"
    )


def test_the_tab_shows_the_visits_with_reason_and_calendar_link(clinic, login_client) -> None:
    visit = book(clinic, 9, 30)
    cancelled = book(clinic, 12)
    appointment_cancel(actor=clinic.registrar, appointment=cancelled, reason_id=clinic.cancel_reason.pk, note="ill")
    html = login_client(clinic.registrar).get(card(clinic.patient)).content.decode()
    assert 'data-tab="appointments"' in html and "Appointments <small>1</small>" in html
    assert f'data-visit="{visit.pk}"' in html and "Dr Dana" in html and "Consultation" in html
    assert "Patient asked: ill" in html
    calendar = reverse("scheduling:calendar")
    assert f'href="{calendar}?location={clinic.location.pk}&amp;date={clinic.day:%Y-%m-%d}&amp;doctor=' in html
    assert "09:30–10:00" in html
    start = html.index('role="tablist"')
    tabs = html[start : html.index("</nav>", start)]
    order = ("timeline", "appointments", "documents", "notes", "relatives", "consents")
    positions = [tabs.index(f'data-tab="{name}"') for name in order]
    assert positions == sorted(positions)  # the order of tabs


def test_other_clinics_and_patients_get_nothing(clinic, outsider) -> None:
    with pytest.raises(NotFound):
        selectors.patient_visits(user=outsider, patient=clinic.patient)
    with pytest.raises(NotFound):
        selectors.patient_visits(user=clinic.patient_user, patient=clinic.patient)


def test_the_tab_query_count_does_not_depend_on_the_number_of_visits(clinic, login_client) -> None:
    desk = login_client(clinic.registrar)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(card(clinic.patient)).status_code == 200
        return len(queries)

    book(clinic, 9)
    past_visit(clinic, 2)
    count()
    few = count()
    for hour in (10, 11, 12, 13):
        book(clinic, hour)
    for days in range(5, 15):
        past_visit(clinic, days)
    assert count() == few


def test_clinical_roles_may_record_a_completed_visit_as_a_procedure(clinic, login_client) -> None:
    from kabinet.records.models import Procedure

    visit = past_visit(clinic, 3)
    button = f'data-visit-procedure="{visit.pk}"'
    assert button not in login_client(clinic.registrar).get(card(clinic.patient)).content.decode()
    html = login_client(clinic.doctor_user).get(card(clinic.patient)).content.decode()
    assert button in html
    response = login_client(clinic.doctor_user).post(
        reverse("records:medical_add", args=[clinic.patient.pk, "procedure"]),
        {
            "procedure-name": "Consultation",
            "procedure-performed_on": f"{visit.start.astimezone(clinic.location.zone):%Y-%m-%d}",
            "procedure-doctor": clinic.doctor.pk,
        },
    )
    assert response.status_code == 302
    assert Procedure.objects.get().doctor == clinic.doctor
