"""The Consultations tab of the patient card (registered into kabinet.patients.cards at start-up): the patient's
contracts and a link to each conversation the viewer may read."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kabinet.consultations import selectors
from kabinet.patients import cards


def consultations_tab(user: Any, patient: Any) -> dict[str, Any]:
    contracts = list(selectors.contract_list(user=user).filter(patient=patient)[:50])
    readable = set(selectors.conversations_visible_to(user).filter(patient=patient).values_list("pk", flat=True))
    active = sum(1 for c in contracts if c.is_active)
    return {"contracts": contracts, "readable": readable, "badge": active or None}


def register() -> None:
    cards.register_tab(
        "consultations", _("Consultations"), "consultations/_card_consultations.html", consultations_tab, order=70
    )
