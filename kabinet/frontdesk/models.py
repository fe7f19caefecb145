"""Front-desk rules per clinic, call worklists and their attempts, the waiting list and its offers, refusal reasons
and refusals, recall rules, and arrivals."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.models import Patient
from kabinet.scheduling.models import Appointment, Service, TranslatedNameMixin


def default_call_windows() -> list[list[object]]:
    """The regulation's rule: two attempts between 11:00 and 16:00, one more after 18:00 (local time)."""
    return [["11:00", "16:00", 2], ["18:00", "20:30", 1]]


def validate_call_windows(value: object) -> None:
    from kabinet.frontdesk.calling import parse_windows

    try:
        parse_windows(value)
    except ValueError as exc:
        raise ValidationError(
            _('Give windows like [["11:00", "16:00", 2], ["18:00", "20:30", 1]]: start, end and attempts, in order.'),
            code="call_windows",
        ) from exc


class FrontDeskPolicy(models.Model):
    """How one clinic calls, waits and welcomes: call windows, lateness thresholds, offers and the passive list."""

    organisation = models.OneToOneField(
        Organisation, primary_key=True, on_delete=models.CASCADE, related_name="frontdesk_policy"
    )
    call_windows = models.JSONField(
        _("confirmation call windows"),
        default=default_call_windows,
        validators=[validate_call_windows],
        help_text=_('Local start, end and number of attempts, e.g. [["11:00", "16:00", 2], ["18:00", "20:30", 1]]'),
    )
    retry_gap_minutes = models.PositiveIntegerField(_("minutes between two attempts"), default=60)
    sms_when_unreachable = models.BooleanField(_("send an SMS when the patient cannot be reached"), default=True)
    late_notify_from_minutes = models.PositiveIntegerField(
        _("tell the doctor when the patient is late by, minutes"), default=1
    )
    late_reschedule_from_minutes = models.PositiveIntegerField(
        _("offer to reschedule when the patient is late by, minutes"), default=15
    )
    recheck_details_after_months = models.PositiveIntegerField(
        _("re-check personal data when the last visit was more than, months ago"), default=6
    )
    passive_after_months = models.PositiveIntegerField(
        _("move patients to the passive list after, months without visits"), default=12
    )
    offer_by_message = models.BooleanField(
        _("offer freed times to the waiting list by SMS or push with a booking link"), default=True
    )
    offer_valid_hours = models.PositiveIntegerField(_("a waiting-list offer is valid for, hours"), default=24)
    offers_per_slot = models.PositiveIntegerField(_("patients offered one freed time, at most"), default=5)
    next_visit_weeks = models.PositiveIntegerField(_("suggest the next visit after, weeks"), default=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("front-desk policy")
        verbose_name_plural = _("front-desk policies")

    def __str__(self) -> str:
        return f"front-desk policy of {self.organisation_id}"

    def clean(self) -> None:
        if self.late_reschedule_from_minutes < self.late_notify_from_minutes:
            raise ValidationError(
                {
                    "late_reschedule_from_minutes": _(
                        "Use at least the number of minutes after which the doctor is told."
                    )
                }
            )


class RefusalReason(TranslatedNameMixin):
    """The clinic's catalogue of why patients decline further care (CRM status "refusal")."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="refusal_reasons")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("refusal reason")
        verbose_name_plural = _("refusal reasons")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="refusal_reason_unique_name")]


class Refusal(models.Model):
    """One recorded refusal: who declined, why (from the catalogue), when and by whose hand. Reports count these."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="refusals")
    reason = models.ForeignKey(RefusalReason, on_delete=models.PROTECT, related_name="refusals")
    note = models.CharField(_("details"), max_length=500, blank=True)
    appointment = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("refusal")
        verbose_name_plural = _("refusals")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.reason_id}"


class WaitlistEntry(models.Model):
    """A patient waiting for a (sooner or other) time: what, with whom, when, and when to call them back."""

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        BOOKED = "booked", _("booked")
        REMOVED = "removed", _("removed")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist_entries")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+", verbose_name=_("service"))
    practitioners = models.ManyToManyField(
        Member, blank=True, related_name="+", verbose_name=_("preferred doctors"), help_text=_("Empty: any doctor.")
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("location")
    )
    date_from = models.DateField(_("from"), null=True, blank=True)
    date_to = models.DateField(_("until"), null=True, blank=True)
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True, help_text=_("0 = Monday … 6 = Sunday"))
    time_from = models.TimeField(_("not before"), null=True, blank=True)
    time_to = models.TimeField(_("not after"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    callback_date = models.DateField(_("call back on"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.WAITING)
    appointment = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("added"), default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("waiting-list entry")
        verbose_name_plural = _("waiting list")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["organisation", "state", "service"]),
            models.Index(fields=["organisation", "callback_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} waits for {self.service_id}"

    def wants(self, *, local_start: datetime, practitioner_id: int, location_id: int) -> bool:
        """Whether a time (a local datetime at the location) fits the entry's wishes (preferred doctors prefetched)."""
        day, at = local_start.date(), local_start.time()
        if self.location_id is not None and self.location_id != location_id:
            return False
        if (self.date_from and day < self.date_from) or (self.date_to and day > self.date_to):
            return False
        if self.weekdays and day.weekday() not in self.weekdays:
            return False
        if (self.time_from and at < self.time_from) or (self.time_to and at > self.time_to):
            return False
        wanted = [m.pk for m in self.practitioners.all()]
        return not wanted or practitioner_id in wanted


class WaitlistOffer(models.Model):
    """A freed time offered to one waiting patient; the first to accept any offer of the same time books it."""

    class State(models.TextChoices):
        OPEN = "open", _("offered")
        ACCEPTED = "accepted", _("accepted")
        TAKEN = "taken", _("taken by someone else")
        DECLINED = "declined", _("declined")
        EXPIRED = "expired", _("expired")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    practitioner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    expires_at = models.DateTimeField(_("valid until"))
    freed_by = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    appointment = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("waiting-list offer")
        verbose_name_plural = _("waiting-list offers")
        ordering = ["start", "pk"]
        indexes = [models.Index(fields=["organisation", "state", "start"])]
        constraints = [
            models.UniqueConstraint(fields=["entry", "practitioner", "start"], name="waitlist_offer_unique_time")
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} to entry {self.entry_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN and self.expires_at > timezone.now()


class RecallRule(models.Model):
    """After a completed visit of `service`, call the patient `after_days` later (a check-up call, or an invitation
    to a control visit)."""

    class Kind(models.TextChoices):
        CALL = "call", _("check-up call")
        VISIT = "visit", _("control visit")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="recall_rules")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", verbose_name=_("after service"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CALL)
    after_days = models.PositiveIntegerField(
        _("after, days"), help_text=_("e.g. 1 for the next day, 182 for six months")
    )
    name = models.CharField(_("name"), max_length=200, help_text=_("e.g. Check-up call the next day"))
    instructions = models.TextField(_("what to say"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("recall rule")
        verbose_name_plural = _("recall rules")
        ordering = ["service", "after_days"]

    def __str__(self) -> str:
        return self.name


class WorklistItem(models.Model):
    """One patient to call on a day: to confirm tomorrow's visit, to offer a freed time or call back from the waiting
    list, or from the recall diary. Changed only through frontdesk services."""

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmations", _("confirmation calls")
        WAITLIST = "waitlist", _("waiting list")
        RECALL = "recall", _("recall diary")

    class State(models.TextChoices):
        OPEN = "open", _("to call")
        CLOSED = "closed", _("done")

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", _("confirmed")
        CANCELLED = "cancelled", _("cancelled")
        NO_ANSWER = "no_answer", _("no answer")
        WRONG_NUMBER = "wrong_number", _("wrong number")
        CALL_BACK = "call_back", _("call back")
        # set by the system, never chosen by an operator
        UNREACHABLE = "unreachable", _("not reached, SMS sent")
        BOOKED = "booked", _("booked through the link")
        OBSOLETE = "obsolete", _("nothing left to do")

    class FollowUp(models.TextChoices):
        RESCHEDULE = "reschedule", _("rescheduled")
        WAITLIST = "waitlist", _("put on the waiting list")
        REFUSAL = "refusal", _("refusal")
        REMOVE = "remove", _("removed from the waiting list")

    ATTEMPT_OUTCOMES = (
        Outcome.CONFIRMED,
        Outcome.CANCELLED,
        Outcome.NO_ANSWER,
        Outcome.WRONG_NUMBER,
        Outcome.CALL_BACK,
    )

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("list"), max_length=15, choices=Kind.choices)
    # What makes the item unique in its organisation, e.g. "confirm:<appointment>:<day>": generating twice adds nothing.
    key = models.CharField(max_length=100)
    day = models.DateField(_("day"))
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="worklist_items")
    appointment = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    waitlist_entry = models.ForeignKey(
        WaitlistEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="worklist_items"
    )
    offer = models.ForeignKey(
        WaitlistOffer, null=True, blank=True, on_delete=models.CASCADE, related_name="worklist_items"
    )
    recall_rule = models.ForeignKey(RecallRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    outcome = models.CharField(_("outcome"), max_length=15, choices=Outcome.choices, blank=True)
    follow_up = models.CharField(_("then"), max_length=15, choices=FollowUp.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_call_at = models.DateTimeField(_("call at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last call"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("worklist item")
        verbose_name_plural = _("worklist items")
        ordering = ["day", "next_call_at", "pk"]
        indexes = [
            models.Index(fields=["organisation", "kind", "day"]),
            models.Index(fields=["organisation", "kind", "state"]),
        ]
        constraints = [models.UniqueConstraint(fields=["organisation", "key"], name="worklist_item_unique_key")]

    def __str__(self) -> str:
        return f"{self.kind} {self.day} {self.patient_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN


class CallAttempt(models.Model):
    """One call to the patient about a worklist item: who called, when, and what came of it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(WorklistItem, on_delete=models.CASCADE, related_name="call_attempts")
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=15, choices=WorklistItem.Outcome.choices)
    follow_up = models.CharField(_("then"), max_length=15, choices=WorklistItem.FollowUp.choices, blank=True)
    callback_at = models.DateTimeField(_("call back at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=1000, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("call attempt")
        verbose_name_plural = _("call attempts")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["organisation", "at"])]

    def __str__(self) -> str:
        return f"{self.item_id} {self.at:%Y-%m-%d %H:%M} {self.outcome}"


class Arrival(models.Model):
    """When the patient of a visit arrived, how late, and what the front desk did about it."""

    class Lateness(models.TextChoices):
        ON_TIME = "on_time", _("on time")
        LATE = "late", _("late")
        VERY_LATE = "very_late", _("late enough to reschedule")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="arrival")
    arrived_at = models.DateTimeField(_("arrived"))
    late_minutes = models.IntegerField(_("minutes late"), default=0)
    lateness = models.CharField(_("lateness"), max_length=10, choices=Lateness.choices, default=Lateness.ON_TIME)
    doctor_notified = models.BooleanField(_("doctor told"), default=False)
    seen_late = models.BooleanField(_("seen despite being late"), default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("arrival")
        verbose_name_plural = _("arrivals")

    def __str__(self) -> str:
        return f"{self.appointment_id} arrived {self.arrived_at:%H:%M} ({self.late_minutes} min)"
