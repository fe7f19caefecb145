"""The waiting list: entries, offers of freed times, and booking an offered time.

Rules enforced here:
- An entry names a patient, a service and optionally preferred doctors, a location, a date window, weekdays and a
  time of day; `callback_date` brings it back to the waiting-list worklist that day.
- When a visit is cancelled or moved (scheduling's hook), the freed time is offered to the waiting entries it suits,
  oldest first, at most `offers_per_slot` of them: each offer is a worklist item for staff and, when the clinic wants
  it, a message with a signed, expiring booking link.
- The first to accept gets the time: the booking goes through scheduling's race-safe `appointment_book`; whoever
  comes second gets "already taken" (SlotTaken, 409) and stays on the list. An accepted offer books the entry and
  closes the other offers of the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import Conflict, DomainError, Invalid, NotFound
from kabinet.core.models import Location, Member, Organisation
from kabinet.frontdesk import events
from kabinet.frontdesk.models import WaitlistEntry, WaitlistOffer, WorklistItem
from kabinet.frontdesk.services.common import (
    WORK_ROLES,
    board_changed,
    in_org_language,
    local_text,
    policy_for,
    timeline,
    visit_context,
)
from kabinet.notifications import services as notifications
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.scheduling.availability import SlotTaken, free_slots
from kabinet.scheduling.hooks import Previous
from kabinet.scheduling.models import Appointment, Service
from kabinet.scheduling.services import appointment_book

logger = logging.getLogger(__name__)

State = WaitlistEntry.State
OfferState = WaitlistOffer.State
OFFER_SALT = "kabinet.frontdesk.offer"
OFFER_LEAD = timedelta(minutes=30)  # a time starting sooner than this is not offered any more
OFFER_CLOSES_BEFORE = timedelta(minutes=15)  # an offer stops being valid this long before the visit
ENTRY_FIELDS = ["service", "location", "date_from", "date_to", "weekdays", "time_from", "time_to", "callback_date"]


def _audit_entry(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "service": entry.service_id,
        "location": entry.location_id,
        "practitioners": sorted(m.pk for m in entry.practitioners.all()),
        "date_from": entry.date_from,
        "date_to": entry.date_to,
        "weekdays": entry.weekdays,
        "time_from": entry.time_from,
        "time_to": entry.time_to,
        "callback_date": entry.callback_date,
        "state": entry.state,
    }


def waitlist_add(
    *,
    actor: Any,
    patient: Patient,
    service: Service,
    practitioners: Iterable[Member] = (),
    location: Location | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    weekdays: Iterable[int] = (),
    time_from: time | None = None,
    time_to: time | None = None,
    note: str = "",
    callback_date: date | None = None,
    source_appointment: Appointment | None = None,
) -> WaitlistEntry:
    """Put the patient on the waiting list (WORK_ROLES). Doctors, location and service must be the patient's
    clinic's; the date window and the time of day must not be empty."""
    org_id = patient.organisation_id
    permissions.require_role(actor, org_id, *WORK_ROLES)
    doctors = list(practitioners)
    days = sorted({int(d) for d in weekdays})
    errors: dict[str, list[str]] = {}
    if service.organisation_id != org_id or not service.is_active:
        errors["service"] = [_("Choose a service of this clinic.")]
    if any(m.organisation_id != org_id for m in doctors):
        errors["practitioners"] = [_("Choose doctors of this clinic.")]
    if location is not None and location.organisation_id != org_id:
        errors["location"] = [_("Choose a location of this clinic.")]
    if date_from and date_to and date_to < date_from:
        errors["date_to"] = [_("The end of the period is before its start.")]
    if time_from and time_to and time_to <= time_from:
        errors["time_to"] = [_("The latest time must be after the earliest.")]
    if any(not 0 <= d <= 6 for d in days):
        errors["weekdays"] = [_("Weekdays are 0 (Monday) to 6 (Sunday).")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        entry = WaitlistEntry.objects.create(
            organisation_id=org_id,
            patient=patient,
            service=service,
            location=location,
            date_from=date_from,
            date_to=date_to,
            weekdays=days,
            time_from=time_from,
            time_to=time_to,
            note=(note or "").strip(),
            callback_date=callback_date,
            source_appointment=source_appointment,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        entry.practitioners.set(doctors)
        record(actor=actor, action="waitlist.entry_added", obj=entry, patient=patient, after=_audit_entry(entry))
        with in_org_language(patient.organisation):
            body = entry.note
            if callback_date:
                body = (_("Call back on %(date)s.") % {"date": callback_date.strftime("%d.%m.%Y")} + " " + body).strip()
            timeline(
                patient,
                kind=TimelineEntry.Kind.APPOINTMENT,
                title=_("Put on the waiting list: %(service)s") % {"service": service.display_name()},
                body=body,
                actor=actor,
                ref_type="frontdesk.waitlistentry",
                ref_id=entry.pk,
            )
        board_changed(org_id, what="waitlist_added", kind=WorklistItem.Kind.WAITLIST, location_id=entry.location_id)
    return entry


def waitlist_remove(*, actor: Any, entry: WaitlistEntry, note: str = "") -> WaitlistEntry:
    """Take a waiting entry off the list (WORK_ROLES); its open offers and call-backs close with it."""
    if actor is not None:
        permissions.require_role(actor, entry.organisation_id, *WORK_ROLES)
    with transaction.atomic():
        current = (
            WaitlistEntry.objects.select_for_update(of=("self",))
            .select_related("patient__organisation")
            .get(pk=entry.pk)
        )
        if current.state != State.WAITING:
            return current
        _close_entry(current, State.REMOVED, actor=actor)
        record(
            actor=actor,
            action="waitlist.entry_removed",
            obj=current,
            patient=current.patient_id,
            before={"state": State.WAITING},
            after={"state": current.state, "note": note},
        )
        with in_org_language(current.patient.organisation):
            timeline(
                current.patient,
                kind=TimelineEntry.Kind.APPOINTMENT,
                title=_("Removed from the waiting list: %(service)s") % {"service": current.service.display_name()},
                body=note,
                actor=actor,
                ref_type="frontdesk.waitlistentry",
                ref_id=current.pk,
            )
        board_changed(
            current.organisation_id,
            what="waitlist_removed",
            kind=WorklistItem.Kind.WAITLIST,
            location_id=current.location_id,
        )
    return current


def _close_entry(entry: WaitlistEntry, state: str, *, actor: Any, appointment: Appointment | None = None) -> None:
    now = timezone.now()
    entry.state, entry.closed_at, entry.appointment = state, now, appointment
    entry.save(update_fields=["state", "closed_at", "appointment"])
    # The patient wants none of the entry's other offers any more; its call-backs and offers leave the lists.
    WaitlistOffer.objects.filter(entry=entry, state=OfferState.OPEN).update(state=OfferState.DECLINED, decided_at=now)
    _close_items(WorklistItem.objects.filter(waitlist_entry=entry, state=WorklistItem.State.OPEN), actor=actor)


def _close_items(items: Any, *, actor: Any, outcome: str = WorklistItem.Outcome.OBSOLETE) -> int:
    return int(
        items.update(
            state=WorklistItem.State.CLOSED,
            outcome=outcome,
            closed_at=timezone.now(),
            closed_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
    )


# --- offers of freed times ----------------------------------------------------------------------------------------


def offer_token(offer: WaitlistOffer) -> str:
    return signing.TimestampSigner(salt=OFFER_SALT).sign(str(offer.pk))


def offer_url(offer: WaitlistOffer) -> str:
    path = reverse("frontdesk_offer:offer", kwargs={"token": offer_token(offer)})
    return settings.SITE_URL.rstrip("/") + path


def offer_from_token(token: str) -> WaitlistOffer:
    """The offer a link names, or NotFound when the link is forged or older than the clinic allows."""
    try:
        raw = signing.TimestampSigner(salt=OFFER_SALT).unsign(token, max_age=timedelta(days=31))
    except signing.BadSignature:
        raise NotFound() from None
    offer = (
        WaitlistOffer.objects.select_related(
            "entry__patient", "service", "practitioner__user", "location", "organisation"
        )
        .filter(pk=int(raw))
        .first()
    )
    if offer is None:
        raise NotFound()
    policy = policy_for(offer.organisation_id)
    age = timezone.now() - offer.created_at
    if age > timedelta(hours=policy.offer_valid_hours) + timedelta(minutes=1) and offer.state == OfferState.OPEN:
        # The link is older than the clinic allows: show it as expired (the row is updated by the periodic job).
        offer.state = OfferState.EXPIRED
    return offer


@dataclass(frozen=True)
class FreedTime:
    practitioner_id: int
    location_id: int
    start: datetime
    end: datetime


def slot_freed(*, appointment: Appointment, previous: Previous, actor: Any) -> list[WaitlistOffer]:
    """Offer the time `appointment` held before (`previous`) to the waiting entries it suits. Runs inside the
    cancellation's (or move's) transaction, so offers and their messages commit with it."""
    now = timezone.now()
    freed = FreedTime(previous.practitioner_id, previous.location_id, previous.start, previous.end)
    if freed.end <= now + OFFER_LEAD:
        return []
    policy = policy_for(appointment.organisation_id)
    candidates = list(
        WaitlistEntry.objects.filter(
            organisation_id=appointment.organisation_id,
            state=State.WAITING,
            service__practitioners=freed.practitioner_id,
            service__is_active=True,
        )
        .exclude(patient_id=appointment.patient_id)
        .select_related("patient", "service")
        .prefetch_related("practitioners")
        .order_by("created_at", "pk")[:200]
    )
    if not candidates:
        return []
    location = Location.objects.get(pk=freed.location_id)
    zone = location.zone
    first_free: dict[int, list[Any]] = {}
    offers: list[WaitlistOffer] = []
    for entry in candidates:
        if len(offers) >= policy.offers_per_slot:
            break
        if entry.service_id not in first_free:
            first_free[entry.service_id] = free_slots(
                service=entry.service,
                practitioner_ids=[freed.practitioner_id],
                start=freed.start,
                end=freed.end,
                not_before=now + OFFER_LEAD,
                location_id=freed.location_id,
            )
        slot = next(
            (
                s
                for s in first_free[entry.service_id]
                if entry.wants(
                    local_start=timezone.localtime(s.start, zone),
                    practitioner_id=freed.practitioner_id,
                    location_id=freed.location_id,
                )
            ),
            None,
        )
        if slot is None:
            continue
        offer = _offer_create(entry=entry, slot_start=slot.start, slot_end=slot.end, freed=freed, by=appointment)
        if offer is not None:
            offers.append(offer)
    if offers:
        _offers_announce(offers, location=location, actor=actor)
    return offers


def _offer_create(
    *, entry: WaitlistEntry, slot_start: datetime, slot_end: datetime, freed: FreedTime, by: Appointment | None
) -> WaitlistOffer | None:
    policy = policy_for(entry.organisation_id)
    now = timezone.now()
    expires = min(slot_start - OFFER_CLOSES_BEFORE, now + timedelta(hours=policy.offer_valid_hours))
    if expires <= now:
        return None
    offer, created = WaitlistOffer.objects.get_or_create(
        entry=entry,
        practitioner_id=freed.practitioner_id,
        start=slot_start,
        defaults={
            "organisation_id": entry.organisation_id,
            "location_id": freed.location_id,
            "service_id": entry.service_id,
            "end": slot_end,
            "expires_at": expires,
            "freed_by": by,
        },
    )
    if not created:
        if offer.state != OfferState.OPEN:
            # The same time freed again (cancelled, re-booked, cancelled): offer it anew.
            offer.state, offer.expires_at, offer.decided_at, offer.freed_by = OfferState.OPEN, expires, None, by
            offer.save(update_fields=["state", "expires_at", "decided_at", "freed_by"])
        else:
            return None
    return offer


def _offers_announce(offers: list[WaitlistOffer], *, location: Location, actor: Any) -> None:
    """A worklist item for staff per offer, the patient's message with the booking link, audit and timeline."""
    organisation = Organisation.objects.get(pk=offers[0].organisation_id)
    policy = policy_for(organisation.pk)
    zone = location.zone
    today = timezone.localdate(timezone.now(), zone)
    practitioner = Member.objects.select_related("user").get(pk=offers[0].practitioner_id)
    for offer in offers:
        entry = offer.entry
        patient = entry.patient
        WorklistItem.objects.update_or_create(
            organisation=organisation,
            key=f"offer:{offer.pk}:{offer.expires_at:%Y%m%d%H%M}",
            defaults={
                "kind": WorklistItem.Kind.WAITLIST,
                "day": today,
                "location": location,
                "patient": patient,
                "waitlist_entry": entry,
                "offer": offer,
                "state": WorklistItem.State.OPEN,
                "next_call_at": timezone.now(),
            },
        )
        sent = []
        if policy.offer_by_message:
            sent = notifications.send(
                organisation=organisation,
                event=events.WAITLIST_OFFER,
                key=f"fd:offer:{offer.pk}:{offer.expires_at:%Y%m%d%H%M}",
                context=visit_context(
                    organisation=organisation,
                    patient=patient,
                    service=entry.service,
                    practitioner=practitioner,
                    location=location,
                    start=offer.start,
                    links={"offer": offer_url(offer)},
                ),
                patient=patient,
                time_zone=location.time_zone,
                expires_at=offer.expires_at,
                link=offer_url(offer),
                ref_type="frontdesk.waitlistoffer",
                ref_id=offer.pk,
                actor=actor,
            )
        record(
            actor=None,
            action="waitlist.offer_created",
            obj=offer,
            patient=patient,
            after={
                "entry": entry.pk,
                "start": offer.start,
                "practitioner": offer.practitioner_id,
                "expires_at": offer.expires_at,
                "messages": [m.pk for m in sent],
            },
        )
        with in_org_language(organisation):
            timeline(
                patient,
                kind=TimelineEntry.Kind.APPOINTMENT,
                title=_("Freed time offered from the waiting list: %(service)s, %(when)s")
                % {"service": entry.service.display_name(), "when": local_text(offer.start, zone)},
                body=str(practitioner.user),
                actor=None,
                ref_type="frontdesk.waitlistoffer",
                ref_id=offer.pk,
            )
    board_changed(organisation.pk, what="offered", kind=WorklistItem.Kind.WAITLIST, location_id=location.pk, day=today)


@dataclass
class OfferResult:
    appointment: Appointment | None
    error: DomainError | None


def offer_accept_result(*, offer: WaitlistOffer, actor: Any, via_link: bool) -> OfferResult:
    """Book the offered time for the entry's patient, or say why not; what happened is saved either way (a lost
    race marks the offer "taken" and leaves the entry waiting). Call inside a transaction, raise `error` after it."""
    now = timezone.now()
    # The doctor's row first, as the booking does: accepting offers of the same time queue here instead of each
    # holding its own offer while waiting for the other's (a deadlock when the winner closes the rival offers).
    list(Member.objects.select_for_update().filter(pk=offer.practitioner_id).values_list("pk", flat=True))
    current = (
        WaitlistOffer.objects.select_for_update(of=("self",))
        .select_related("entry__patient__organisation", "service", "practitioner__user", "location")
        .get(pk=offer.pk)
    )
    entry = WaitlistEntry.objects.select_for_update().get(pk=current.entry_id)
    if current.state == OfferState.ACCEPTED and current.appointment_id is not None:
        return OfferResult(Appointment.objects.get(pk=current.appointment_id), None)  # a repeated click
    if current.state == OfferState.OPEN and current.expires_at <= now:
        current.state, current.decided_at = OfferState.EXPIRED, now
        current.save(update_fields=["state", "decided_at"])
        _close_items(WorklistItem.objects.filter(offer=current, state=WorklistItem.State.OPEN), actor=actor)
        _offer_changed(current, "offer_expired")
    if current.state != OfferState.OPEN or entry.state != State.WAITING:
        messages: dict[str, str] = {
            OfferState.TAKEN: _("This time has already been taken. You stay on the waiting list."),
            OfferState.EXPIRED: _("This offer has expired. You stay on the waiting list; the clinic will call you."),
        }
        message = messages.get(current.state, _("This offer is no longer open."))
        return OfferResult(None, Conflict(message, code="offer_closed"))
    patient = entry.patient
    try:
        with transaction.atomic():
            appointment = appointment_book(
                actor=actor,
                patient=patient,
                practitioner=current.practitioner,
                service=current.service,
                start=current.start,
                location=current.location,
                note=_("From the waiting list"),
                source=Appointment.Source.ONLINE if via_link else Appointment.Source.STAFF,
                offered=True,
            )
    except SlotTaken:
        current.state, current.decided_at = OfferState.TAKEN, now
        current.save(update_fields=["state", "decided_at"])
        _close_items(WorklistItem.objects.filter(offer=current, state=WorklistItem.State.OPEN), actor=actor)
        record(actor=actor, action="waitlist.offer_lost", obj=current, patient=patient, after={"state": "taken"})
        _offer_changed(current, "offer_taken")
        return OfferResult(
            None,
            SlotTaken(_("This time has already been taken by someone else. You stay on the waiting list.")),
        )
    current.state, current.decided_at, current.appointment = OfferState.ACCEPTED, now, appointment
    current.save(update_fields=["state", "decided_at", "appointment"])
    _close_items(
        WorklistItem.objects.filter(offer=current, state=WorklistItem.State.OPEN),
        actor=actor,
        outcome=WorklistItem.Outcome.BOOKED,
    )
    _close_entry(entry, State.BOOKED, actor=actor, appointment=appointment)
    # Everyone else offered this doctor's time now gets "already taken" at once.
    rivals = WaitlistOffer.objects.filter(
        organisation_id=current.organisation_id,
        practitioner_id=current.practitioner_id,
        state=OfferState.OPEN,
        start__lt=appointment.busy_end,
        end__gt=appointment.busy_start,
    )
    rival_ids = list(rivals.values_list("pk", flat=True))
    rivals.update(state=OfferState.TAKEN, decided_at=now)
    _close_items(WorklistItem.objects.filter(offer_id__in=rival_ids, state=WorklistItem.State.OPEN), actor=actor)
    record(
        actor=actor,
        action="waitlist.offer_accepted",
        obj=current,
        patient=patient,
        after={"appointment": appointment.pk, "via": "link" if via_link else "staff", "closed_rivals": rival_ids},
    )
    _offer_changed(current, "offer_accepted")
    return OfferResult(appointment, None)


def _offer_changed(offer: WaitlistOffer, what: str) -> None:
    board_changed(offer.organisation_id, what=what, kind=WorklistItem.Kind.WAITLIST, location_id=offer.location_id)


def waitlist_offer_accept(*, offer: WaitlistOffer, actor: Any, via_link: bool = True) -> Appointment:
    """The patient (through the signed link) or staff (WORK_ROLES) books the offered time. SlotTaken (409) when
    someone was faster, Conflict when the offer is closed; either way the entry stays waiting."""
    if not via_link:
        permissions.require_role(actor, offer.organisation_id, *WORK_ROLES)
    with transaction.atomic():
        result = offer_accept_result(offer=offer, actor=actor, via_link=via_link)
    if result.error is not None:
        raise result.error
    assert result.appointment is not None
    return result.appointment


def offer_decline(*, offer: WaitlistOffer, actor: Any) -> WaitlistOffer:
    """The patient does not want this time (the entry keeps waiting for another)."""
    now = timezone.now()
    with transaction.atomic():
        current = WaitlistOffer.objects.select_for_update().get(pk=offer.pk)
        if current.state != OfferState.OPEN:
            return current
        current.state, current.decided_at = OfferState.DECLINED, now
        current.save(update_fields=["state", "decided_at"])
        _close_items(WorklistItem.objects.filter(offer=current, state=WorklistItem.State.OPEN), actor=actor)
        record(actor=actor, action="waitlist.offer_declined", obj=current, patient=current.entry.patient_id)
        _offer_changed(current, "offer_declined")
    return current


def offers_expire(*, now: datetime | None = None) -> int:
    """Close offers past their validity and their worklist items (the periodic job)."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = WaitlistOffer.objects.filter(state=OfferState.OPEN, expires_at__lte=now)
        rows = list(expired.values_list("pk", "organisation_id"))
        ids = [pk for pk, _org in rows]
        if not ids:
            return 0
        WaitlistOffer.objects.filter(pk__in=ids).update(state=OfferState.EXPIRED, decided_at=now)
        _close_items(WorklistItem.objects.filter(offer_id__in=ids, state=WorklistItem.State.OPEN), actor=None)
        for organisation_id in sorted({org for _pk, org in rows}):
            board_changed(organisation_id, what="offers_expired", kind=WorklistItem.Kind.WAITLIST)
    return len(ids)


def callbacks_generate(*, organisation: Organisation, day: date) -> int:
    """A waiting-list worklist item for every waiting entry whose call-back date has come (idempotent)."""
    entries = list(
        WaitlistEntry.objects.filter(organisation=organisation, state=State.WAITING, callback_date__lte=day)
        .select_related("patient")
        .order_by("callback_date", "pk")
    )
    items = [
        WorklistItem(
            organisation=organisation,
            kind=WorklistItem.Kind.WAITLIST,
            key=f"callback:{entry.pk}:{entry.callback_date:%Y%m%d}",
            day=entry.callback_date or day,
            location_id=entry.location_id,
            patient=entry.patient,
            waitlist_entry=entry,
            note=entry.note,
        )
        for entry in entries
    ]
    if not items:
        return 0
    existing = set(
        WorklistItem.objects.filter(organisation=organisation, key__in=[i.key for i in items]).values_list(
            "key", flat=True
        )
    )
    new = [i for i in items if i.key not in existing]
    WorklistItem.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        board_changed(organisation.pk, what="callbacks", kind=WorklistItem.Kind.WAITLIST, day=day)
    return len(new)
