"""The staff calendar: day view per doctor for a location, week view per doctor, live updates."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from kabinet.core import permissions, tenancy


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    organisation = tenancy.current_organisation(request)
    if organisation is None or not permissions.is_staff_of(request.user, organisation):
        return render(request, "403.html", status=403)
    return render(request, "scheduling/calendar.html", {"organisation": organisation})


urlpatterns = [
    path("", calendar, name="calendar"),
]
