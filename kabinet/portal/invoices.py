"""Patient area: /my/invoices/ — the invoices of the patient's own and their wards' visits (and those billed to
them as payer), with the deposit and debt of each account and the PDFs to download. Read-only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kabinet.billing import selectors
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids


@login_required
@require_GET
def invoices(request: HttpRequest) -> HttpResponse:
    patients = Patient.objects.filter(pk__in=own_patient_ids(request.user)).select_related("organisation")
    balances = [selectors.balance_of(user=request.user, patient_id=p.pk) for p in patients.order_by("pk")]
    rows = selectors.invoices_list(user=request.user, organisation=None, filters=selectors.InvoiceFilter())
    context = {"balances": balances, "invoices": list(rows[: selectors.MAX_LIST])}
    return render(request, "portal/invoices.html", context)
