"""The front desk's fixtures: the scheduling `clinic` (Sofia; Dr Dana 09:00-14:00 and Dr Boris 09:00-12:00 two days
from today) plus patients with mobile numbers, a catalogue of refusal reasons, and helpers to book visits.

Confirmation calls are made the day before the visits: `desk.call_day` is tomorrow, `desk.visit_day` the clinic's
working day after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.core.models import Organisation, Role
from kabinet.frontdesk.models import RefusalReason
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment, Service
from kabinet.scheduling.services import appointment_book
from tests.factories import PatientFactory, UserFactory, member
from tests.fixtures.clinic import Clinic


@dataclass
class Desk:
    clinic: Clinic
    org: Organisation
    registrar: User
    operator: User
    admin: User
    doctor_user: User
    outsider: User
    petya: Patient  # the clinic's portal patient
    anna: Patient
    ivan: Patient
    refusal_reason: RefusalReason

    @property
    def visit_day(self) -> date:
        return self.clinic.day

    @property
    def call_day(self) -> date:
        return self.clinic.day - timedelta(days=1)

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.clinic.location.zone)

    def call_at(self, hour: int, minute: int = 0) -> datetime:
        return self.at(self.call_day, hour, minute)

    def book(
        self, patient: Patient, hour: int, minute: int = 0, *, doctor: Any = None, service: Service | None = None
    ) -> Appointment:
        return appointment_book(
            actor=self.registrar,
            patient=patient,
            practitioner=doctor or self.clinic.doctor,
            service=service or self.clinic.service,
            start=self.clinic.at(hour, minute),
            location=self.clinic.location,
        )


@pytest.fixture
def desk(clinic: Clinic, admin_user: User, outsider: User) -> Desk:
    org = clinic.org
    Patient.objects.filter(pk=clinic.patient.pk).update(phone="+359888100001", language="en")
    clinic.patient.refresh_from_db()
    anna = PatientFactory.create(organisation=org, family_name="Ivanova", given_name="Anna", phone="+359888100002")
    ivan_user = UserFactory.create(email="ivan@example.net", full_name="Ivan Petrov")
    member(ivan_user, org, Role.PATIENT)
    ivan = PatientFactory.create(
        organisation=org, user=ivan_user, family_name="Petrov", given_name="Ivan", phone="+359888100003"
    )
    return Desk(
        clinic=clinic,
        org=org,
        registrar=clinic.registrar,
        operator=clinic.operator,
        admin=admin_user,
        doctor_user=clinic.doctor_user,
        outsider=outsider,
        petya=clinic.patient,
        anna=anna,
        ivan=ivan,
        refusal_reason=RefusalReason.objects.create(organisation=org, name="Too expensive", name_ru="Дорого"),
    )


@pytest.fixture
def sms(settings: Any) -> None:
    """An SMS gateway (the console one), so patients with a mobile number can be texted."""
    settings.SMS_URL = "console://"
