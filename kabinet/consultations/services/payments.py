"""What consultations sell through billing: the invoice of a paid contract or one-off request, and its payment state
following that invoice.

Rules enforced here:
- a paid contract (price above zero) is billed when it is made — a draft or opened at once, a renewal included — so
  the patient can pay before it opens; a paid request is billed when it is submitted. The invoice (one line, the
  price, the clinic's currency) is issued in the same transaction and linked from the contract / request; free
  ones get none;
- consultations calls billing's services; billing tells consultations about payments through its invoice hook
  (kabinet.billing.hooks, registered in apps.py), so billing never imports consultations;
- the invoice fully paid (by any method, the deposit included) → PAID; refunded in full or cancelled by a credit
  note → REFUNDED; otherwise (issued, part paid, part refunded) → awaiting payment. Each change is audited once;
  the same state seen again changes nothing;
- cancelling an unpaid draft contract or a request cancels its invoice with a credit note; when money was paid the
  invoice stays and the desk refunds it in billing.
- nobody is stopped from writing while a consultation awaits payment: the clinic decides when it chases payment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.billing.models import Invoice, Payment
from kabinet.billing.services import sale_invoice_cancel, sale_invoice_create
from kabinet.consultations.models import ConsultationContract, ConsultationRequest, PaymentState


def _language(patient: Any) -> str:
    return str(patient.language or patient.organisation.default_language)


def _contract_line(contract: ConsultationContract) -> str:
    period = {"start": date_format(contract.starts_on, "j M Y"), "end": date_format(contract.ends_on, "j M Y")}
    if contract.kind == ConsultationContract.Kind.PHONE:
        return _("Phone consultation, %(start)s – %(end)s") % period
    if contract.kind == ConsultationContract.Kind.VIDEO:
        return _("Video consultation, %(start)s – %(end)s") % period
    return _("Written consultation, %(start)s – %(end)s") % period


def _request_line(request: ConsultationRequest) -> str:
    if request.kind == ConsultationRequest.Kind.CALLBACK:
        return _("Remote consultation: phone callback")
    return _("Remote consultation: written question")


def contract_bill(*, actor: Any, contract: ConsultationContract) -> Invoice | None:
    """Bill a paid contract (part of contract_create's transaction); None for a free one."""
    return _bill(actor=actor, item=contract, line=_contract_line, service_date=contract.starts_on)


def request_bill(*, actor: Any, request: ConsultationRequest) -> Invoice | None:
    """Bill a paid request (part of request_create's transaction); None for a free one."""
    return _bill(actor=actor, item=request, line=_request_line)


def _bill(*, actor: Any, item: Any, line: Callable[[Any], str], service_date: date | None = None) -> Invoice | None:
    """An invoice of one line (`line(item)`, in the patient's language) for a paid contract or request, linked to it."""
    if item.price <= 0:
        return None
    with translation.override(_language(item.patient)):
        description = line(item)
    invoice = sale_invoice_create(
        actor=actor,
        patient=item.patient,
        description=description,
        amount=item.price,
        location=item.location,
        service_date=service_date,
    )
    item.invoice = invoice
    item.save(update_fields=["invoice"])
    return invoice


def invoice_void(*, actor: Any, item: ConsultationContract | ConsultationRequest) -> bool:
    """Cancel the invoice of a contract / request being cancelled, unless money was paid on it (part of the
    cancelling transaction, called before the item's own row is locked: billing's lock order is invoice first)."""
    if item.invoice_id is None:
        return False
    invoice = Invoice.objects.select_related("patient", "organisation").get(pk=item.invoice_id)
    with translation.override(item.organisation.default_language):
        if isinstance(item, ConsultationContract):
            reason = _("Consultation contract cancelled")
        else:
            reason = _("Consultation request cancelled")
    return sale_invoice_cancel(actor=actor, invoice=invoice, reason=reason)


def payment_state_of(invoice: Invoice) -> str:
    """The payment state an invoice gives its contract or request."""
    if invoice.status == Invoice.Status.PAID:
        return PaymentState.PAID
    if invoice.status == Invoice.Status.CANCELLED:
        return PaymentState.REFUNDED  # credited in full: nothing is owed and nothing kept
    if invoice.paid_amount == 0 and Payment.objects.filter(invoice=invoice, kind=Payment.Kind.REFUND).exists():
        return PaymentState.REFUNDED
    return PaymentState.UNPAID


def on_invoice_changed(invoice: Invoice, *, actor: Any) -> None:
    """Billing's invoice hook: move the payment state of the contract / request billed by this invoice."""
    items: list[ConsultationContract | ConsultationRequest] = [
        *ConsultationContract.objects.filter(invoice_id=invoice.pk),
        *ConsultationRequest.objects.filter(invoice_id=invoice.pk),
    ]
    if not items:
        return
    state = payment_state_of(invoice)
    for item in items:
        if item.payment_state == state:
            continue
        kind = "contract" if isinstance(item, ConsultationContract) else "request"
        before = item.payment_state
        type(item).objects.filter(pk=item.pk).update(payment_state=state)
        item.payment_state = state
        record(
            actor=actor,
            action=f"consultation.{kind}.payment",
            obj=item,
            patient=item.patient_id,
            before={"payment_state": before},
            after={"payment_state": state, "invoice": invoice.pk, "invoice_status": invoice.status},
        )
