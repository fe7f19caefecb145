"""Audit search page and CSV export for administrators."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from kabinet.audit import selectors
from kabinet.audit.forms import AuditSearchForm
from kabinet.audit.models import AuditEvent
from kabinet.core import tenancy
from kabinet.core.exceptions import NotAllowed


class _Echo:
    def write(self, value: str) -> str:
        return value


def _events(request: HttpRequest) -> tuple[AuditSearchForm, QuerySet[AuditEvent]]:
    form = AuditSearchForm(request.GET or None)
    organisation = tenancy.current_organisation(request)
    if organisation is None:
        raise NotAllowed()
    return form, selectors.audit_events(user=request.user, organisation=organisation, filters=form.to_filter())


@login_required
def search(request: HttpRequest) -> HttpResponse:
    try:
        form, events = _events(request)
    except NotAllowed:
        return render(request, "403.html", status=403)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/search.html", {"form": form, "page": page, "query": query.urlencode()})


@login_required
def export_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        _, events = _events(request)
    except NotAllowed:
        return render(request, "403.html", status=403)
    writer = csv.writer(_Echo())
    header = [
        "id",
        "time",
        "actor",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "ip",
        "request_id",
        "before",
        "after",
        "hash",
    ]

    def rows() -> Iterator[str]:
        yield writer.writerow(header)
        for e in events.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    e.pk,
                    e.created_at.isoformat(),
                    e.actor_label,
                    e.action,
                    e.object_type,
                    e.object_id,
                    e.patient_id or "",
                    e.ip or "",
                    e.request_id,
                    e.before or "",
                    e.after or "",
                    e.hash,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
