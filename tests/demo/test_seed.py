"""The demo clinic: every role present, 300 patients in families with Cyrillic and Latin names; idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from kabinet.accounts.models import User
from kabinet.core.models import Location, MemberRole, Organisation, Role
from kabinet.demo.seed import PATIENT_COUNT, seed
from kabinet.patients.models import Patient, Relationship


@pytest.mark.django_db
def test_seed_builds_the_demo_clinic_and_is_idempotent(settings) -> None:
    first = seed()
    counts = (User.objects.count(), Patient.objects.count(), Relationship.objects.count(), MemberRole.objects.count())
    second = seed()
    assert second.patients_added == 0
    assert counts == (
        User.objects.count(),
        Patient.objects.count(),
        Relationship.objects.count(),
        MemberRole.objects.count(),
    )

    org = Organisation.objects.get(slug="demo")
    assert first.organisation == org
    assert Location.objects.filter(organisation=org).count() == 2
    assert {loc.time_zone for loc in Location.objects.all()} == {"Europe/Sofia", "Europe/Moscow"}
    roles = list(MemberRole.objects.filter(member__organisation=org).values_list("role", flat=True))
    assert roles.count(Role.DOCTOR) == 6
    for role in (Role.ADMIN, Role.REGISTRAR, Role.OPERATOR, Role.COORDINATOR, Role.PATIENT):
        assert role in roles
    assert Patient.objects.filter(organisation=org).count() == PATIENT_COUNT
    names = list(Patient.objects.values_list("family_name", flat=True))
    assert any(n[0] in "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЩЭЮЯ" for n in names)
    assert any(n[0].isascii() for n in names)
    assert Relationship.objects.filter(is_proxy=True).exists()

    user = User.objects.get(email="registrar@kabinet.example")
    assert user.check_password(settings.DEMO_PASSWORD)


@pytest.mark.django_db
def test_seed_demo_command_prints_the_logins() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    assert "admin@kabinet.example" in text
    assert "patient@kabinet.example" in text
    assert "300 in all" in text
