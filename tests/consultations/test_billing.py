"""Paid consultations through billing: the invoice a paid contract or request gets, its payments and refunds
moving the payment state, cancellation crediting an unpaid invoice, and who may bill."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from kabinet.accounts.models import User
from kabinet.accounts.services import api_token_create
from kabinet.audit.models import AuditEvent
from kabinet.billing.models import CreditNote, Invoice, LedgerEntry
from kabinet.billing.services import deposit_add, invoice_cancel, payment_take, refund_make, sale_invoice_create
from kabinet.consultations import services
from kabinet.consultations.models import ConsultationContract, ConsultationPolicy, ConsultationRequest
from kabinet.core.exceptions import Conflict, NotAllowed
from tests.consultations.conftest import Consult

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


def paid_contract(consult: Consult, price: str = "60.00", **kwargs: object) -> ConsultationContract:
    today = timezone.localdate()
    contract = services.contract_create(
        actor=consult.clinic.registrar,
        patient=consult.other_patient,
        doctor=consult.clinic.doctor,
        location=consult.clinic.location,
        starts_on=kwargs.pop("starts_on", today),  # type: ignore[arg-type]
        ends_on=kwargs.pop("ends_on", today + timedelta(days=30)),  # type: ignore[arg-type]
        price=price,
        **kwargs,  # type: ignore[arg-type]
    )
    contract.refresh_from_db()
    return contract


def pay(consult: Consult, invoice: Invoice, amount: str, method: str = "cash") -> None:
    invoice.refresh_from_db()
    payment_take(actor=consult.clinic.registrar, invoice=invoice, method=method, amount=amount, currency="EUR")


def payment_events(item: ConsultationContract | ConsultationRequest) -> list[AuditEvent]:
    kind = "contract" if isinstance(item, ConsultationContract) else "request"
    return list(AuditEvent.objects.filter(action=f"consultation.{kind}.payment", object_id=str(item.pk)))


def test_a_paid_contract_is_billed_with_one_issued_line_in_the_clinics_currency(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00", starts_on=timezone.localdate(), activate=True)
    invoice = contract.invoice
    assert invoice is not None and contract.payment_state == "unpaid"
    assert (invoice.status, invoice.total, invoice.currency) == (
        "issued",
        Decimal("60.00"),
        consult.clinic.org.currency,
    )
    assert invoice.patient_id == consult.other_patient.pk and invoice.location_id == consult.clinic.location.pk
    assert invoice.number and invoice.service_date == contract.starts_on
    [line] = invoice.lines.all()
    assert line.description.startswith("Written consultation, ") and line.total == Decimal("60.00")
    assert LedgerEntry.objects.filter(invoice=invoice, kind="charge", amount=Decimal("-60.00")).exists()
    created = AuditEvent.objects.get(action="consultation.contract.created", object_id=str(contract.pk))
    assert created.after is not None and created.after["invoice"] == invoice.pk


def test_a_free_contract_and_a_free_request_create_no_invoice(consult: Consult) -> None:
    assert consult.contract.invoice is None and consult.contract.payment_state == "free"
    request = services.request_create(
        actor=consult.patient_user, patient=consult.clinic.patient, kind="question", question="Free?"
    )
    assert request.invoice is None and request.payment_state == "free"
    assert not Invoice.objects.exists()


def test_the_line_is_written_in_the_patients_language(consult: Consult) -> None:
    consult.other_patient.language = "ru"
    consult.other_patient.save(update_fields=["language"])
    contract = paid_contract(consult, kind="phone")
    assert contract.invoice is not None
    assert contract.invoice.lines.get().description.startswith("Консультация по телефону")


def test_the_patients_standing_discount_does_not_change_the_price(consult: Consult) -> None:
    from kabinet.billing.services import discount_create

    discount_create(
        actor=consult.admin,
        organisation=consult.clinic.org,
        name="Family",
        kind="percent",
        value=Decimal("10"),
        patient=consult.other_patient,
    )
    contract = paid_contract(consult, "50.00")
    assert contract.invoice is not None and contract.invoice.total == Decimal("50.00")


def test_paying_the_invoice_in_full_marks_the_contract_paid_once(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00")
    assert contract.invoice is not None
    pay(consult, contract.invoice, "20.00")
    contract.refresh_from_db()
    assert contract.payment_state == "unpaid" and not payment_events(contract)
    pay(consult, contract.invoice, "40.00", method="card")
    contract.refresh_from_db()
    assert contract.payment_state == "paid"
    [event] = payment_events(contract)
    assert event.after is not None
    assert event.before == {"payment_state": "unpaid"} and event.after["payment_state"] == "paid"
    assert event.actor_id == consult.clinic.registrar.pk


def test_paying_from_the_deposit_marks_the_contract_paid(consult: Consult) -> None:
    contract = paid_contract(consult, "30.00")
    deposit_add(
        actor=consult.admin,
        patient=consult.other_patient,
        location=consult.clinic.location,
        method="cash",
        amount="100",
        currency="EUR",
    )
    assert contract.invoice is not None
    pay(consult, contract.invoice, "30.00", method="deposit")
    contract.refresh_from_db()
    assert contract.payment_state == "paid"


def test_a_full_refund_marks_it_refunded_and_crediting_it_afterwards_changes_nothing(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00")
    invoice = contract.invoice
    assert invoice is not None
    pay(consult, invoice, "60.00")
    refund_make(actor=consult.admin, invoice=invoice, method="cash", amount="10.00", currency="EUR")
    contract.refresh_from_db()
    assert contract.payment_state == "unpaid"  # part refunded: 50 of 60 paid
    invoice.refresh_from_db()
    refund_make(actor=consult.admin, invoice=invoice, method="cash", amount="50.00", currency="EUR")
    contract.refresh_from_db()
    assert contract.payment_state == "refunded"
    events = len(payment_events(contract))
    invoice_cancel(actor=consult.admin, invoice=invoice, reason="Refunded in full")
    contract.refresh_from_db()
    assert contract.payment_state == "refunded" and len(payment_events(contract)) == events


def test_cancelling_an_unpaid_draft_credits_its_invoice(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00")
    services.contract_cancel(actor=consult.admin, contract=contract, reason="changed their mind")
    contract.refresh_from_db()
    assert contract.invoice is not None
    assert (contract.status, contract.payment_state, contract.invoice.status) == ("cancelled", "refunded", "cancelled")
    credit = CreditNote.objects.get(invoice=contract.invoice)
    assert credit.amount == Decimal("60.00")


def test_cancelling_a_paid_draft_leaves_the_invoice_for_the_desk_to_refund(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00")
    assert contract.invoice is not None
    pay(consult, contract.invoice, "60.00")
    services.contract_cancel(actor=consult.admin, contract=contract)
    contract.refresh_from_db()
    contract.invoice.refresh_from_db()
    assert (contract.status, contract.payment_state, contract.invoice.status) == ("cancelled", "paid", "paid")


def test_an_open_contract_cannot_be_cancelled_and_keeps_its_invoice(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00", activate=True)
    with pytest.raises(Conflict):
        services.contract_cancel(actor=consult.admin, contract=contract)
    assert contract.invoice is not None
    contract.invoice.refresh_from_db()
    assert contract.invoice.status == "issued" and not CreditNote.objects.exists()


def test_a_renewal_is_billed_at_its_own_price(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00", activate=True)
    renewal = services.contract_renew(
        actor=consult.admin, contract=contract, ends_on=contract.ends_on + timedelta(days=30), price="45"
    )
    assert renewal.invoice is not None and renewal.invoice.total == Decimal("45.00")
    assert renewal.invoice.pk != contract.invoice_id


def test_a_paid_request_submitted_by_the_patient_is_billed_paid_and_its_cancel_credits(consult: Consult) -> None:
    ConsultationPolicy.objects.create(
        organisation=consult.clinic.org, question_price=Decimal("15"), callback_price=Decimal("20")
    )
    question = services.request_create(
        actor=consult.other_patient_user, patient=consult.other_patient, kind="question", question="Contagious?"
    )
    assert question.invoice is not None and question.invoice.total == Decimal("15.00")
    assert question.invoice.lines.get().description == "Remote consultation: written question"
    pay(consult, question.invoice, "15.00")
    question.refresh_from_db()
    assert question.payment_state == "paid" and len(payment_events(question)) == 1

    callback = services.request_create(actor=consult.other_patient_user, patient=consult.other_patient, kind="callback")
    assert callback.invoice is not None
    services.request_cancel(actor=consult.other_patient_user, request=callback)
    callback.refresh_from_db()
    assert (callback.status, callback.payment_state) == ("cancelled", "refunded")
    assert CreditNote.objects.filter(invoice=callback.invoice).exists()


def test_a_taken_request_cannot_be_cancelled_and_its_invoice_stays(consult: Consult) -> None:
    ConsultationPolicy.objects.create(organisation=consult.clinic.org, callback_price=Decimal("20"))
    request = services.request_create(actor=consult.other_patient_user, patient=consult.other_patient, kind="callback")
    services.request_take(actor=consult.doctor_user, request=request)
    with pytest.raises(Conflict):
        services.request_cancel(actor=consult.other_patient_user, request=request)
    assert request.invoice is not None
    request.invoice.refresh_from_db()
    assert request.invoice.status == "issued"


def test_only_the_desk_or_the_patient_side_can_buy(consult: Consult) -> None:
    for actor in (consult.patient_user, consult.doctor_user, consult.outsider):
        with pytest.raises(NotAllowed):
            sale_invoice_create(
                actor=actor, patient=consult.other_patient, description="Consultation", amount=Decimal("10")
            )
    assert not Invoice.objects.exists()


def test_without_a_location_the_clinics_first_location_bills(consult: Consult) -> None:
    ConsultationPolicy.objects.create(organisation=consult.clinic.org, question_price=Decimal("15"))
    request = services.request_create(
        actor=consult.other_patient_user, patient=consult.other_patient, kind="question", question="Where?"
    )
    assert request.invoice is not None and request.invoice.location_id == consult.clinic.location.pk


# --- API -----------------------------------------------------------------------------------------------------------


def api(user: User) -> Client:
    _, raw = api_token_create(user=user, name="phone")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_the_api_shows_the_invoice_and_the_payment_state_of_contracts_and_requests(consult: Consult) -> None:
    today = timezone.localdate()
    body = {
        "patient": consult.other_patient.pk,
        "doctor": consult.clinic.doctor.pk,
        "ends_on": (today + timedelta(days=14)).isoformat(),
        "price": "40.00",
    }
    response = api(consult.clinic.registrar).post("/api/v1/contracts", body, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    invoice = Invoice.objects.get()
    assert (created["payment_state"], created["invoice"]) == ("unpaid", invoice.pk)
    pay(consult, invoice, "40.00")
    rows = {c["id"]: c for c in api(consult.other_patient_user).get("/api/v1/contracts").json()}
    assert (rows[created["id"]]["payment_state"], rows[created["id"]]["invoice"]) == ("paid", invoice.pk)
    free = {c["id"]: c for c in api(consult.patient_user).get("/api/v1/contracts").json()}[consult.contract.pk]
    assert (free["payment_state"], free["invoice"]) == ("free", None)

    ConsultationPolicy.objects.create(organisation=consult.clinic.org, callback_price=Decimal("20"))
    response = api(consult.other_patient_user).post(
        "/api/v1/consultation-requests",
        {"patient": consult.other_patient.pk, "kind": "callback"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    request = ConsultationRequest.objects.get()
    assert response.json()["invoice"] == request.invoice_id is not None
    assert response.json()["payment_state"] == "unpaid"


def test_another_clinics_administrator_sees_neither_the_contract_nor_its_invoice(consult: Consult) -> None:
    contract = paid_contract(consult, "60.00", activate=True)
    assert contract.invoice is not None
    assert api(consult.outsider).get("/api/v1/contracts").json() == []
    assert api(consult.outsider).get(f"/api/v1/invoices/{contract.invoice.pk}").status_code == 404
    page = Client()
    page.force_login(consult.outsider)
    assert page.get(f"/consultations/contracts/{contract.pk}/").status_code == 404
    assert page.get(f"/billing/invoices/{contract.invoice.pk}/").status_code == 404


# --- pages ---------------------------------------------------------------------------------------------------------


def test_staff_see_the_payment_and_the_invoice_on_the_contract_page_and_lists(
    consult: Consult, login_client: Login
) -> None:
    contract = paid_contract(consult, "60.00", activate=True)
    assert contract.invoice is not None
    link = f'href="/billing/invoices/{contract.invoice.pk}/"'
    client = login_client(consult.clinic.registrar)
    page = client.get(f"/consultations/contracts/{contract.pk}/").content.decode()
    assert link in page and "awaiting payment" in page and contract.invoice.number in page
    assert "Save the payment" not in page  # the invoice decides, not a hand-set state
    listing = client.get("/consultations/contracts/").content.decode()
    assert link in listing and 'data-payment="unpaid"' in listing
    card = client.get(f"/patients/{consult.other_patient.pk}/?tab=consultations").content.decode()
    assert link in card

    pay(consult, contract.invoice, "60.00")
    listing = client.get("/consultations/contracts/").content.decode()
    assert 'data-payment="paid"' in listing


def test_doctors_see_the_payment_of_waiting_requests_in_the_queue(consult: Consult, login_client: Login) -> None:
    ConsultationPolicy.objects.create(organisation=consult.clinic.org, question_price=Decimal("15"))
    request = services.request_create(
        actor=consult.other_patient_user, patient=consult.other_patient, kind="question", question="Contagious?"
    )
    assert request.invoice is not None
    page = login_client(consult.doctor_user).get("/consultations/queue/").content.decode()
    assert f"/billing/invoices/{request.invoice.pk}/" in page and 'data-payment="unpaid"' in page
    detail = login_client(consult.doctor_user).get(f"/consultations/requests/{request.pk}/").content.decode()
    assert f"/billing/invoices/{request.invoice.pk}/" in detail


def test_the_patient_sees_what_awaits_payment_and_may_still_write(consult: Consult, login_client: Login) -> None:
    contract = paid_contract(consult, "60.00", activate=True)
    ConsultationPolicy.objects.create(organisation=consult.clinic.org, question_price=Decimal("15"))
    request = services.request_create(
        actor=consult.other_patient_user, patient=consult.other_patient, kind="question", question="Contagious?"
    )
    assert contract.invoice is not None and request.invoice is not None
    client = login_client(consult.other_patient_user)
    index = client.get("/my/consultations/").content.decode()
    assert f'data-payment-due="{contract.invoice.pk}"' in index and "Awaiting payment: 60.00 EUR" in index
    assert f'data-payment-due="{request.invoice.pk}"' in index and "Awaiting payment: 15.00 EUR" in index
    url = f"/my/consultations/{contract.conversation_id}/"
    page = client.get(url).content.decode()
    assert "Awaiting payment: 60.00 EUR" in page and 'data-writable="true"' in page
    assert client.post(url, {"m-text": "Hello before paying"}).status_code == 302
    assert contract.conversation is not None and contract.conversation.messages.filter(text="Hello before paying")

    pay(consult, contract.invoice, "25.00")
    assert "Awaiting payment: 35.00 EUR" in client.get(url).content.decode()
    pay(consult, contract.invoice, "35.00")
    assert "data-payment-due" not in client.get(url).content.decode()
