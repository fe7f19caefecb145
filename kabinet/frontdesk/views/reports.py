"""Front-desk reports (/frontdesk/reports/): no-shows by doctor, service or location; refusals by reason; patients
outside the active base — as a page or as CSV (`?format=csv`, audited: it is a list of patients)."""

from __future__ import annotations

import csv
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kabinet.audit.services import record
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Organisation
from kabinet.frontdesk import selectors
from kabinet.frontdesk.forms import REPORTS, ReportForm
from kabinet.frontdesk.services.common import organisation_zone
from kabinet.frontdesk.views.common import staff_page

OUTSIDE_LIMIT = 500  # rows on the page; the CSV has them all


def _csv(filename: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # Excel opens UTF-8 (Cyrillic names) only with the byte-order mark
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


@require_GET
@staff_page
def reports(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    form = ReportForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    report = data.get("report") or "no_shows"
    by = data.get("by") or "doctor"
    try:
        span = selectors.period(data.get("start"), data.get("end"), organisation)
    except Invalid as exc:
        for field, errors in exc.errors.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        span = selectors.period(None, None, organisation)
    as_csv = request.GET.get("format") == "csv"
    zone = organisation_zone(organisation.pk)
    context: dict[str, Any] = {"form": form, "report": report, "by": by, "span": span, "reports": REPORTS}
    if report == "no_shows":
        rows = selectors.no_show_report(user=request.user, organisation=organisation, span=span, by=by)
        if as_csv:
            visits = selectors.no_show_visits(user=request.user, organisation=organisation, span=span)
            _audit(request, organisation, report, span, len(visits))
            return _csv(
                f"no-shows-{span.start}-{span.end}.csv",
                ["date", "time", "patient", "card", "doctor", "service", "location", "reason", "details"],
                [
                    [
                        f"{timezone.localtime(a.start, a.location.zone):%Y-%m-%d}",
                        f"{timezone.localtime(a.start, a.location.zone):%H:%M}",
                        str(a.patient),
                        a.patient.card_number,
                        str(a.practitioner.user),
                        a.service.display_name(),
                        a.location.name,
                        a.reason.display_name() if a.reason else "",
                        a.reason_note,
                    ]
                    for a in visits
                ],
            )
        context["rows"] = rows
        context["totals"] = (sum(r.visits for r in rows), sum(r.no_shows for r in rows))
    elif report == "refusals":
        rows_r = selectors.refusal_report(user=request.user, organisation=organisation, span=span)
        if as_csv:
            refusals = list(selectors.refusals_list(user=request.user, organisation=organisation, span=span))
            _audit(request, organisation, report, span, len(refusals))
            return _csv(
                f"refusals-{span.start}-{span.end}.csv",
                ["date", "patient", "card", "reason", "details", "recorded by"],
                [
                    [
                        f"{timezone.localtime(r.created_at, zone):%Y-%m-%d %H:%M}",
                        str(r.patient),
                        r.patient.card_number,
                        r.reason.display_name(),
                        r.note,
                        str(r.created_by) if r.created_by else "",
                    ]
                    for r in refusals
                ],
            )
        context["rows"] = rows_r
        context["refusals"] = selectors.refusals_list(user=request.user, organisation=organisation, span=span)[:100]
    else:
        patients = selectors.outside_active_base(
            user=request.user, organisation=organisation, status=data.get("status") or ""
        )
        if as_csv:
            everyone = list(patients)
            _audit(request, organisation, report, span, len(everyone))
            return _csv(
                "outside-active-base.csv",
                ["patient", "card", "phone", "status", "reason", "since", "last visit"],
                [
                    [
                        str(p),
                        p.card_number,
                        p.phone,
                        p.get_status_display(),
                        p.status_reason,
                        f"{timezone.localtime(p.status_changed_at, zone):%Y-%m-%d}" if p.status_changed_at else "",
                        f"{timezone.localtime(p.last_visit, zone):%Y-%m-%d}" if p.last_visit else "",  # type: ignore[attr-defined]
                    ]
                    for p in everyone
                ],
            )
        context["patients"] = list(patients[:OUTSIDE_LIMIT])
        context["total"] = patients.count()
        context["limit"] = OUTSIDE_LIMIT
    return render(request, "frontdesk/reports.html", context)


def _audit(request: HttpRequest, organisation: Organisation, report: str, span: Any, rows: int) -> None:
    record(
        actor=request.user,
        action="frontdesk.report_exported",
        object_type="frontdesk.report",
        object_id=report,
        organisation=organisation,
        after={"report": report, "start": span.start, "end": span.end, "rows": rows},
    )
