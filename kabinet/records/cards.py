"""The records parts of the patient card: the Documents and Consents tabs and the "missing documents" flag,
registered into kabinet.patients.cards at start-up."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kabinet.patients import cards
from kabinet.records import access, selectors


def documents_tab(user: Any, patient: Any) -> dict[str, Any]:
    documents = selectors.patient_documents(user=user, patient=patient, organisation=patient.organisation)
    return {
        "documents": documents,
        "badge": sum(1 for d in documents if d.is_active),
        "can_add": bool(access.writable_kinds(user, patient.organisation_id)),
    }


def consents_tab(user: Any, patient: Any) -> dict[str, Any]:
    checks = selectors.consent_checks(patient=patient)
    missing = sum(1 for c in checks if c.required and not c.ok)
    return {
        "checks": checks,
        "badge": missing or None,
        "can_add": bool(access.writable_kinds(user, patient.organisation_id)),
    }


def missing_documents_flag(user: Any, patient: Any) -> int | None:
    return selectors.missing_count(patient)


def register() -> None:
    cards.register_tab("documents", _("Documents"), "records/_card_documents.html", documents_tab, order=50)
    cards.register_tab("consents", _("Consents"), "records/_card_consents.html", consents_tab, order=60)
    cards.register_flag("missing_documents", missing_documents_flag)
