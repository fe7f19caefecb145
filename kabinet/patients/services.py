"""Patient use cases (minimal here: quick creation by staff; the patients issue extends this)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kabinet.accounts.models import normalize_phone
from kabinet.audit.services import record, snapshot
from kabinet.core import permissions
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Organisation
from kabinet.patients.models import Patient

PATIENT_FIELDS = ["family_name", "given_name", "middle_name", "birth_date", "sex", "phone", "email", "language"]


def patient_create(
    *,
    actor: Any,
    organisation: Organisation,
    family_name: str,
    given_name: str,
    middle_name: str = "",
    birth_date: date | None = None,
    sex: str = Patient.Sex.UNKNOWN,
    phone: str = "",
    email: str = "",
    language: str = "",
) -> Patient:
    """Staff create a patient quickly (e.g. from the calendar); the phone is stored in E.164."""
    permissions.require_staff(actor, organisation)
    errors: dict[str, list[str]] = {}
    if not family_name.strip():
        errors["family_name"] = [_("Enter the family name.")]
    if not given_name.strip():
        errors["given_name"] = [_("Enter the given name.")]
    try:
        phone = normalize_phone(phone) or ""
    except ValidationError as exc:
        errors["phone"] = list(exc.messages)
    if errors:
        raise Invalid(errors=errors)
    patient = Patient(
        organisation=organisation,
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        middle_name=middle_name.strip(),
        birth_date=birth_date,
        sex=sex,
        phone=phone,
        email=(email or "").strip().lower(),
        language=language or organisation.default_language,
    )
    try:
        patient.full_clean()
    except ValidationError as exc:
        raise Invalid(errors={k: list(v) for k, v in exc.message_dict.items()}) from exc
    with transaction.atomic():
        patient.save()
        record(
            actor=actor, action="patient.created", obj=patient, patient=patient, after=snapshot(patient, PATIENT_FIELDS)
        )
    return patient
