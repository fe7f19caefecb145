"""Schedules: shift templates, the month grid painted in minutes, time off, monthly hour norms."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from kabinet.core import permissions, tenancy


@login_required
def schedule(request: HttpRequest) -> HttpResponse:
    organisation = tenancy.current_organisation(request)
    if organisation is None or not permissions.is_staff_of(request.user, organisation):
        return render(request, "403.html", status=403)
    return render(request, "scheduling/schedule.html", {"organisation": organisation})


urlpatterns = [
    path("schedule/", schedule, name="schedule"),
]
