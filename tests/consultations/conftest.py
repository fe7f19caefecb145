"""A clinic running remote consultations: Petya Patient has an active written contract with Dr Dana (24 h SLA) and
nurse Nina on the care team; Dr Boris is a doctor of the same clinic who is not on it; Olga is another patient of
the clinic; Charlie administers another clinic. Also tiny voice recordings and pictures for uploads."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kabinet.accounts.models import User
from kabinet.consultations import services
from kabinet.consultations.models import ConsultationContract, Conversation
from kabinet.core.models import Member, Role
from kabinet.patients.models import Patient
from tests.factories import PatientFactory, UserFactory, member
from tests.fixtures.clinic import Clinic

EMERGENCY = "+35929001122"


@dataclass
class Consult:
    clinic: Clinic
    admin: User
    nurse: User
    nurse_member: Member
    contract: ConsultationContract
    conversation: Conversation
    other_patient: Patient
    other_patient_user: User
    outsider: User

    @property
    def patient_user(self) -> User:
        return self.clinic.patient_user

    @property
    def doctor_user(self) -> User:
        return self.clinic.doctor_user

    @property
    def other_doctor_user(self) -> User:
        return self.clinic.other_doctor.user


@pytest.fixture
def consult(clinic: Clinic, admin_user: User, outsider: User) -> Consult:
    clinic.location.phone_lines = [EMERGENCY]
    clinic.location.save(update_fields=["phone_lines"])
    nurse = UserFactory.create(email="nina@example.org", full_name="Nina Nurse")
    nurse_member = member(nurse, clinic.org, Role.NURSE)
    other_user = UserFactory.create(email="olga@example.org", full_name="Olga Other")
    member(other_user, clinic.org, Role.PATIENT)
    other_patient = PatientFactory.create(
        organisation=clinic.org, user=other_user, family_name="Other", given_name="Olga"
    )
    today = timezone.localdate()
    contract = services.contract_create(
        actor=admin_user,
        patient=clinic.patient,
        doctor=clinic.doctor,
        care_team=[nurse_member],
        location=clinic.location,
        starts_on=today,
        ends_on=today + timedelta(days=30),
        sla_hours=24,
        activate=True,
    )
    contract.refresh_from_db()
    assert contract.conversation is not None
    return Consult(
        clinic=clinic,
        admin=admin_user,
        nurse=nurse,
        nurse_member=nurse_member,
        contract=contract,
        conversation=contract.conversation,
        other_patient=other_patient,
        other_patient_user=other_user,
        outsider=outsider,
    )


# --- files -----------------------------------------------------------------------------------------------------


def webm(size: int = 2000) -> bytes:
    """The start of a WebM file as Chrome's MediaRecorder writes it (EBML header with DocType webm), padded."""
    header = bytes.fromhex(
        "1a45dfa39f4286810142f7810142f2810442f381084282847765626d42878104428581021853806701ffffffffffffff"
    )
    return header + b"\x00" * max(0, size - len(header))


def ogg(size: int = 2000) -> bytes:
    page = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    return page + b"\x00" * max(0, size - len(page))


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def client_for(login_client: Callable[[User], Client]) -> Callable[[User], Client]:
    return login_client


@pytest.fixture
def send_text() -> Callable[..., Any]:
    def send(actor: User, conversation: Conversation, text: str = "Hello", **kwargs: Any) -> Any:
        return services.message_send(actor=actor, conversation=conversation, text=text, **kwargs)

    return send
