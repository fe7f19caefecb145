"""The billing API: invoices from visits or lines, issue, payments with their refusals (422 with the reason),
idempotent retries, refunds, PDFs, balances, deposits, the price list and the cash report; who may see and do what."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kabinet.billing import services
from kabinet.billing.models import Invoice, Payment

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user, backend="kabinet.accounts.backends.EmailOrPhoneBackend")
    return client


def post(client: Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(f"{API}{path}", json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def desk(bill) -> Client:
    return client_for(bill.registrar)


@pytest.fixture
def issued(bill) -> Invoice:
    invoice = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    return services.invoice_issue(actor=bill.registrar, invoice=invoice)


def test_a_registrar_bills_a_visit_issues_and_takes_a_card_payment(bill, desk) -> None:
    response = post(desk, "/invoices", {"appointment": bill.visit.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["total"], body["currency"]) == ("draft", "50.00", "EUR")
    assert body["lines"][0]["description"] == "Consultation"
    again = post(desk, "/invoices", {"appointment": bill.visit.pk})
    assert again.status_code == 409 and again.json()["code"] == "invoice_exists"
    assert again["Content-Type"] == "application/problem+json"

    issued = post(desk, f"/invoices/{body['id']}/issue", {})
    assert issued.status_code == 200 and issued.json()["status"] == "issued"
    assert issued.json()["number"].endswith("-000001")
    paid = post(desk, f"/invoices/{body['id']}/payments", {"method": "card", "amount": "50", "currency": "EUR"})
    assert paid.status_code == 201 and paid.json()["applied_amount"] == "50.00"
    invoice = desk.get(f"{API}/invoices/{body['id']}").json()
    assert (invoice["status"], invoice["paid_amount"], invoice["outstanding"]) == ("paid", "50.00", "0.00")
    assert invoice["payments"][0]["method"] == "card"


def test_an_invoice_with_lines_a_relative_payer_and_a_discount_code(bill, desk) -> None:
    services.discount_create(
        actor=bill.admin, organisation=bill.org, name="Card", kind="percent", value=Decimal("10"), code="LOYAL"
    )
    response = post(
        desk,
        "/invoices",
        {
            "patient": bill.ward.pk,
            "location": bill.clinic.location.pk,
            "payer": bill.patient.pk,
            "discount_code": "loyal",
            "lines": [
                {"service": bill.clinic.long_service.pk},
                {
                    "description": "Anaesthetic cream",
                    "quantity": "2",
                    "unit_price": "7.50",
                    "discount_kind": "fixed",
                    "discount_value": "1",
                },
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["patient"], body["account"]) == (bill.ward.pk, bill.patient.pk)
    assert [line["total"] for line in body["lines"]] == ["300.00", "14.00"]
    assert (body["subtotal"], body["discount_amount"], body["total"]) == ("314.00", "31.40", "282.60")
    added = post(desk, f"/invoices/{body['id']}/lines", {"description": "Gauze", "unit_price": "0.40"})
    assert added.status_code == 201 and added.json()["subtotal"] == "314.40"
    line_id = added.json()["lines"][-1]["id"]
    removed = desk.delete(f"{API}/invoices/{body['id']}/lines/{line_id}")
    assert removed.status_code == 200 and removed.json()["subtotal"] == "314.00"
    discount = post(desk, f"/invoices/{body['id']}/discount", {"kind": "fixed", "value": "14"})
    assert discount.json()["total"] == "300.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"patient": None, "lines": []}, "patient"),
        ({"lines": [{"description": "X", "unit_price": "1"}]}, "location"),
        ({"lines": []}, "lines"),
        ({"lines": [{"description": "", "unit_price": "1"}]}, "lines.0.description"),
        ({"lines": [{"description": "X"}]}, "lines.0.unit_price"),
        ({"lines": [{"description": "X", "unit_price": "-1"}]}, "lines.0.unit_price"),
        ({"lines": [{"description": "X", "unit_price": "1", "quantity": "0"}]}, "lines.0.quantity"),
    ],
)
def test_bad_invoices_are_422_with_the_field(bill, desk, body, field) -> None:
    payload = {"patient": bill.patient.pk, "location": bill.clinic.location.pk, **body}
    if field == "location":
        payload.pop("location")
    response = post(desk, "/invoices", payload)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"method": "cash", "amount": "0", "currency": "EUR"}, "amount_not_positive"),
        ({"method": "cash", "amount": "-10", "currency": "EUR"}, "amount_not_positive"),
        ({"method": "cash", "amount": "1.001", "currency": "EUR"}, "amount_precision"),
        ({"method": "card", "amount": "10", "currency": "BGN"}, "currency_mismatch"),
        ({"method": "cash", "amount": "60", "currency": "EUR"}, "overpayment"),
        ({"method": "deposit", "amount": "10", "currency": "EUR"}, "deposit_insufficient"),
        ({"method": "cheque", "amount": "10", "currency": "EUR"}, "validation_error"),
    ],
)
def test_bad_payments_are_422_with_the_reason(issued, desk, body, code) -> None:
    response = post(desk, f"/invoices/{issued.pk}/payments", body)
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["code"] == code and problem["detail"]
    assert not Payment.objects.exists()


def test_an_overpayment_goes_to_the_deposit_when_asked(bill, issued, desk) -> None:
    response = post(
        desk,
        f"/invoices/{issued.pk}/payments",
        {"method": "cash", "amount": "80", "currency": "EUR", "to_deposit": True},
    )
    assert response.status_code == 201
    assert (response.json()["applied_amount"], response.json()["deposit_amount"]) == ("50.00", "30.00")
    balance = desk.get(f"{API}/patients/{bill.patient.pk}/balance").json()
    assert balance == {
        "patient": bill.patient.pk,
        "currency": "EUR",
        "deposit": "30.00",
        "debt": "0.00",
        "balance": "30.00",
        "unpaid_for_patient": "0.00",
    }


def test_a_retried_payment_with_the_same_idempotency_key_is_taken_once(issued, desk) -> None:
    body = {"method": "cash", "amount": "20", "currency": "EUR"}
    first = post(desk, f"/invoices/{issued.pk}/payments", body, **{"Idempotency-Key": "desk-1-abc"})
    retry = post(desk, f"/invoices/{issued.pk}/payments", body, **{"Idempotency-Key": "desk-1-abc"})
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert Payment.objects.count() == 1
    other = post(desk, f"/invoices/{issued.pk}/payments", body, **{"Idempotency-Key": "desk-1-def"})
    assert other.status_code == 201 and Payment.objects.count() == 2
    issued.refresh_from_db()
    assert issued.paid_amount == Decimal("40.00")


def test_refunds_above_what_was_paid_are_422(issued, desk) -> None:
    post(desk, f"/invoices/{issued.pk}/payments", {"method": "card", "amount": "30", "currency": "EUR"})
    too_much = post(desk, f"/invoices/{issued.pk}/refunds", {"method": "card", "amount": "30.01", "currency": "EUR"})
    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_above_paid"
    ok = post(
        desk, f"/invoices/{issued.pk}/refunds", {"method": "card", "amount": "30", "currency": "EUR", "reason": "x"}
    )
    assert ok.status_code == 201 and ok.json()["kind"] == "refund"
    cancelled = post(desk, f"/invoices/{issued.pk}/cancel", {"reason": "Visit did not happen"})
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["credit_note"]) == ("cancelled", issued.number[:5] + "000002")


def test_the_act_of_services_pdf(issued, desk, pdf_text) -> None:
    response = desk.get(f"{API}/invoices/{issued.pk}/pdf", {"kind": "act", "language": "en"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="act-{issued.number}.pdf"'
    text = " ".join(pdf_text(response.content).split())
    assert "Act of services rendered" in text and "Consultation" in text and "Total 50.00 EUR" in text
    assert desk.get(f"{API}/invoices/{issued.pk}/pdf", {"kind": "contract"}).status_code == 422


def test_doctors_read_but_do_not_bill_or_take_money(bill, issued) -> None:
    doctor = client_for(bill.doctor)
    assert doctor.get(f"{API}/invoices/{issued.pk}").status_code == 200
    assert doctor.get(f"{API}/invoices").json()[0]["id"] == issued.pk
    assert post(doctor, "/invoices", {"appointment": bill.ward_visit.pk}).status_code == 403
    assert (
        post(
            doctor, f"/invoices/{issued.pk}/payments", {"method": "cash", "amount": "5", "currency": "EUR"}
        ).status_code
        == 403
    )
    assert (
        post(doctor, f"/invoices/{issued.pk}/refunds", {"method": "cash", "amount": "5", "currency": "EUR"}).status_code
        == 403
    )
    assert (
        doctor.get(f"{API}/cash-report", {"location": bill.clinic.location.pk, "date": "2030-01-01"}).status_code == 403
    )
    assert not Payment.objects.exists()


def test_patients_see_their_own_and_their_wards_invoices_read_only(bill, issued) -> None:
    ward_invoice = services.invoice_create_for_visit(
        actor=bill.registrar, appointment=bill.ward_visit, payer=bill.patient
    )
    draft_only = ward_invoice.pk
    parent = client_for(bill.patient_user)
    assert [row["id"] for row in parent.get(f"{API}/invoices").json()] == [issued.pk]  # drafts stay in the clinic
    services.invoice_issue(actor=bill.registrar, invoice=ward_invoice)
    assert {row["id"] for row in parent.get(f"{API}/invoices").json()} == {issued.pk, draft_only}
    assert parent.get(f"{API}/invoices/{draft_only}").status_code == 200
    assert parent.get(f"{API}/invoices/{issued.pk}/pdf", {"kind": "receipt"}).status_code == 200
    assert parent.get(f"{API}/patients/{bill.ward.pk}/balance").json()["unpaid_for_patient"] == "300.00"
    paying = post(parent, f"/invoices/{issued.pk}/payments", {"method": "card", "amount": "5", "currency": "EUR"})
    assert paying.status_code == 403
    stranger = client_for(bill.stranger_user)
    assert stranger.get(f"{API}/invoices").json() == []
    assert stranger.get(f"{API}/invoices/{issued.pk}").status_code == 404
    assert stranger.get(f"{API}/invoices/{issued.pk}/pdf").status_code == 404
    assert stranger.get(f"{API}/patients/{bill.patient.pk}/balance").status_code == 404


def test_another_clinic_sees_nothing_and_anonymous_callers_are_401(bill, issued) -> None:
    outsider = client_for(bill.outsider)
    assert outsider.get(f"{API}/invoices").json() == []
    for path in (f"/invoices/{issued.pk}", f"/invoices/{issued.pk}/pdf", f"/patients/{bill.patient.pk}/balance"):
        assert outsider.get(f"{API}{path}").status_code == 404
    paying = post(outsider, f"/invoices/{issued.pk}/payments", {"method": "cash", "amount": "5", "currency": "EUR"})
    assert paying.status_code == 404
    assert post(outsider, "/invoices", {"appointment": bill.visit.pk}).status_code == 422  # not their visit
    anonymous = Client()
    assert anonymous.get(f"{API}/invoices").status_code == 401
    assert (
        post(
            anonymous, f"/invoices/{issued.pk}/payments", {"method": "cash", "amount": "5", "currency": "EUR"}
        ).status_code
        == 401
    )


def test_deposits_price_list_and_cash_report(bill, issued, desk) -> None:
    location = bill.clinic.location
    deposit = post(
        desk,
        f"/patients/{bill.patient.pk}/deposits",
        {"location": location.pk, "method": "cash", "amount": "100", "currency": "EUR"},
    )
    assert deposit.status_code == 201 and deposit.json()["deposit_amount"] == "100.00"
    post(desk, f"/invoices/{issued.pk}/payments", {"method": "deposit", "amount": "50", "currency": "EUR"})
    price_list = services.price_list_create(
        actor=bill.admin, location=location, name="Promo", valid_from=bill.clinic.day
    )
    services.price_list_set_prices(
        actor=bill.admin, price_list=price_list, prices={bill.clinic.service.pk: Decimal("40")}
    )
    before = desk.get(
        f"{API}/price-list", {"location": location.pk, "date": (bill.clinic.day - timedelta(days=1)).isoformat()}
    )
    during = desk.get(f"{API}/price-list", {"location": location.pk, "date": bill.clinic.day.isoformat()})
    consultation = {row["service"]: row for row in during.json()}[bill.clinic.service.pk]
    assert consultation == {
        "service": bill.clinic.service.pk,
        "service_name": "Consultation",
        "price": "40.00",
        "currency": "EUR",
        "price_list": price_list.pk,
    }
    assert {row["service"]: row["price"] for row in before.json()}[bill.clinic.service.pk] == "50.00"
    today = timezone.localdate(timezone=location.zone).isoformat()
    report = desk.get(f"{API}/cash-report", {"location": location.pk, "date": today}).json()
    methods = {row["method"]: row for row in report["methods"]}
    assert methods["cash"]["taken"] == "100.00" and methods["deposit"]["taken"] == "50.00"
    assert (report["taken"], report["net"], report["invoices_issued"], report["deposit_in"]) == (
        "100.00",
        "100.00",
        1,
        "100.00",
    )


def test_the_billing_operations_are_in_the_openapi_document(desk) -> None:
    paths = desk.get(f"{API}/openapi.json").json()["paths"]
    for path in (
        "/api/v1/invoices",
        "/api/v1/invoices/{invoice_id}",
        "/api/v1/invoices/{invoice_id}/issue",
        "/api/v1/invoices/{invoice_id}/payments",
        "/api/v1/invoices/{invoice_id}/refunds",
        "/api/v1/invoices/{invoice_id}/pdf",
        "/api/v1/patients/{patient_id}/balance",
        "/api/v1/price-list",
    ):
        assert path in paths
