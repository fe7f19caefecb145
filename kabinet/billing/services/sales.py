"""Invoices for what other apps sell (a consultation contract, a one-off consultation request): billed and, while
unpaid, cancelled as one step of that app's use case, in its transaction.

The selling app decides who may buy — a patient may order a paid written question in the portal themselves — so
these do not ask for the desk's role: the actor is the desk, the patient (or whoever acts for them), or None for
the clock; anyone else is refused. The invoice is issued at once with one line (so the patient can pay it at the
desk or from the deposit) and follows billing's rules from then on; the seller learns of payments and refunds
through `kabinet.billing.hooks`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kabinet.billing import access, selectors
from kabinet.billing.models import Invoice
from kabinet.billing.services.invoices import LineInput, _cancel, _create, _issue
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.core.models import Location
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids


def _require_buyer(actor: Any, patient: Patient) -> None:
    if actor is None or access.can_write(actor, patient.organisation_id) or patient.pk in own_patient_ids(actor):
        return
    raise NotAllowed(_("Only the clinic's desk or the patient can buy this."))


def sale_invoice_create(
    *,
    actor: Any,
    patient: Patient,
    description: str,
    amount: Decimal,
    location: Location | None = None,
    service_date: date | None = None,
) -> Invoice:
    """An issued invoice of one line (`description`, `amount` in the organisation's currency) for the patient, at
    `location` or, without one, the clinic's first active location. The seller set the price, so the patient's
    standing discount does not apply. Charges the patient's account like any issued invoice."""
    _require_buyer(actor, patient)
    if amount <= 0:
        raise Invalid(errors={"amount": [_("The amount must be more than zero.")]}, code="amount_not_positive")
    if location is None or not location.is_active:
        location = selectors.locations_of(patient.organisation).first()
    if location is None:
        raise Invalid(_("The clinic has no active location to bill from."), code="no_location")
    with transaction.atomic():
        invoice = _create(
            actor=actor,
            patient=patient,
            location=location,
            lines=[LineInput(description=description, unit_price=amount)],
            service_date=service_date,
            patient_discount=False,
        )
        return _issue(actor=actor, invoice=invoice)


def sale_invoice_cancel(*, actor: Any, invoice: Invoice, reason: str) -> bool:
    """Cancel a sale's invoice while nothing is paid on it (a draft is dropped, an issued one gets a credit note).
    False, and the invoice left as it is, when money was paid on it (the desk refunds it in billing) or it is
    already cancelled."""
    _require_buyer(actor, invoice.patient)
    with transaction.atomic():
        current = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
        if current.status == Invoice.Status.CANCELLED or current.paid_amount > 0:
            return False
        _cancel(actor=actor, invoice=current, reason=reason)
    return True
