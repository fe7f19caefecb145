"""The public booking page: step by step choices, sign-up with an emailed code, booking, moving, cancelling."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book

pytestmark = pytest.mark.django_db


def _page(client: Client, clinic, **params):
    return client.get(f"/book/{clinic.org.slug}/", params)


def test_index_redirects_to_the_only_clinic(clinic) -> None:
    response = Client().get("/book/")
    assert response.status_code == 302 and response["Location"] == f"/book/{clinic.org.slug}/"


def test_unknown_clinic_is_404(clinic) -> None:
    assert Client().get("/book/nope/").status_code == 404


def test_steps_offer_only_online_bookable_services_and_free_local_times(clinic) -> None:
    page = _page(Client(), clinic, location=clinic.location.pk).content.decode()
    assert "Consultation" in page and "Fillers" in page
    assert "Thread lift" not in page  # staff only
    page = _page(
        Client(),
        clinic,
        location=clinic.location.pk,
        service=clinic.service.pk,
        practitioner=clinic.doctor.pk,
        date=clinic.day.isoformat(),
    ).content.decode()
    slots = re.findall(r'data-testid="slot"[^>]*>(\d\d:\d\d)<', page)
    assert slots[0] == "09:00"  # the location's local time (Europe/Sofia), not UTC
    assert "11:30" not in slots  # the break


def test_malformed_parameters_do_not_break_the_page(clinic) -> None:
    response = _page(Client(), clinic, location="x", service="1; drop", date="yesterday", start="soon", move="9")
    assert response.status_code == 200


def test_visitor_signs_up_with_an_emailed_code_and_books(clinic, django_capture_on_commit_callbacks) -> None:
    client = Client()
    choice = {
        "location": clinic.location.pk,
        "service": clinic.service.pk,
        "practitioner": clinic.doctor.pk,
        "date": clinic.day.isoformat(),
        "start": clinic.at(10).isoformat(),
        "with": clinic.doctor.pk,
    }
    page = _page(client, clinic, **choice).content.decode()
    assert "Sign up with a code" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/book/{clinic.org.slug}/?",
            {
                **choice,
                "action": "signup",
                "signup-given_name": "Vera",
                "signup-family_name": "Новикова",
                "signup-email": "vera@example.org",
                "signup-phone": "+359 88 111 2233",
            },
        )
    assert response.status_code == 200
    code = re.search(r"code is (\w+)", str(mail.outbox[-1].body))
    assert code is not None
    response = client.post(
        f"/book/{clinic.org.slug}/",
        {
            **choice,
            "action": "activate",
            "activate-login": "vera@example.org",
            "activate-code": code.group(1),
            "activate-new_password": "a-long-new-password-1",
        },
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Book this time" in page
    response = client.post(f"/book/{clinic.org.slug}/", {**choice, "action": "confirm", "note": "first time"})
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get()
    assert appointment.patient.family_name == "Новикова" and appointment.patient.phone == "+359881112233"
    assert appointment.source == Appointment.Source.ONLINE and appointment.start == clinic.at(10)
    assert "Your visit is booked" in client.get(response["Location"]).content.decode()


def test_logged_in_patient_books_for_a_ward_and_sees_it_on_my_page(clinic, ward, login_client) -> None:
    client = login_client(clinic.patient_user)
    choice = {
        "location": clinic.location.pk,
        "service": clinic.service.pk,
        "date": clinic.day.isoformat(),
        "start": clinic.at(9).isoformat(),
        "with": clinic.other_doctor.pk,
    }
    page = _page(client, clinic, **choice).content.decode()
    assert "Who is the visit for?" in page
    response = client.post(f"/book/{clinic.org.slug}/", {**choice, "action": "confirm", "patient": ward.pk})
    assert response.status_code == 302
    assert Appointment.objects.get().patient == ward
    assert "Kid" in client.get("/my/").content.decode()


def test_a_taken_slot_is_reported_not_booked_twice(clinic, login_client) -> None:
    client = login_client(clinic.patient_user)
    choice = {
        "location": clinic.location.pk,
        "service": clinic.service.pk,
        "date": clinic.day.isoformat(),
        "start": clinic.at(9).isoformat(),
        "with": clinic.doctor.pk,
    }
    assert "Book this time" in _page(client, clinic, **choice).content.decode()
    appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(9),
        location=clinic.location,
    )
    response = client.post(f"/book/{clinic.org.slug}/", {**choice, "action": "confirm"})
    assert response.status_code == 200  # the slot vanished from the offer: nothing to confirm
    assert Appointment.objects.count() == 1


def test_patient_moves_and_cancels_from_my_page(clinic, login_client) -> None:
    client = login_client(clinic.patient_user)
    a = appointment_book(
        actor=clinic.patient_user,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(9),
        location=clinic.location,
    )
    choice = {
        "location": clinic.location.pk,
        "service": clinic.service.pk,
        "date": clinic.day.isoformat(),
        "start": clinic.at(12).isoformat(),
        "with": clinic.doctor.pk,
        "move": a.pk,
    }
    assert "Move my visit here" in _page(client, clinic, **choice).content.decode()
    assert client.post(f"/book/{clinic.org.slug}/", {**choice, "action": "confirm"}).status_code == 302
    a.refresh_from_db()
    assert a.start == clinic.at(12)
    client.post(f"/my/appointments/{a.pk}/cancel/", {"reason": clinic.cancel_reason.pk})
    a.refresh_from_db()
    assert a.status == Appointment.Status.CANCELLED


def test_someone_else_cannot_cancel(clinic, login_client, make_user) -> None:
    a = appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(9),
        location=clinic.location,
    )
    login_client(make_user()).post(f"/my/appointments/{a.pk}/cancel/", {"reason": clinic.cancel_reason.pk})
    a.refresh_from_db()
    assert a.status == Appointment.Status.SCHEDULED
