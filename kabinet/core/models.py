"""Organisations (clinic networks), locations, rooms, specialties, members with roles, and process heartbeats."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(zone)s"), params={"zone": value}, code="time_zone")


class Role(models.TextChoices):
    ADMIN = "admin", _("Owner / administrator")
    DOCTOR = "doctor", _("Doctor")
    NURSE = "nurse", _("Nurse / assistant")
    REGISTRAR = "registrar", _("Registrar")
    OPERATOR = "operator", _("Call-centre operator")
    COORDINATOR = "coordinator", _("Coordinator")
    PATIENT = "patient", _("Patient")


STAFF_ROLES = frozenset(Role.values) - {Role.PATIENT}


class Organisation(models.Model):
    """A clinic network: the tenant every clinic-owned row belongs to."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), unique=True)
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    # ISO 4217 code of every amount the clinic charges (billing keeps money as Decimal in this currency only).
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="EUR",
        validators=[RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. EUR, BGN, RUB."))],
        help_text=_("Three-letter ISO 4217 code, e.g. EUR, BGN, RUB."),
    )
    # Staff roles whose members must use two-factor authentication (codes from Role).
    require_2fa_roles = models.JSONField(_("roles that require two-factor authentication"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        unknown = set(self.require_2fa_roles or []) - set(STAFF_ROLES)
        if unknown:
            raise ValidationError({"require_2fa_roles": _("Unknown staff roles: %s") % ", ".join(sorted(unknown))})


class Location(models.Model):
    """A clinic site with its own address and time zone; schedules are computed in this zone."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=500, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    phone_lines = models.JSONField(_("phone lines"), default=list, blank=True, help_text=_("E.164 numbers"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["organisation", "name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="location_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Room(models.Model):
    """A room or bookable resource (chair, laser, ultrasound) at a location."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="rooms")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=100, blank=True, help_text=_("e.g. procedure room, laser"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("room or resource")
        verbose_name_plural = _("rooms and resources")
        ordering = ["location", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="room_unique_name")]

    def __str__(self) -> str:
        return f"{self.location} · {self.name}"


class Specialty(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="specialties")
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("specialty")
        verbose_name_plural = _("specialties")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="specialty_unique_name")]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """A person's place in one organisation; their roles are MemberRole rows (a person may hold several)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    title = models.CharField(_("title"), max_length=200, blank=True, help_text=_("e.g. Dr., Head nurse"))
    specialties = models.ManyToManyField(Specialty, blank=True, related_name="members", verbose_name=_("specialties"))
    locations = models.ManyToManyField(Location, blank=True, related_name="members", verbose_name=_("works at"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [models.UniqueConstraint(fields=["organisation", "user"], name="member_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation}"

    # Set by permissions.roles_by_organisation, which reads the roles with the membership.
    known_role_codes: set[str] | None = None

    @property
    def role_codes(self) -> set[str]:
        if self.known_role_codes is not None:
            return set(self.known_role_codes)
        return {r.role for r in self.roles.all()}


class MemberRole(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [models.UniqueConstraint(fields=["member", "role"], name="member_role_unique")]

    def __str__(self) -> str:
        return self.get_role_display()


class Heartbeat(models.Model):
    """Last sign of life of a background process (worker, clock), shown on /healthz."""

    name = models.CharField(max_length=50, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class PeriodicRun(models.Model):
    """One row per periodic job and time window: the unique key makes enqueueing idempotent across clocks."""

    job = models.CharField(max_length=100)
    window_start = models.DateTimeField()
    enqueued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "window_start"], name="periodic_run_unique_window")]
        indexes = [models.Index(fields=["enqueued_at"])]

    def __str__(self) -> str:
        return f"{self.job} @ {self.window_start:%Y-%m-%d %H:%M:%S}"


class IdempotentRequest(models.Model):
    """The first answer to a request carrying an Idempotency-Key, replayed when the same user repeats it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotent_request_unique")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
