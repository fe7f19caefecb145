"""The billing fixtures: the scheduling `clinic` with prices (Consultation 50.00, Fillers 300.00, Thread lift
120.00 EUR), a visit of the clinic's patient, the patient's `ward` (a child the patient pays for), an administrator,
another clinic with its own administrator, and `pdf_text` to read a PDF back with pdftotext. Also the browser
fixtures for test_browser.py."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.core.models import Organisation, Role
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book
from tests.factories import LocationFactory, PatientFactory, UserFactory, member
from tests.fixtures.clinic import Clinic


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The fixtures create half a dozen users; a cheap hasher keeps each test quick (autouse: in place first)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Billing:
    clinic: Clinic
    org: Organisation
    admin: User
    registrar: User
    doctor: User
    patient: Patient  # Petya, a portal user, the proxy parent of `ward`
    patient_user: User
    ward: Patient
    visit: Appointment  # Petya's Consultation, 10:00 on clinic.day
    ward_visit: Appointment  # the ward's Fillers, 12:00
    other_org: Organisation
    outsider: User  # the other clinic's administrator
    stranger_user: User  # a patient of the same clinic with no rights on Petya
    stranger: Patient


@pytest.fixture
def bill(clinic: Clinic, ward: Patient, admin_user: User, outsider: User, other_org: Organisation) -> Billing:
    for service, price in ((clinic.service, "50.00"), (clinic.long_service, "300.00"), (clinic.staff_only, "120.00")):
        service.price = Decimal(price)
        service.save(update_fields=["price"])
    visit = appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(10),
        location=clinic.location,
    )
    ward_visit = appointment_book(
        actor=clinic.registrar,
        patient=ward,
        practitioner=clinic.doctor,
        service=clinic.long_service,
        start=clinic.at(12),
        location=clinic.location,
    )
    LocationFactory.create(organisation=other_org, name="Elsewhere")
    stranger_user = UserFactory.create(email="stranger@example.org", full_name="Stan Stranger")
    member(stranger_user, clinic.org, Role.PATIENT)
    stranger = PatientFactory.create(organisation=clinic.org, user=stranger_user, family_name="Stranger")
    return Billing(
        clinic=clinic,
        org=clinic.org,
        admin=admin_user,
        registrar=clinic.registrar,
        doctor=clinic.doctor_user,
        patient=clinic.patient,
        patient_user=clinic.patient_user,
        ward=ward,
        visit=visit,
        ward_visit=ward_visit,
        other_org=other_org,
        outsider=outsider,
        stranger_user=stranger_user,
        stranger=stranger,
    )


def pdf_to_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return result.stdout.decode().replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def pdf_text() -> Any:
    return pdf_to_text


# --- browser tests (test_browser.py): headless Debian Chromium against pytest-django's live server --------------


@pytest.fixture(scope="session")
def base_url(live_server: Any) -> str:
    return str(live_server.url)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {**browser_context_args, "base_url": base_url}
