"""Services (procedure types), shift templates and shifts, time off, booking policy, reasons, appointments, monthly
hour norms and private calendar feeds."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Location, Member, Organisation, Room
from kabinet.patients.models import Patient


def validate_five_minutes(value: int) -> None:
    if value is None or value % 5 != 0:
        raise ValidationError(_("Use a multiple of 5 minutes."), code="five_minutes")


colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #0f766e."))


class TranslatedNameMixin(models.Model):
    """A name in English plus optional Russian and Bulgarian versions; `display_name` picks the active language."""

    name = models.CharField(_("name (English)"), max_length=200)
    name_ru = models.CharField(_("name (Russian)"), max_length=200, blank=True)
    name_bg = models.CharField(_("name (Bulgarian)"), max_length=200, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display_name()

    def display_name(self, language: str | None = None) -> str:
        column = self.name_column(language)
        return (getattr(self, column) if column else "") or self.name

    @classmethod
    def name_column(cls, language: str | None = None) -> str | None:
        """The column with the name in `language` (default: the active one); None for English, which is `name`.
        `display_name` is that column's value, or `name` when it is empty (for reads that build no instance)."""
        column = f"name_{(language or translation.get_language() or 'en')[:2]}"
        return column if column in ("name_ru", "name_bg") else None


class Service(TranslatedNameMixin):
    """A procedure type: how long it takes, what it needs, who performs it, and whether patients may book it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="services")
    duration_minutes = models.PositiveIntegerField(
        _("duration, minutes"), validators=[MinValueValidator(5), validate_five_minutes]
    )
    buffer_before_minutes = models.PositiveIntegerField(
        _("buffer before, minutes"), default=0, validators=[validate_five_minutes]
    )
    buffer_after_minutes = models.PositiveIntegerField(
        _("buffer after, minutes"), default=0, validators=[validate_five_minutes]
    )
    grid_minutes = models.PositiveIntegerField(
        _("start times every, minutes"),
        default=15,
        validators=[MinValueValidator(5), validate_five_minutes],
        help_text=_("Appointments start on this grid from the start of the shift."),
    )
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, default=0)
    colour = models.CharField(_("colour"), max_length=7, default="#0f766e", validators=[colour_validator])
    online_bookable = models.BooleanField(_("patients may book online"), default=False)
    practitioners = models.ManyToManyField(Member, blank=True, related_name="services", verbose_name=_("performed by"))
    room_kind = models.CharField(
        _("needs a room of kind"), max_length=100, blank=True, help_text=_("Empty: no room needed.")
    )
    is_video = models.BooleanField(
        _("video consultation"),
        default=False,
        help_text=_("Visits happen by video call: the doctor starts it, the patient joins online."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=24 * 60), name="service_duration_range"
            ),
        ]

    def clean(self) -> None:
        # Modulo is not portable in a CheckConstraint across SQLite and PostgreSQL; validators and this clean
        # guard forms, admin and API (services call full_clean()).
        errors = {}
        for field in ("duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "grid_minutes"):
            value = getattr(self, field)
            if value is not None and value % 5:
                errors[field] = _("Use a multiple of 5 minutes.")
        if errors:
            raise ValidationError(errors)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)


class ShiftTemplate(models.Model):
    """A named shape of a working day (e.g. "Morning fillers 09:00–14:00"), optionally limited to some services."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="shift_templates")
    name = models.CharField(_("name"), max_length=100)
    start_time = models.TimeField(_("starts"))
    end_time = models.TimeField(_("ends"))
    breaks = models.JSONField(
        _("breaks"), default=list, blank=True, help_text=_('e.g. [["13:00", "13:30"]] in local time')
    )
    allowed_services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="+",
        verbose_name=_("only these services"),
        help_text=_("Empty: every service the doctor performs."),
    )
    colour = models.CharField(_("colour"), max_length=7, default="#e0f2f1", validators=[colour_validator])

    class Meta:
        verbose_name = _("shift template")
        verbose_name_plural = _("shift templates")
        ordering = ["start_time", "name"]

    def __str__(self) -> str:
        return f"{self.name} {self.start_time:%H:%M}–{self.end_time:%H:%M}"

    def clean(self) -> None:
        if self.start_time and self.end_time and self.start_time >= self.end_time:
            raise ValidationError({"end_time": _("The shift must end after it starts.")})


class Shift(models.Model):
    """A doctor working at a location from `start` to `end` (UTC), with breaks; the source of free slots."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="shifts")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="shifts")
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))
    template = models.ForeignKey(ShiftTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    allowed_services = models.ManyToManyField(Service, blank=True, related_name="+")

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["start"]
        indexes = [models.Index(fields=["practitioner", "start"]), models.Index(fields=["location", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="shift_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.practitioner_id} @ {self.location_id} {self.start:%Y-%m-%d %H:%M}"


class ShiftBreak(models.Model):
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="breaks")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="break_ends_after_start")]

    def __str__(self) -> str:
        return f"break {self.start:%H:%M}–{self.end:%H:%M}"


class TimeOff(models.Model):
    class Kind(models.TextChoices):
        VACATION = "vacation", _("vacation")
        SICK = "sick", _("sick leave")
        OTHER = "other", _("other")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("until"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.VACATION)

    class Meta:
        verbose_name = _("time off")
        verbose_name_plural = _("time off")
        constraints = [models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="timeoff_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start:%Y-%m-%d}–{self.end:%Y-%m-%d}"


class BookingPolicy(models.Model):
    """How patients may book and change their own appointments in one organisation."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="booking_policy")
    min_notice_minutes = models.PositiveIntegerField(_("earliest online booking, minutes from now"), default=60)
    max_days_ahead = models.PositiveIntegerField(_("online booking up to, days ahead"), default=60)
    change_cutoff_hours = models.PositiveIntegerField(_("patients may cancel or move until, hours before"), default=24)
    online_requires_approval = models.BooleanField(_("online bookings wait for the clinic's approval"), default=False)

    class Meta:
        verbose_name = _("booking policy")
        verbose_name_plural = _("booking policies")

    def __str__(self) -> str:
        return f"booking policy of {self.organisation_id}"


class Reason(TranslatedNameMixin):
    """Catalogue entry explaining a cancellation or a no-show."""

    class Kind(models.TextChoices):
        CANCEL = "cancel", _("cancellation")
        NO_SHOW = "no_show", _("no-show")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="reasons")
    kind = models.CharField(_("used for"), max_length=10, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("reason")
        verbose_name_plural = _("reasons")
        ordering = ["kind", "name"]


class Appointment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending approval")
        SCHEDULED = "scheduled", _("scheduled")
        CONFIRMED = "confirmed", _("confirmed")
        ARRIVED = "arrived", _("arrived")
        COMPLETED = "completed", _("completed")
        NO_SHOW = "no_show", _("no-show")
        CANCELLED = "cancelled", _("cancelled")

    class Source(models.TextChoices):
        STAFF = "staff", _("staff")
        ONLINE = "online", _("online")
        API = "api", _("API")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))
    # The time the practitioner and room are held: start/end widened by the service's buffers.
    busy_start = models.DateTimeField()
    busy_end = models.DateTimeField()
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.ForeignKey(Reason, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason_note = models.CharField(_("reason details"), max_length=500, blank=True)
    is_overbooked = models.BooleanField(_("extra (overbooked)"), default=False)
    source = models.CharField(_("booked via"), max_length=10, choices=Source.choices, default=Source.STAFF)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    ACTIVE_STATUSES = (Status.PENDING, Status.SCHEDULED, Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["start"]
        indexes = [
            models.Index(fields=["practitioner", "busy_start"]),
            models.Index(fields=["location", "start"]),
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["room", "busy_start"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="appointment_ends_after_start"),
            models.CheckConstraint(
                condition=Q(busy_start__lte=models.F("start")) & Q(busy_end__gte=models.F("end")),
                name="appointment_busy_covers_visit",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.start:%Y-%m-%d %H:%M} {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


def first_of_month(value: date) -> date:
    return value.replace(day=1)


class HourNorm(models.Model):
    """The minutes a doctor must work in one calendar month; surplus or deficit carries into the next month
    (see selectors.hour_norms for the arithmetic)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="hour_norms")
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    norm_minutes = models.PositiveIntegerField(_("norm, minutes"))

    class Meta:
        verbose_name = _("monthly hour norm")
        verbose_name_plural = _("monthly hour norms")
        ordering = ["practitioner", "month"]
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "month"], name="hour_norm_unique_month"),
            models.CheckConstraint(condition=Q(norm_minutes__lte=31 * 24 * 60), name="hour_norm_fits_month"),
        ]

    def __str__(self) -> str:
        return f"{self.practitioner_id} {self.month:%Y-%m}: {self.norm_minutes // 60}h{self.norm_minutes % 60:02d}"

    def clean(self) -> None:
        if self.month and self.month.day != 1:
            raise ValidationError({"month": _("Use the first day of the month.")})


class CalendarFeed(models.Model):
    """A private iCalendar address for one doctor's appointments. Only a hash of its token is stored: the address
    is shown once, when it is made; revoking it makes the address answer 404."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_fetched_at = models.DateTimeField(_("last fetched"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"feed of {self.practitioner_id} ({state})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
