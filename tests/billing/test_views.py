"""Billing pages: checkout of a visit through the forms, the invoice list and page, price list editor, cash report
(page and CSV), the patient card's Billing tab and debt flag, the patient list's debt filter, the portal page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kabinet.billing import services
from kabinet.billing.models import Invoice, Payment, PriceItem

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user, backend="kabinet.accounts.backends.EmailOrPhoneBackend")
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_checkout_of_a_visit_from_draft_to_paid_with_the_deposit(bill) -> None:
    desk = client_for(bill.registrar)
    url = reverse("billing:checkout", args=[bill.visit.pk])
    page = desk.get(url)
    assert page.status_code == 200 and b"Create invoice" in page.content
    # Checkout books the next visit too (same doctor and service, then the reminder card).
    assert f'href="{reverse("frontdesk:next_visit", args=[bill.visit.pk])}"' in page.content.decode()
    desk.post(reverse("billing:checkout_create", args=[bill.visit.pk]), {"payer": "", "discount_code": ""})
    invoice = Invoice.objects.get(appointment=bill.visit)
    actions = {name: reverse(f"billing:{name}", args=[invoice.pk]) for name in ("line_add", "issue", "pay", "discount")}
    response = desk.post(
        actions["line_add"],
        {
            "service": bill.clinic.staff_only.pk,
            "quantity": "1",
            "discount_kind": "percent",
            "discount_value": "50",
            "next": url,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url
    assert "The line is added." in messages_of(response)
    desk.post(actions["issue"], {"next": url})
    services.deposit_add(
        actor=bill.registrar,
        patient=bill.patient,
        location=bill.clinic.location,
        method="cash",
        amount=Decimal("30"),
        currency="EUR",
    )
    page = desk.get(url)
    content = page.content.decode()
    assert "Pay 30.00 EUR from the deposit" in content and "110.00 EUR" in content
    refused = desk.post(actions["pay"], {"method": "card", "amount": "200", "next": url}, follow=True)
    assert any("still lacks only 110.00 EUR" in m for m in messages_of(refused))
    desk.post(actions["pay"], {"method": "deposit", "amount": "30.00", "next": url})
    done = desk.post(actions["pay"], {"method": "card", "amount": "80", "next": url}, follow=True)
    assert "Payment of 80.00 EUR (card) is recorded." in messages_of(done)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount) == ("paid", Decimal("110.00"))
    assert f"{reverse('billing:invoice_pdf', args=[invoice.pk])}?kind=act" in done.content.decode()
    pdf = desk.get(reverse("billing:invoice_pdf", args=[invoice.pk]), {"kind": "act"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_doctors_see_the_invoice_but_the_forms_and_actions_are_closed_to_them(bill) -> None:
    invoice = services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    doctor = client_for(bill.doctor)
    page = doctor.get(reverse("billing:invoice", args=[invoice.pk]))
    assert page.status_code == 200 and b"Issue invoice" not in page.content
    assert doctor.post(reverse("billing:issue", args=[invoice.pk])).status_code == 403
    assert doctor.get(reverse("billing:cash_report")).status_code == 403
    invoice.refresh_from_db()
    assert invoice.is_draft


def test_other_clinics_patients_and_anonymous_visitors_get_no_billing_pages(bill) -> None:
    invoice = services.invoice_issue(
        actor=bill.registrar, invoice=services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    )
    outsider = client_for(bill.outsider)
    assert outsider.get(reverse("billing:invoice", args=[invoice.pk])).status_code == 404
    assert outsider.get(reverse("billing:checkout", args=[bill.visit.pk])).status_code == 404
    assert (
        outsider.post(reverse("billing:pay", args=[invoice.pk]), {"method": "cash", "amount": "1"}).status_code == 404
    )
    assert outsider.get(reverse("billing:invoice_pdf", args=[invoice.pk])).status_code == 404
    assert b"Patient Petya" not in outsider.get(reverse("billing:invoices")).content
    patient = client_for(bill.patient_user)
    assert patient.get(reverse("billing:invoice", args=[invoice.pk])).status_code == 403
    assert patient.get(reverse("billing:invoice_pdf", args=[invoice.pk]), {"kind": "receipt"}).status_code == 200
    login = Client().get(reverse("billing:invoices"))
    assert login.status_code == 302 and login["Location"].startswith("/accounts/login/")
    assert not Payment.objects.exists()


def test_the_invoice_list_filters_by_status_and_text(bill) -> None:
    paid = services.invoice_issue(
        actor=bill.registrar, invoice=services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    )
    services.payment_take(actor=bill.registrar, invoice=paid, method="cash", amount=Decimal("50"), currency="EUR")
    services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.ward_visit)
    desk = client_for(bill.registrar)
    everything = desk.get(reverse("billing:invoices")).content.decode()
    assert paid.number in everything and "draft" in everything
    drafts = desk.get(reverse("billing:invoices"), {"status": "draft"}).content.decode()
    assert paid.number not in drafts and "Patient Kid" in drafts
    partial = desk.get(reverse("billing:invoices"), {"q": "Kid"}, headers={"HX-Request": "true"})
    assert b"<html" not in partial.content and b"Patient Kid" in partial.content


def test_administrators_edit_a_price_list_and_registrars_only_read_it(bill) -> None:
    admin = client_for(bill.admin)
    response = admin.post(
        reverse("billing:price_lists"),
        {"location": bill.clinic.location.pk, "name": "Winter 2030", "valid_from": "2030-01-01", "valid_to": ""},
    )
    price_list = bill.clinic.location.price_lists.get()
    assert response["Location"] == reverse("billing:price_list", args=[price_list.pk])
    url = reverse("billing:price_list", args=[price_list.pk])
    form = {"name": "Winter 2030", "valid_from": "2030-01-01", "valid_to": "2030-02-28"}
    bad = admin.post(url, {**form, f"price_{bill.clinic.service.pk}": "-3"})
    assert bad.status_code == 422
    admin.post(url, {**form, f"price_{bill.clinic.service.pk}": "65.50"})
    assert PriceItem.objects.get().price == Decimal("65.50")
    desk = client_for(bill.registrar)
    page = desk.get(url)
    assert page.status_code == 200 and b"Save prices" not in page.content
    assert desk.post(url, {**form, f"price_{bill.clinic.service.pk}": "1"}).status_code == 403
    assert PriceItem.objects.get().price == Decimal("65.50")
    admin.post(
        reverse("billing:discount_create"),
        {"name": "Family", "kind": "percent", "value": "5", "patient_card": bill.patient.card_number},
    )
    assert b"Family" in admin.get(reverse("billing:price_lists")).content


def test_the_cash_report_page_and_csv(bill) -> None:
    invoice = services.invoice_issue(
        actor=bill.registrar, invoice=services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    )
    services.payment_take(actor=bill.registrar, invoice=invoice, method="cash", amount=Decimal("50"), currency="EUR")
    services.refund_make(actor=bill.registrar, invoice=invoice, method="cash", amount=Decimal("5"), currency="EUR")
    services.deposit_add(
        actor=bill.registrar,
        patient=bill.ward,
        location=bill.clinic.location,
        method="card",
        amount=Decimal("20"),
        currency="EUR",
    )
    desk = client_for(bill.registrar)
    today = timezone.localdate(timezone=bill.clinic.location.zone).isoformat()
    query = {"location": bill.clinic.location.pk, "date": today}
    page = desk.get(reverse("billing:cash_report"), query).content.decode()
    assert "1 invoice issued for 50.00 EUR" in page
    assert "65.00 EUR" in page  # 50 cash + 20 card − 5 refunded
    response = desk.get(reverse("billing:cash_report"), {**query, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_label = {row[0]: row for row in rows}
    assert by_label["cash"][1:] == ["50.00", "1", "5.00", "1", "45.00"]
    assert by_label["card"][1:] == ["20.00", "1", "0.00", "0", "20.00"]
    assert by_label["Total (without the deposit)"][1] == "70.00"
    assert by_label["Invoices issued"][1] == "1"


def test_the_patient_card_has_a_billing_tab_and_the_debt_flag_and_the_list_a_debt_filter(bill) -> None:
    invoice = services.invoice_issue(
        actor=bill.registrar, invoice=services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    )
    services.payment_take(actor=bill.registrar, invoice=invoice, method="cash", amount=Decimal("20"), currency="EUR")
    desk = client_for(bill.registrar)
    card = desk.get(reverse("patients:card", args=[bill.patient.pk]), {"tab": "billing"}).content.decode()
    assert "Debt: 30.00 EUR" in card
    assert 'data-testid="card-debt">30.00 EUR' in card and invoice.number in card
    assert reverse("billing:checkout", args=[bill.ward_visit.pk]) not in card  # the ward's visit is on the ward's card
    owing = desk.get(reverse("patients:list"), {"debt": "on"}).content.decode()
    assert "Patient Petya" in owing and "Stranger" not in owing
    api = desk.get("/api/v1/patients", {"debt": "false"}).json()
    assert bill.patient.pk not in {row["id"] for row in (api if isinstance(api, list) else api["items"])}
    deposit = desk.post(
        reverse("billing:deposit", args=[bill.patient.pk]),
        {"direction": "in", "location": bill.clinic.location.pk, "method": "cash", "amount": "15", "note": ""},
    )
    assert deposit.status_code == 302
    assert Payment.objects.filter(invoice__isnull=True, deposit_amount=Decimal("15")).exists()


def test_the_portal_lists_own_and_wards_invoices_with_balances(bill) -> None:
    own = services.invoice_issue(
        actor=bill.registrar, invoice=services.invoice_create_for_visit(actor=bill.registrar, appointment=bill.visit)
    )
    ward = services.invoice_issue(
        actor=bill.registrar,
        invoice=services.invoice_create_for_visit(
            actor=bill.registrar, appointment=bill.ward_visit, payer=bill.patient
        ),
    )
    page = client_for(bill.patient_user).get(reverse("portal:invoices")).content.decode()
    assert own.number in page and ward.number in page
    assert "350.00 EUR" in page  # what the parent's account owes for both
    assert f"{reverse('billing:invoice_pdf', args=[ward.pk])}?kind=act" in page
    assert own.number not in client_for(bill.stranger_user).get(reverse("portal:invoices")).content.decode()
