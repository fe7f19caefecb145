"""The billing parts of the patients app, registered at start-up: the card's Billing tab and its "debt" flag
(kabinet.patients.cards), and the "debt" criterion of the patient list (kabinet.patients.filters)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from kabinet.billing import selectors
from kabinet.billing.forms import DepositForm
from kabinet.billing.models import Account
from kabinet.billing.pricing import format_money
from kabinet.core.models import Organisation
from kabinet.patients import cards, filters
from kabinet.patients.filters import PatientCriteria


def billing_tab(user: Any, patient: Any) -> dict[str, Any]:
    data = selectors.patient_billing(user=user, patient=patient)
    locations = selectors.locations_of(patient.organisation)
    return {
        "billing": data,
        "currency": patient.organisation.currency,
        "badge": format_money(data.balance.debt) if data.balance.debt > 0 else None,
        "deposit_form": DepositForm(locations=locations) if data.can_write else None,
    }


def debt_flag(user: Any, patient: Any) -> str:
    """What the patient's account owes, formatted ("12.50 EUR"); "" when nothing (the header then shows no flag)."""
    _deposit, debt = selectors.account_figures(patient)
    return format_money(debt, patient.organisation.currency) if debt > 0 else ""


def debt_filter(qs: QuerySet[Any], criteria: PatientCriteria, organisation: Organisation) -> QuerySet[Any]:
    """`debt=True`: patients whose account owes money; `debt=False`: those who owe nothing."""
    wanted = criteria.extra.get("debt")
    if wanted is None:
        return qs
    owes = Exists(Account.objects.filter(patient=OuterRef("pk"), debt__gt=0))
    return qs.filter(owes) if wanted else qs.exclude(owes)


def register() -> None:
    cards.register_tab("billing", _("Billing"), "billing/_card_billing.html", billing_tab, order=70)
    cards.register_flag("debt", debt_flag)
    filters.register_filter("debt", debt_filter)
