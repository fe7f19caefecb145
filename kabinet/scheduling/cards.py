"""The Appointments tab of the patient card (registered into kabinet.patients.cards at start-up): the patient's
upcoming and past visits, each linking to the staff calendar at its day; the badge counts the upcoming ones. For
the clinical roles a completed visit can be recorded as a procedure in the medical record (records' own form)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kabinet.patients import cards
from kabinet.records import access
from kabinet.scheduling import selectors


def appointments_tab(user: Any, patient: Any) -> dict[str, Any]:
    visits = selectors.patient_visits(user=user, patient=patient)
    return {
        "visits": visits,
        "badge": visits.upcoming_count or None,
        # A completed visit offers "Record as procedure" (the Medical tab's form, filled in) to the clinical roles.
        "can_record_procedure": access.can_write_medical(user, patient.organisation_id),
    }


def register() -> None:
    cards.register_tab(
        "appointments", _("Appointments"), "scheduling/_card_appointments.html", appointments_tab, order=10
    )
