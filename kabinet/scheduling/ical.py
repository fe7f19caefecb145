"""iCalendar (RFC 5545) documents of appointments: a doctor's private feed and one visit's .ics file.

No patient data goes into them: calendar apps sync to third-party servers and files get forwarded, so an event
says "Visit: <service>", where, and with which doctor (single files only), never who the patient is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, timedelta

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from kabinet.scheduling.models import Appointment

PRODID = "-//kabinet//clinic calendar//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8"
REFRESH = timedelta(hours=1)


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name:
        cal.add("x-wr-calname", name)
    return cal


def appointment_uid(appointment: Appointment) -> str:
    """Stable across the feed and the single file, so a calendar app sees one event, not two."""
    return f"appointment-{appointment.pk}-{appointment.organisation_id}@kabinet"


def appointment_event(appointment: Appointment, *, with_practitioner: bool) -> Event:
    """One VEVENT; the caller activates the reader's language. Needs service, location and practitioner loaded."""
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("last-modified", appointment.updated_at.astimezone(UTC))
    event.add("dtstart", appointment.start.astimezone(UTC))
    event.add("dtend", appointment.end.astimezone(UTC))
    event.add("summary", _("Visit: %(service)s") % {"service": appointment.service.display_name()})
    location = appointment.location
    event.add("location", ", ".join(part for part in (location.name, location.address) if part))
    if with_practitioner:
        event.add("description", _("Doctor: %(name)s") % {"name": appointment.practitioner.user})
    event.add("status", "TENTATIVE" if appointment.status == Appointment.Status.PENDING else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def feed_calendar(appointments: Iterable[Appointment], *, name: str, language: str) -> bytes:
    """A doctor's feed: their appointments as events, asking subscribers to refresh hourly."""
    with translation.override(language):
        cal = _calendar(name)
        cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", "PT1H")
        for appointment in appointments:
            cal.add_component(appointment_event(appointment, with_practitioner=False))
    return cal.to_ical()


def appointment_ics(appointment: Appointment, *, language: str) -> bytes:
    """A single visit as an .ics file (METHOD:PUBLISH), for downloads and confirmation emails."""
    with translation.override(language):
        cal = _calendar("")
        cal.add("method", "PUBLISH")
        cal.add_component(appointment_event(appointment, with_practitioner=True))
    return cal.to_ical()


def ics_filename(appointment: Appointment) -> str:
    local = timezone.localtime(appointment.start, appointment.location.zone)
    return f"visit-{local:%Y%m%d-%H%M}.ics"
