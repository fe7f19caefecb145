"""Reads of patients, scoped to who may see them: staff of the organisation, the patient, and their proxies."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kabinet.core import permissions
from kabinet.core.exceptions import NotFound
from kabinet.core.models import Organisation
from kabinet.patients.models import Patient, Relationship


def own_patient_ids(user: Any) -> set[int]:
    """Patient records the user is, or may act for (wards through a proxy relationship)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    own = set(Patient.objects.filter(user=user).values_list("pk", flat=True))
    wards = Relationship.objects.filter(relative_id__in=own, is_proxy=True).values_list("patient_id", flat=True)
    return own | set(wards)


def patients_visible_to(user: Any, organisation: Organisation | None = None) -> QuerySet[Patient]:
    staff_orgs = [
        org_id
        for org_id in permissions.organisations_of(user)
        if permissions.is_staff_of(user, org_id) and (organisation is None or org_id == organisation.pk)
    ]
    condition = Q(organisation_id__in=staff_orgs) | Q(pk__in=own_patient_ids(user))
    qs = Patient.objects.filter(condition)
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs


def patient_get(*, user: Any, patient_id: int, organisation: Organisation | None = None) -> Patient:
    """The patient if the user may see them, else NotFound (never reveal that another clinic's patient exists)."""
    patient = patients_visible_to(user, organisation).filter(pk=patient_id).first()
    if patient is None:
        raise NotFound()
    return patient


def patient_search(*, user: Any, organisation: Organisation, query: str, limit: int = 20) -> QuerySet[Patient]:
    qs = patients_visible_to(user, organisation)
    for word in (query or "").split()[:4]:
        digits = "".join(ch for ch in word if ch.isdigit())
        condition = Q(family_name__icontains=word) | Q(given_name__icontains=word) | Q(email__icontains=word)
        if len(digits) >= 3:
            condition |= Q(phone__contains=digits)
        qs = qs.filter(condition)
    return qs.order_by("family_name", "given_name")[:limit]
