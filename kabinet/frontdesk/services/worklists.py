"""Call worklists: generating the day's confirmation calls, logging each call attempt with its outcome, and the
periodic sweep (patients not reached get an SMS; items whose visit changed elsewhere close).

Rules enforced here:
- On day D the list holds the visits of D+1 (in each location's zone) that are still only scheduled; generating
  again adds the visits booked since and closes those confirmed, cancelled or moved elsewhere. One item per visit
  and day (unique key), so the clock and a registrar generating at once add nothing twice.
- Unanswered calls follow the clinic's windows (calling.py): after the last allowed attempt, or once the windows
  are over, the patient is "not reached" and gets an SMS (the outbox row commits with the attempt).
- Outcomes: confirmed (the visit becomes confirmed through scheduling), cancelled (then reschedule now, put on the
  waiting list, or refusal with a reason), no answer, wrong number, call back at a time. A closed item takes no
  more outcomes (422 `item_closed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import DomainError, Invalid
from kabinet.core.models import Location, Member, Organisation
from kabinet.frontdesk import calling, events
from kabinet.frontdesk.models import CallAttempt, WaitlistOffer, WorklistItem
from kabinet.frontdesk.services import refusals, waitlist
from kabinet.frontdesk.services.common import (
    WORK_ROLES,
    appointment_context,
    board_changed,
    in_org_language,
    local_text,
    policy_for,
    timeline,
    windows_of,
)
from kabinet.notifications import services as notifications
from kabinet.notifications.models import Channel
from kabinet.patients.models import TimelineEntry
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_cancel, appointment_move, appointment_set_status

Kind = WorklistItem.Kind
Outcome = WorklistItem.Outcome
FollowUp = WorklistItem.FollowUp
ItemState = WorklistItem.State
Status = Appointment.Status
OTHER_KINDS_GAP = timedelta(hours=1)  # an unanswered waiting-list or recall call comes back an hour later


@dataclass
class GenerateResult:
    created: int = 0
    closed: int = 0
    keys: list[str] = field(default_factory=list)


def _day_bounds(day: date, zone: Any) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def confirmation_key(appointment_id: int, day: date) -> str:
    return f"confirm:{appointment_id}:{day:%Y%m%d}"


def confirmations_generate(*, actor: Any, organisation: Organisation, day: date) -> GenerateResult:
    """The confirmation calls to make on `day`: tomorrow's scheduled visits (WORK_ROLES, or the clock with no
    actor). Idempotent; also settles items whose visit was confirmed, cancelled or moved elsewhere."""
    if actor is not None:
        permissions.require_role(actor, organisation, *WORK_ROLES)
    policy = policy_for(organisation.pk)
    windows = windows_of(policy)
    gap = timedelta(minutes=policy.retry_gap_minutes)
    result = GenerateResult()
    with transaction.atomic():
        for location in Location.objects.filter(organisation=organisation, is_active=True):
            zone = location.zone
            visit_start, visit_end = _day_bounds(day + timedelta(days=1), zone)
            visits = list(
                Appointment.objects.filter(
                    organisation=organisation,
                    location=location,
                    start__gte=visit_start,
                    start__lt=visit_end,
                    status=Status.SCHEDULED,
                ).only("pk", "patient_id")
            )
            first_call = calling.next_call(windows=windows, day=day, zone=zone, attempts=[], gap=gap)
            items = [
                WorklistItem(
                    organisation=organisation,
                    kind=Kind.CONFIRMATION,
                    key=confirmation_key(a.pk, day),
                    day=day,
                    location=location,
                    patient_id=a.patient_id,
                    appointment_id=a.pk,
                    next_call_at=first_call,
                )
                for a in visits
            ]
            existing = set(
                WorklistItem.objects.filter(organisation=organisation, key__in=[i.key for i in items]).values_list(
                    "key", flat=True
                )
            )
            new = [i for i in items if i.key not in existing]
            WorklistItem.objects.bulk_create(new, ignore_conflicts=True)
            result.created += len(new)
            result.keys.extend(i.key for i in new)
        result.closed = _settle_confirmations(organisation=organisation, day=day)
        if result.created or result.closed:
            board_changed(organisation.pk, what="generated", kind=Kind.CONFIRMATION, day=day)
        if result.created:
            record(
                actor=actor,
                action="worklist.generated",
                object_type="frontdesk.worklist",
                object_id=f"{Kind.CONFIRMATION}:{day.isoformat()}",
                organisation=organisation,
                after={"created": result.created, "settled": result.closed},
            )
    return result


def _settle_confirmations(*, organisation: Organisation, day: date) -> int:
    """Close open confirmation items whose visit is no longer a scheduled visit of the next day."""
    closed = 0
    now = timezone.now()
    items = WorklistItem.objects.filter(
        organisation=organisation, kind=Kind.CONFIRMATION, day=day, state=ItemState.OPEN
    ).select_related("appointment__location")
    for item in items:
        appointment = item.appointment
        if appointment is None:
            outcome = Outcome.OBSOLETE
        else:
            next_day = _day_bounds(day + timedelta(days=1), appointment.location.zone)
            if appointment.status == Status.SCHEDULED and next_day[0] <= appointment.start < next_day[1]:
                continue
            confirmed = appointment.status in (Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED)
            outcome = Outcome.CONFIRMED if confirmed else Outcome.OBSOLETE
        WorklistItem.objects.filter(pk=item.pk, state=ItemState.OPEN).update(
            state=ItemState.CLOSED, outcome=outcome, closed_at=now
        )
        closed += 1
    return closed


# --- attempts -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptInput:
    """What the operator reports about one call (plain data from the API or a form)."""

    outcome: str
    note: str = ""
    callback_at: datetime | None = None
    follow_up: str = ""
    cancel_reason_id: int | None = None
    new_start: datetime | None = None
    practitioner_id: int | None = None
    refusal_reason_id: int | None = None
    callback_date: date | None = None


@dataclass
class AttemptResult:
    attempt: CallAttempt
    item: WorklistItem
    appointment: Appointment | None = None  # booked or moved by the outcome
    error: DomainError | None = None  # the outcome was recorded, but what it asked for could not be done
    messages: list[int] = field(default_factory=list)  # outbox rows written (the SMS to an unreachable patient)


def _closed_text(item: WorklistItem) -> str:
    return _("This call is already closed (%(outcome)s). Reload the list.") % {
        "outcome": item.get_outcome_display() or item.get_state_display()
    }


def attempt_record(*, actor: Any, item: WorklistItem, data: AttemptInput, now: datetime | None = None) -> AttemptResult:
    """Log one call attempt on `item` and do what its outcome means (WORK_ROLES). See the module's rules."""
    permissions.require_role(actor, item.organisation_id, *WORK_ROLES)
    if data.outcome not in WorklistItem.ATTEMPT_OUTCOMES:
        raise Invalid(errors={"outcome": [_("Choose an outcome from the list.")]})
    now = now or timezone.now()
    note = (data.note or "").strip()[:1000]
    with transaction.atomic():
        if item.offer_id is not None:
            # Booking an offered time locks the doctor's row and then closes rival offers' items: take the doctor
            # first here too, so two desks (or a desk and a patient's link) never wait on each other in a circle.
            doctor = WaitlistOffer.objects.filter(pk=item.offer_id).values_list("practitioner_id", flat=True)
            list(Member.objects.select_for_update().filter(pk__in=list(doctor)).values_list("pk", flat=True))
        current = (
            WorklistItem.objects.select_for_update(of=("self",))  # location and rule are outer joins
            .select_related("organisation", "location", "patient__organisation", "recall_rule")
            .get(pk=item.pk)
        )
        if current.state == ItemState.CLOSED:
            raise Invalid(_closed_text(current), code="item_closed")
        attempt = CallAttempt(
            organisation_id=current.organisation_id,
            item=current,
            operator=actor if getattr(actor, "is_authenticated", False) else None,
            at=now,
            outcome=data.outcome,
            note=note,
        )
        result = AttemptResult(attempt=attempt, item=current)
        current.attempts += 1
        current.last_attempt_at = now
        current.outcome = data.outcome
        handlers = {
            Outcome.NO_ANSWER: _no_answer,
            Outcome.WRONG_NUMBER: _wrong_number,
            Outcome.CALL_BACK: _call_back,
            Outcome.CONFIRMED: _confirmed,
            Outcome.CANCELLED: _cancelled,
        }
        handler = handlers[Outcome(data.outcome)]
        handler(current, data, actor=actor, now=now, result=result)
        if current.state == ItemState.CLOSED and current.closed_at is None:
            current.closed_at = now
            current.closed_by = actor if getattr(actor, "is_authenticated", False) else None
        attempt.follow_up = current.follow_up if data.outcome == Outcome.CANCELLED else ""
        attempt.save()
        current.save()
        record(
            actor=actor,
            action="worklist.attempt",
            obj=attempt,
            patient=current.patient_id,
            after={
                "item": current.pk,
                "kind": current.kind,
                "outcome": attempt.outcome,
                "follow_up": attempt.follow_up,
                "callback_at": attempt.callback_at,
                "item_state": current.state,
                "item_outcome": current.outcome,
                "error": getattr(result.error, "code", None),
            },
        )
        _attempt_timeline(current, attempt, actor)
        board_changed(
            current.organisation_id, what="attempt", kind=current.kind, location_id=current.location_id, day=current.day
        )
    return result


def _close(item: WorklistItem, outcome: str) -> None:
    item.state, item.outcome = ItemState.CLOSED, outcome


def _no_answer(item: WorklistItem, data: AttemptInput, *, actor: Any, now: datetime, result: AttemptResult) -> None:
    if item.kind != Kind.CONFIRMATION:
        item.next_call_at = now + OTHER_KINDS_GAP
        return
    policy = policy_for(item.organisation_id)
    zone = item.location.zone if item.location else timezone.get_current_timezone()
    earlier = CallAttempt.objects.filter(item=item, outcome=Outcome.NO_ANSWER).values_list("at", flat=True)
    unanswered = [*earlier, now]
    upcoming = calling.next_call(
        windows=windows_of(policy),
        day=item.day,
        zone=zone,
        attempts=unanswered,
        gap=timedelta(minutes=policy.retry_gap_minutes),
        now=now,
    )
    if upcoming is None:
        result.messages = _unreachable(item, actor=actor, now=now)
    else:
        item.next_call_at = upcoming


def _unreachable(item: WorklistItem, *, actor: Any, now: datetime) -> list[int]:
    """The rule's calls are used up: close the item and, when the clinic wants it, SMS the patient about the visit."""
    _close(item, Outcome.UNREACHABLE)
    item.next_call_at = None
    appointment = (
        Appointment.objects.select_related("patient", "service", "practitioner__user", "location")
        .filter(pk=item.appointment_id or 0)
        .first()
    )
    policy = policy_for(item.organisation_id)
    sent: list[Any] = []
    waiting = (Status.SCHEDULED, Status.PENDING)
    if policy.sms_when_unreachable and appointment and appointment.start > now and appointment.status in waiting:
        sent = notifications.send(
            organisation=item.organisation,
            event=events.UNREACHABLE,
            key=f"fd:unreachable:{item.pk}",
            context=appointment_context(appointment, item.organisation),
            patient=appointment.patient,
            channels=[Channel.SMS],
            time_zone=appointment.location.time_zone,
            expires_at=appointment.start,
            ref_type="scheduling.appointment",
            ref_id=appointment.pk,
            actor=actor,
        )
    with in_org_language(item.organisation):
        body = _("An SMS about the visit is on its way.") if sent else _("No SMS could be sent (no mobile number?).")
        timeline(
            item.patient,
            kind=TimelineEntry.Kind.CALL,
            title=_("Not reached about tomorrow's visit"),
            body=body,
            actor=actor,
            ref_type="frontdesk.worklistitem",
            ref_id=item.pk,
        )
    return [m.pk for m in sent]


def _wrong_number(item: WorklistItem, data: AttemptInput, *, actor: Any, now: datetime, result: AttemptResult) -> None:
    _close(item, Outcome.WRONG_NUMBER)
    item.next_call_at = None


def _call_back(item: WorklistItem, data: AttemptInput, *, actor: Any, now: datetime, result: AttemptResult) -> None:
    if data.callback_at is None or data.callback_at <= now:
        raise Invalid(errors={"callback_at": [_("Give a time in the future to call back.")]})
    result.attempt.callback_at = data.callback_at
    item.next_call_at = data.callback_at
    if item.kind != Kind.CONFIRMATION:
        zone = item.location.zone if item.location else timezone.get_current_timezone()
        item.day = max(item.day, timezone.localtime(data.callback_at, zone).date())  # comes back on that day's list


def _confirmed(item: WorklistItem, data: AttemptInput, *, actor: Any, now: datetime, result: AttemptResult) -> None:
    if item.kind == Kind.CONFIRMATION:
        appointment = _appointment(item)
        if appointment.status in (Status.SCHEDULED, Status.PENDING):
            appointment = appointment_set_status(actor=actor, appointment=appointment, status=Status.CONFIRMED)
        elif appointment.status != Status.CONFIRMED:
            raise Invalid(
                _("The visit is “%(status)s” now: nothing to confirm.") % {"status": appointment.get_status_display()},
                code="not_confirmable",
            )
        result.appointment = appointment
        _close(item, Outcome.CONFIRMED)
    elif item.kind == Kind.WAITLIST and item.offer_id is not None:
        offer = WaitlistOffer.objects.get(pk=item.offer_id)
        booked = waitlist.offer_accept_result(offer=offer, actor=actor, via_link=False)
        item.refresh_from_db(fields=["state", "outcome", "closed_at", "closed_by"])
        item.outcome = data.outcome
        result.appointment, result.error = booked.appointment, booked.error
        _close(item, Outcome.CONFIRMED if booked.error is None else Outcome.OBSOLETE)
    elif item.kind == Kind.WAITLIST:
        # A call-back from the waiting list: the patient keeps waiting, perhaps until another call-back date.
        entry = item.waitlist_entry
        if entry is not None and data.callback_date:
            entry.callback_date = data.callback_date
            entry.save(update_fields=["callback_date"])
        _close(item, Outcome.CONFIRMED)
    else:
        _close(item, Outcome.CONFIRMED)
    item.next_call_at = None


def _appointment(item: WorklistItem) -> Appointment:
    appointment = (
        Appointment.objects.select_related("patient", "service", "practitioner__user", "location")
        .filter(pk=item.appointment_id or 0)
        .first()
    )
    if appointment is None:
        raise Invalid(_("The visit of this call no longer exists."), code="item_closed")
    return appointment


def _cancelled(item: WorklistItem, data: AttemptInput, *, actor: Any, now: datetime, result: AttemptResult) -> None:
    follow_up = data.follow_up
    allowed = {
        Kind.CONFIRMATION: (FollowUp.RESCHEDULE, FollowUp.WAITLIST, FollowUp.REFUSAL),
        Kind.WAITLIST: ("", FollowUp.REMOVE, FollowUp.REFUSAL),
        Kind.RECALL: ("", FollowUp.REFUSAL),
    }[WorklistItem.Kind(item.kind)]
    if follow_up not in allowed:
        raise Invalid(errors={"follow_up": [_("Choose what happens next: reschedule, waiting list or refusal.")]})
    item.follow_up = follow_up
    item.next_call_at = None
    if item.kind == Kind.CONFIRMATION:
        _cancel_visit(item, data, actor=actor, result=result)
    elif item.kind == Kind.WAITLIST:
        if item.offer_id is not None:
            waitlist.offer_decline(offer=WaitlistOffer.objects.get(pk=item.offer_id), actor=actor)
        entry = item.waitlist_entry
        if entry is not None and (follow_up in (FollowUp.REMOVE, FollowUp.REFUSAL) or item.offer_id is None):
            waitlist.waitlist_remove(actor=actor, entry=entry, note=data.note)
            item.follow_up = follow_up or FollowUp.REMOVE
    if follow_up == FollowUp.REFUSAL:
        reason = refusals.refusal_reason_get(item.organisation_id, data.refusal_reason_id)
        refusals.refusal_record(
            actor=actor,
            patient=item.patient,
            reason=reason,
            note=data.note,
            appointment=Appointment.objects.filter(pk=item.appointment_id or 0).first(),
        )
    item.refresh_from_db(fields=["state", "closed_at", "closed_by"])  # nested services may have closed it
    _close(item, Outcome.CANCELLED)


def _cancel_visit(item: WorklistItem, data: AttemptInput, *, actor: Any, result: AttemptResult) -> None:
    appointment = _appointment(item)
    if data.follow_up == FollowUp.RESCHEDULE:
        if data.new_start is None:
            raise Invalid(errors={"new_start": [_("Choose the new time of the visit.")]})
        practitioner = None
        if data.practitioner_id is not None:
            practitioner = Member.objects.filter(pk=data.practitioner_id, organisation_id=item.organisation_id).first()
            if practitioner is None:
                raise Invalid(errors={"practitioner": [_("Unknown doctor.")]})
        result.appointment = appointment_move(
            actor=actor, appointment=appointment, start=data.new_start, practitioner=practitioner
        )
        return
    result.appointment = appointment_cancel(
        actor=actor, appointment=appointment, reason_id=data.cancel_reason_id, note=data.note
    )
    if data.follow_up == FollowUp.WAITLIST:
        waitlist.waitlist_add(
            actor=actor,
            patient=appointment.patient,
            service=appointment.service,
            practitioners=[appointment.practitioner],
            location=appointment.location,
            date_from=timezone.localdate(),
            note=data.note,
            callback_date=data.callback_date,
            source_appointment=appointment,
        )


TITLES = {
    Kind.CONFIRMATION: gettext_lazy("Confirmation call: %(outcome)s"),
    Kind.WAITLIST: gettext_lazy("Waiting-list call: %(outcome)s"),
    Kind.RECALL: gettext_lazy("Recall call: %(outcome)s"),
}


def _attempt_timeline(item: WorklistItem, attempt: CallAttempt, actor: Any) -> None:
    with in_org_language(item.patient.organisation):
        title = str(TITLES[WorklistItem.Kind(item.kind)]) % {"outcome": Outcome(attempt.outcome).label}
        parts = []
        if attempt.follow_up:
            parts.append(str(FollowUp(attempt.follow_up).label))
        if attempt.callback_at:
            zone = item.location.zone if item.location else timezone.get_current_timezone()
            parts.append(_("call back at %(when)s") % {"when": local_text(attempt.callback_at, zone)})
        if attempt.note:
            parts.append(attempt.note)
        timeline(
            item.patient,
            kind=TimelineEntry.Kind.CALL,
            title=title,
            body="; ".join(parts),
            actor=actor,
            ref_type="frontdesk.worklistitem",
            ref_id=item.pk,
            data={"outcome": attempt.outcome, "attempt": attempt.pk},
        )


# --- the periodic sweep ------------------------------------------------------------------------------------------


def confirmations_sweep(*, organisation: Organisation, now: datetime | None = None) -> int:
    """Patients of open confirmation items whose call windows are over get the unreachable SMS (once: the item
    closes). An item with a promised call-back still ahead waits for it."""
    now = now or timezone.now()
    policy = policy_for(organisation.pk)
    windows = windows_of(policy)
    swept = 0
    open_items = WorklistItem.objects.filter(
        organisation=organisation,
        kind=Kind.CONFIRMATION,
        state=ItemState.OPEN,
        day__lte=(now + timedelta(days=1)).date(),  # the windows' end (in each location's zone) decides below
    )
    for day in sorted(set(open_items.values_list("day", flat=True))):
        with transaction.atomic():
            if _settle_confirmations(organisation=organisation, day=day):  # confirmed or cancelled elsewhere: no SMS
                board_changed(organisation.pk, what="settled", kind=Kind.CONFIRMATION, day=day)
    for item in open_items.select_related("location", "organisation", "patient__organisation"):
        zone = item.location.zone if item.location else timezone.get_current_timezone()
        if now < calling.last_window_end(windows, item.day, zone):
            continue
        if item.outcome == Outcome.CALL_BACK and item.next_call_at and item.next_call_at > now:
            continue
        with transaction.atomic():
            locked = WorklistItem.objects.select_for_update().filter(pk=item.pk, state=ItemState.OPEN).first()
            if locked is None:
                continue
            item.state = locked.state
            messages = _unreachable(item, actor=None, now=now)
            item.closed_at = now
            item.save(update_fields=["state", "outcome", "next_call_at", "closed_at"])
            record(
                actor=None,
                action="worklist.unreachable",
                obj=item,
                patient=item.patient_id,
                after={"attempts": item.attempts, "messages": messages},
            )
            board_changed(
                organisation.pk, what="unreachable", kind=Kind.CONFIRMATION, location_id=item.location_id, day=item.day
            )
        swept += 1
    return swept


def worklist_generate(*, actor: Any, organisation: Organisation, kind: str, day: date) -> GenerateResult:
    """Bring the list of `kind` for `day` up to date on demand (WORK_ROLES); the clock does the same every
    quarter of an hour. Idempotent."""
    from kabinet.frontdesk.services import recall

    permissions.require_role(actor, organisation, *WORK_ROLES)
    if kind == Kind.CONFIRMATION:
        return confirmations_generate(actor=actor, organisation=organisation, day=day)
    with transaction.atomic():
        if kind == Kind.WAITLIST:
            closed = waitlist.offers_expire()
            return GenerateResult(
                created=waitlist.callbacks_generate(organisation=organisation, day=day), closed=closed
            )
        if kind == Kind.RECALL:
            return GenerateResult(closed=recall.recall_settle(organisation=organisation, day=day))
    raise Invalid(errors={"kind": [_("Choose confirmations, waitlist or recall.")]})
