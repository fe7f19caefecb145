"""Patients API (minimal: search and quick creation; the patients issue extends it)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from kabinet.core import tenancy
from kabinet.core.exceptions import NotAllowed
from kabinet.patients import selectors, services
from kabinet.patients.models import Patient

router = Router(tags=["patients"])


class PatientOut(Schema):
    id: int
    family_name: str
    given_name: str
    middle_name: str
    birth_date: date | None
    sex: str
    phone: str
    email: str
    language: str


class PatientIn(Schema):
    family_name: str = Field(..., max_length=150)
    given_name: str = Field(..., max_length=150)
    middle_name: str = Field("", max_length=150)
    birth_date: date | None = None
    sex: Patient.Sex = Patient.Sex.UNKNOWN
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    language: str = Field("", max_length=8)


@router.get("/patients", response=list[PatientOut], summary="Search patients by name, phone or email")
def search_patients(request: HttpRequest, search: str = "", limit: int = 20) -> Any:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    return selectors.patient_search(
        user=request.user, organisation=organisation, query=search, limit=max(1, min(limit, 100))
    )


@router.post("/patients", response={201: PatientOut}, summary="Create a patient (staff)")
def create_patient(request: HttpRequest, payload: PatientIn) -> Any:
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    return Status(201, services.patient_create(actor=request.user, organisation=organisation, **payload.dict()))
