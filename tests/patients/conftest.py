"""A small clinic with a few patients (Cyrillic and Latin names, a family with a proxy parent), the staff roles
who work with them, and another clinic that must see none of it. Also the browser fixtures for test_browser.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.core.models import Organisation, Role
from kabinet.patients import services
from kabinet.patients.models import Patient, Relationship
from tests.factories import PatientFactory, UserFactory, member


@dataclass
class People:
    org: Organisation
    other_org: Organisation
    registrar: User
    admin: User
    doctor: User
    nurse: User
    operator: User
    coordinator: User
    outsider: User  # an administrator of the other clinic
    anna: Patient  # Иванова Анна, the portal user `anna_user`, parent and proxy of `kid`
    anna_user: User
    kid: Patient
    john: Patient  # Smith John, no relatives
    petar: Patient
    stranger: Patient  # another clinic's Иванова Анна
    stranger_user: User


def staff(organisation: Organisation, role: str, email: str, name: str) -> User:
    user = UserFactory.create(email=email, full_name=name)
    member(user, organisation, role)
    return user


@pytest.fixture
def people(org: Organisation, other_org: Organisation, registrar: User, admin_user: User, outsider: User) -> People:
    doctor = staff(org, Role.DOCTOR, "dora@example.org", "Dr Dora")
    nurse = staff(org, Role.NURSE, "nina@example.org", "Nina Nurse")
    operator = staff(org, Role.OPERATOR, "olga@example.org", "Olga Operator")
    coordinator = staff(org, Role.COORDINATOR, "cora@example.org", "Cora Coordinator")
    anna = services.patient_create(
        actor=registrar,
        organisation=org,
        family_name="Иванова",
        given_name="Анна",
        middle_name="Сергеевна",
        birth_date=date(1988, 4, 12),
        sex=Patient.Sex.FEMALE,
        phone="+359 888 123 456",
        email="Anna.Ivanova@Example.org",
        language="ru",
    )
    anna_user = UserFactory.create(email="anna@example.net", full_name="Anna Ivanova")
    member(anna_user, org, Role.PATIENT)
    Patient.objects.filter(pk=anna.pk).update(user=anna_user)
    anna.refresh_from_db()
    kid = services.patient_create(
        actor=registrar,
        organisation=org,
        family_name="Иванов",
        given_name="Миша",
        birth_date=date(2018, 9, 1),
        sex=Patient.Sex.MALE,
    )
    Relationship.objects.create(
        organisation=org, patient=kid, relative=anna, kind=Relationship.Kind.PARENT, is_proxy=True
    )
    john = services.patient_create(
        actor=registrar,
        organisation=org,
        family_name="Smith",
        given_name="John",
        birth_date=date(1975, 1, 30),
        sex=Patient.Sex.MALE,
        phone="+44 7911 123456",
        language="en",
    )
    petar = services.patient_create(
        actor=registrar,
        organisation=org,
        family_name="Петров",
        given_name="Петър",
        birth_date=date(1960, 6, 15),
        sex=Patient.Sex.MALE,
        phone="+7 916 123-45-67",
        language="bg",
    )
    stranger_user = UserFactory.create(email="stranger@example.net")
    member(stranger_user, other_org, Role.PATIENT)
    stranger = PatientFactory.create(
        organisation=other_org, family_name="Иванова", given_name="Анна", phone="+359888123999", user=stranger_user
    )
    return People(
        org=org,
        other_org=other_org,
        registrar=registrar,
        admin=admin_user,
        doctor=doctor,
        nurse=nurse,
        operator=operator,
        coordinator=coordinator,
        outsider=outsider,
        anna=anna,
        anna_user=anna_user,
        kid=kid,
        john=john,
        petar=petar,
        stranger=stranger,
        stranger_user=stranger_user,
    )


# --- browser tests (test_browser.py): headless Debian Chromium against pytest-django's live server --------------


@pytest.fixture(scope="session")
def base_url(live_server: Any) -> str:
    """Every browser context's base URL: the live server, so pages navigate with paths."""
    return str(live_server.url)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {**browser_context_args, "base_url": base_url}
