"""The demo clinic has billing to look at: a price list, a loyalty code, a paid invoice, a debt and a deposit."""

from __future__ import annotations

import pytest

from kabinet.billing.models import Account, Discount, Invoice, PriceList
from kabinet.demo.seed import seed

pytestmark = pytest.mark.django_db


def test_the_demo_clinic_has_a_price_list_paid_and_unpaid_invoices_and_a_deposit() -> None:
    org = seed().organisation
    assert PriceList.objects.filter(organisation=org).count() == 1
    assert Discount.objects.filter(organisation=org, code="GOLD10").exists()
    statuses = sorted(Invoice.objects.filter(organisation=org).values_list("status", flat=True))
    assert statuses == ["paid", "paid", "paid", "partially_paid"]  # one paid is the consultation contract's
    assert Account.objects.filter(organisation=org, debt__gt=0).count() == 1
    assert Account.objects.filter(organisation=org, deposit__gt=0).count() == 1
    seed()
    assert Invoice.objects.filter(organisation=org).count() == 4
