"""Users (email or phone login), one-time codes, API tokens and rate-limit events."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def normalize_email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def normalize_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164 form of a phone number, or None when empty. Raises ValidationError when it is not a valid number."""
    value = (value or "").strip()
    if not value:
        return None
    if value.startswith("00"):
        # "00" is the international call prefix in most of Europe: 00359... is +359...
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Enter a valid phone number with the country code, e.g. +359..."), "phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Enter a valid phone number with the country code, e.g. +359..."), "phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_login(value: str | None) -> str:
    """One spelling for what was typed as a login: a lower-case email, an E.164 phone, else the trimmed text."""
    value = (value or "").strip()
    if "@" in value:
        return normalize_email(value) or ""
    try:
        return normalize_phone(value) or ""
    except ValidationError:
        return value.lower()


def keyed_hash(value: str) -> str:
    """HMAC of a secret or identifier with SECRET_KEY: stored instead of the value itself."""
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(
        self, email: str | None = None, password: str | None = None, *, phone: str | None = None, **extra: Any
    ) -> User:
        email, phone = normalize_email(email), normalize_phone(phone)
        if not email and not phone:
            raise ValueError("A user needs an email or a phone number")
        user = self.model(email=email, phone=phone, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_login(self, login: str) -> User | None:
        """The user whose email or phone equals `login` (any phone format), or None."""
        login = (login or "").strip()
        if not login:
            return None
        if "@" in login:
            return self.filter(email=normalize_email(login)).first()
        try:
            phone = normalize_phone(login)
        except ValidationError:
            return None
        return self.filter(phone=phone).first() if phone else None


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email"), unique=True, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, unique=True, null=True, blank=True)
    full_name = models.CharField(_("full name"), max_length=300, blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("may use the back-office admin"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(phone__isnull=False), name="user_has_email_or_phone"
            )
        ]

    def __str__(self) -> str:
        return self.label_of(self.pk, self.full_name, self.email, self.phone)

    @staticmethod
    def label_of(pk: int, full_name: str, email: str | None, phone: str | None) -> str:
        """str(user) from its columns, for reads that build no model instance."""
        return full_name or email or phone or f"#{pk}"

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)
        self.phone = normalize_phone(self.phone)

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else str(self)

    @property
    def needs_activation(self) -> bool:
        return not self.has_usable_password()


class OneTimeCode(models.Model):
    """A short code for password reset or account activation: stored hashed, single use, expiring."""

    class Purpose(models.TextChoices):
        PASSWORD_RESET = "reset", _("password reset")
        ACTIVATION = "activation", _("account activation")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_codes")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "used_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code for user {self.user_id}"

    def is_usable(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return (
            self.used_at is None
            and self.expires_at > now
            and self.failed_attempts < settings.ONE_TIME_CODE_MAX_ATTEMPTS
        )


class ApiToken(models.Model):
    """A personal API token. Only its hash is stored; the token itself is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, help_text=_("first characters, to recognise the token"))
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class RateLimitEvent(models.Model):
    """One counted event (failed login, reset request) for a hashed key; counted over a sliding window.

    Kept in the database so every web process sees the same counts and no identifier is stored in clear.
    """

    scope = models.CharField(max_length=40)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["scope", "key_hash", "created_at"])]

    def __str__(self) -> str:
        return f"{self.scope} @ {self.created_at:%Y-%m-%d %H:%M:%S}"
