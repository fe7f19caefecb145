"""The staff calendar: day view per doctor for a location, week view per doctor, live updates.

The page is a shell: calendar.js reads and writes through /api/v1/ and follows the location over the websocket.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from kabinet.core import permissions, tenancy
from kabinet.scheduling import hooks, selectors

# Every text calendar.js shows, translated on the server and handed over with json_script.
STRINGS = {
    "no_doctors": _("No doctors work at this location yet. An administrator assigns doctors to locations."),
    "no_visits": _("No visits in this period. Click a free time in a doctor's column to book one."),
    "no_visits_filtered": _("No visits match the filters."),
    "no_doctors_filtered": _("No doctor at this location matches the filters."),
    "load_failed": _("The calendar could not be loaded. Check the connection; it retries on its own."),
    "network_error": _("The server could not be reached. Check the connection and try again."),
    "slot_taken": _("This time has just been taken. Choose another time."),
    "forbidden": _("You do not have permission to do this."),
    "not_found": _("This visit no longer exists. The calendar has been refreshed."),
    "move_refused": _("The visit was not moved:"),
    "moved": _("The visit was moved."),
    "resized": _("The visit length was changed."),
    "booked": _("The visit is booked."),
    "saved": _("Saved."),
    "search_hint": _("Type at least two letters or digits."),
    "searching": _("Searching…"),
    "no_patients": _("No patient found. Create a new one below."),
    "choose_patient": _("Choose a patient first."),
    "choose_service": _("Choose a service."),
    "no_services": _("This doctor performs no services yet."),
    "new_patient_needs": _("Enter the family name and the given name."),
    "patient_created": _("Patient created and chosen."),
    "overbooked": _("extra"),
    "reason_required": _("Choose a reason from the list."),
    "no_reasons": _("No reasons are set up. An administrator adds them in the catalogue."),
    "status_changed": _("Status changed: %(status)s."),
    "cancelled": _("The visit was cancelled."),
    "action_approve": _("Approve"),
    "action_confirm": _("Confirm"),
    "action_arrived": _("Arrived"),
    "action_completed": _("Completed"),
    "action_no_show": _("No-show"),
    "action_cancel": _("Cancel visit"),
    "invalid_time": _("Enter a date and time."),
    "invalid_date": _("Enter a date."),
}


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    organisation = tenancy.current_organisation(request)
    if organisation is None or not permissions.is_staff_of(request.user, organisation):
        return render(request, "403.html", status=403)
    page = selectors.calendar_page(user=request.user, organisation=organisation)
    location_ids = [loc["id"] for loc in page["locations"]]
    wanted = request.GET.get("location", "")
    location_id = int(wanted) if wanted.isdigit() and int(wanted) in location_ids else next(iter(location_ids), None)
    # The API's root, wherever the project is mounted: the script appends "appointments", "shifts", …
    api_root = reverse("api-1:list_locations").removesuffix("locations")
    # What apps above scheduling add to the visit panel (e.g. the front desk's arrival with lateness and prompts).
    extensions = hooks.calendar_extensions(request.user, organisation)
    config = {**page, "location": location_id, "api": api_root, "extensions": extensions}
    return render(
        request,
        "scheduling/calendar.html",
        {"organisation": organisation, "config": config, "strings": STRINGS, "has_locations": bool(location_ids)},
    )


urlpatterns = [
    path("", calendar, name="calendar"),
]
