"""A small clinic with one doctor working tomorrow, for calendar tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest

from kabinet.accounts.models import User
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients.models import Patient, Relationship
from kabinet.scheduling.models import Reason, Service, Shift
from kabinet.scheduling.services import shift_create
from tests.factories import LocationFactory, PatientFactory, UserFactory, member


@dataclass
class Clinic:
    org: Organisation
    location: Location
    doctor: Member
    doctor_user: User
    other_doctor: Member
    service: Service
    long_service: Service
    staff_only: Service
    shift: Shift
    day: date
    patient: Patient
    patient_user: User
    registrar: User
    operator: User
    cancel_reason: Reason
    no_show_reason: Reason

    def at(self, hour: int, minute: int = 0, day: date | None = None) -> datetime:
        return datetime.combine(day or self.day, time(hour, minute), tzinfo=self.location.zone)


@pytest.fixture
def clinic(org: Organisation, registrar: User) -> Clinic:
    location = LocationFactory.create(organisation=org, name="Sofia", time_zone="Europe/Sofia")
    doctor_user = UserFactory.create(email="doc@example.org", full_name="Dr Dana")
    doctor = member(doctor_user, org, Role.DOCTOR)
    doctor.locations.add(location)
    other_user = UserFactory.create(email="doc2@example.org", full_name="Dr Boris")
    other_doctor = member(other_user, org, Role.DOCTOR)
    other_doctor.locations.add(location)
    service = Service.objects.create(
        organisation=org, name="Consultation", duration_minutes=30, grid_minutes=15, online_bookable=True
    )
    long_service = Service.objects.create(
        organisation=org,
        name="Fillers",
        duration_minutes=60,
        grid_minutes=30,
        buffer_after_minutes=10,
        online_bookable=True,
    )
    staff_only = Service.objects.create(organisation=org, name="Thread lift", duration_minutes=30)
    for s in (service, long_service, staff_only):
        s.practitioners.set([doctor, other_doctor])
    day = date.today() + timedelta(days=2)
    shift = shift_create(
        actor=None,
        practitioner=doctor,
        location=location,
        day=day,
        start_time=time(9),
        end_time=time(14),
        breaks=[(time(11, 30), time(11, 45))],
    )
    shift_create(
        actor=None, practitioner=other_doctor, location=location, day=day, start_time=time(9), end_time=time(12)
    )
    patient_user = UserFactory.create(email="pat@example.org", full_name="Petya Patient")
    member(patient_user, org, Role.PATIENT)
    patient = PatientFactory.create(organisation=org, user=patient_user, family_name="Patient", given_name="Petya")
    operator = UserFactory.create(email="op@example.org")
    member(operator, org, Role.OPERATOR)
    return Clinic(
        org=org,
        location=location,
        doctor=doctor,
        doctor_user=doctor_user,
        other_doctor=other_doctor,
        service=service,
        long_service=long_service,
        staff_only=staff_only,
        shift=shift,
        day=day,
        patient=patient,
        patient_user=patient_user,
        registrar=registrar,
        operator=operator,
        cancel_reason=Reason.objects.create(organisation=org, kind=Reason.Kind.CANCEL, name="Patient asked"),
        no_show_reason=Reason.objects.create(organisation=org, kind=Reason.Kind.NO_SHOW, name="Did not come"),
    )


@pytest.fixture
def ward(clinic: Clinic) -> Patient:
    """A child whose parent is the clinic's patient user, with proxy rights."""
    child = PatientFactory.create(organisation=clinic.org, family_name="Patient", given_name="Kid")
    Relationship.objects.create(
        organisation=clinic.org, patient=child, relative=clinic.patient, kind=Relationship.Kind.PARENT, is_proxy=True
    )
    return child
