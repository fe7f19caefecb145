"""The daily cash report of a location: a page, and the same figures as CSV for the accountant."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kabinet.billing import access, selectors
from kabinet.billing.forms import CashReportForm
from kabinet.billing.selectors import CashReport
from kabinet.core.decorators import staff_page
from kabinet.core.models import Organisation


def _csv(report: CashReport) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cash-{report.location.pk}-{report.day.isoformat()}.csv"'
    response.write("\ufeff")  # a BOM, so spreadsheet programs read the Cyrillic names as UTF-8
    writer = csv.writer(response)
    writer.writerow(
        [_("Location"), report.location.name, _("Day"), report.day.isoformat(), _("Currency"), report.currency]
    )
    writer.writerow([_("Method"), _("Taken"), _("Payments"), _("Refunded"), _("Refunds"), _("Net")])
    for row in report.rows:
        writer.writerow([row.label, row.taken, row.taken_count, row.refunded, row.refunded_count, row.net])
    writer.writerow([_("Total (without the deposit)"), report.taken, "", report.refunded, "", report.net])
    writer.writerow([_("Invoices issued"), report.invoices_issued, _("for"), report.invoices_total])
    writer.writerow([_("Credit notes"), report.credit_notes])
    writer.writerow([_("Put on deposits"), report.deposit_in])
    return response


@require_GET
@staff_page
def cash_report(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    if not access.can_write(request.user, organisation):
        return render(request, "403.html", status=403)
    locations = list(selectors.locations_of(organisation))
    first = locations[0] if locations else None
    initial = {
        "location": first.pk if first else None,
        "date": timezone.localdate(timezone=first.zone) if first else timezone.localdate(),
    }
    form = CashReportForm(request.GET or None, locations=locations, initial=initial)
    report = None
    if form.is_bound and form.is_valid():
        location_id, day = form.cleaned_data["location"], form.cleaned_data["date"]
    elif not form.is_bound and first is not None:
        location_id, day = initial["location"], initial["date"]
    else:
        location_id = None
    if location_id is not None:
        report = selectors.cash_report(user=request.user, organisation=organisation, location_id=location_id, day=day)
        if request.GET.get("format") == "csv":
            return _csv(report)
    return render(request, "billing/cash_report.html", {"form": form, "report": report})
