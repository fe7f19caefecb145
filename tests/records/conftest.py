"""The records fixtures: the scheduling `clinic` (a location, two doctors, services, a patient with a portal account
and a ward) plus the other staff roles, a relative without proxy rights, another patient, another clinic, two
document templates and a GDPR rule. Files go to a temporary MEDIA_ROOT. Also the browser fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.core.models import Member, Organisation, Role
from kabinet.patients.models import Patient, Relationship
from kabinet.records.models import DocumentKind, DocumentTemplate, MandatoryRule
from tests.factories import PatientFactory, UserFactory, member
from tests.fixtures.clinic import Clinic

CONSENT_BODY = """{% load i18n %}<p>{% if language == "ru" %}Я, {{ patient.full_name }}, согласен(на) на процедуру
«{{ fields.procedure }}».{% else %}I, {{ patient.full_name }}, agree to the procedure "{{ fields.procedure }}".
{% endif %}</p><p>{{ fields.risks|linebreaksbr }}</p>"""
NOTE_BODY = "<p>{{ fields.diagnosis }}</p>"


@dataclass
class Records:
    clinic: Clinic
    org: Organisation
    other_org: Organisation
    admin: User
    registrar: User
    operator: User
    nurse: User
    doctor: User  # Dr Dana, clinic.doctor
    doctor_member: Member
    other_doctor: User  # Dr Boris, clinic.other_doctor
    other_doctor_member: Member
    patient: Patient  # Petya, portal user `patient_user`, proxy parent of `ward`
    patient_user: User
    ward: Patient
    relative: Patient  # Petya's spouse: linked, but without proxy rights
    relative_user: User
    other_patient: Patient  # same clinic, no relation
    other_patient_user: User
    outsider: User  # an administrator of the other clinic
    stranger: Patient  # the other clinic's patient
    stranger_user: User
    consent: DocumentTemplate
    note: DocumentTemplate


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def rec(clinic: Clinic, ward: Patient, admin_user: User, outsider: User, other_org: Organisation) -> Records:
    org = clinic.org
    nurse = UserFactory.create(email="nina@example.org", full_name="Nina Nurse")
    member(nurse, org, Role.NURSE)
    Patient.objects.filter(pk=clinic.patient.pk).update(language="ru", birth_date=date(1985, 3, 4))
    clinic.patient.refresh_from_db()
    relative_user = UserFactory.create(email="spouse@example.net", full_name="Sam Spouse")
    member(relative_user, org, Role.PATIENT)
    relative = PatientFactory.create(organisation=org, user=relative_user, family_name="Spouse", given_name="Sam")
    Relationship.objects.create(
        organisation=org, patient=clinic.patient, relative=relative, kind=Relationship.Kind.SPOUSE, is_proxy=False
    )
    other_user = UserFactory.create(email="john@example.net", full_name="John Smith")
    member(other_user, org, Role.PATIENT)
    other_patient = PatientFactory.create(organisation=org, user=other_user, family_name="Smith", given_name="John")
    stranger_user = UserFactory.create(email="stranger@example.net")
    member(stranger_user, other_org, Role.PATIENT)
    stranger = PatientFactory.create(organisation=other_org, user=stranger_user, family_name="Stranger")
    consent = DocumentTemplate.objects.create(
        organisation=org,
        kind=DocumentKind.INFORMED_CONSENT,
        name="Consent for fillers",
        body=CONSENT_BODY,
        fields=[
            {"name": "procedure", "label": "Procedure", "type": "text", "required": True},
            {"name": "risks", "label": "Risks explained", "type": "textarea"},
            {"name": "agreed", "label": "Patient agrees", "type": "checkbox"},
        ],
    )
    note = DocumentTemplate.objects.create(
        organisation=org,
        kind=DocumentKind.VISIT_NOTE,
        name="Visit note",
        body=NOTE_BODY,
        fields=[{"name": "diagnosis", "label": "Diagnosis", "type": "text", "required": True}],
    )
    return Records(
        clinic=clinic,
        org=org,
        other_org=other_org,
        admin=admin_user,
        registrar=clinic.registrar,
        operator=clinic.operator,
        nurse=nurse,
        doctor=clinic.doctor_user,
        doctor_member=clinic.doctor,
        other_doctor=clinic.other_doctor.user,
        other_doctor_member=clinic.other_doctor,
        patient=clinic.patient,
        patient_user=clinic.patient_user,
        ward=ward,
        relative=relative,
        relative_user=relative_user,
        other_patient=other_patient,
        other_patient_user=other_user,
        outsider=outsider,
        stranger=stranger,
        stranger_user=stranger_user,
        consent=consent,
        note=note,
    )


@pytest.fixture
def gdpr_rule(rec: Records) -> MandatoryRule:
    return MandatoryRule.objects.create(
        organisation=rec.org, name="GDPR consent", kind=DocumentKind.INFORMED_CONSENT, validity_days=365
    )


# --- browser tests (test_browser.py): headless Debian Chromium against pytest-django's live server --------------


@pytest.fixture(scope="session")
def base_url(live_server: Any) -> str:
    return str(live_server.url)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {**browser_context_args, "base_url": base_url}
