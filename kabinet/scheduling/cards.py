"""The Appointments tab of the patient card (registered into kabinet.patients.cards at start-up): the patient's
upcoming and past visits, each linking to the staff calendar at its day; the badge counts the upcoming ones."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kabinet.patients import cards
from kabinet.scheduling import selectors


def appointments_tab(user: Any, patient: Any) -> dict[str, Any]:
    visits = selectors.patient_visits(user=user, patient=patient)
    return {"visits": visits, "badge": visits.upcoming_count or None}


def register() -> None:
    cards.register_tab(
        "appointments", _("Appointments"), "scheduling/_card_appointments.html", appointments_tab, order=10
    )
