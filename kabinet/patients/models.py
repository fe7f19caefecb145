"""Patients of an organisation: contacts, tags, statuses, family links, notes and the timeline other apps append to."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Organisation
from kabinet.patients.searchkeys import name_key

CARD_NUMBER_DIGITS = 6


class Tag(models.Model):
    """A label an organisation puts on patients ("VIP-programme", "dental plan") to find and segment them."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="patient_tags")
    name = models.CharField(_("name"), max_length=50)
    colour = models.CharField(_("colour"), max_length=7, default="#0f766e", help_text=_("e.g. #0f766e"))

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="patient_tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class CardNumberSequence(models.Model):
    """The last card number handed out in an organisation; incremented under the row's write lock."""

    organisation = models.OneToOneField(Organisation, primary_key=True, on_delete=models.CASCADE, related_name="+")
    last_value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.last_value}"

    @classmethod
    def reserve(cls, organisation_id: int, count: int = 1) -> range:
        """`count` fresh numbers for the organisation. Call inside a transaction: the row stays locked until commit,
        so two clinics' registrars never get the same number and importers can reserve a block at once."""
        with transaction.atomic():
            cls.objects.get_or_create(organisation_id=organisation_id)
            cls.objects.filter(organisation_id=organisation_id).update(last_value=F("last_value") + count)
            last = cls.objects.values_list("last_value", flat=True).get(organisation_id=organisation_id)
        return range(last - count + 1, last + 1)


def format_card_number(value: int) -> str:
    return str(value).zfill(CARD_NUMBER_DIGITS)


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", _("female")
        MALE = "male", _("male")
        OTHER = "other", _("other")
        UNKNOWN = "unknown", _("unknown")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        PASSIVE = "passive", _("passive")
        REFUSAL = "refusal", _("refusal")
        ARCHIVED = "archived", _("archived")

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        SMS = "sms", _("SMS")
        PUSH = "push", _("push notification")
        CALL = "call", _("phone call")

    class Source(models.TextChoices):
        RECOMMENDATION = "recommendation", _("recommendation")
        SEARCH = "search", _("internet search")
        SOCIAL = "social", _("social media")
        ADVERTISING = "advertising", _("advertising")
        WALK_IN = "walk_in", _("walked in")
        ONLINE_BOOKING = "online_booking", _("online booking")
        INSURANCE = "insurance", _("insurance company")
        OTHER = "other", _("other")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="patients")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient_records"
    )
    card_number = models.CharField(_("card number"), max_length=20, blank=True)
    family_name = models.CharField(_("family name"), max_length=150)
    given_name = models.CharField(_("given name"), max_length=150)
    middle_name = models.CharField(_("patronymic / middle name"), max_length=150, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    # The primary phone and email, also listed among `phones` / `emails`: other apps read these two columns.
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("address"), max_length=500, blank=True)
    language = models.CharField(_("preferred language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    preferred_channel = models.CharField(_("preferred channel"), max_length=10, choices=Channel.choices, blank=True)
    # Marketing (campaigns) only with the patient's consent; opt-outs per channel are notifications.OptOut rows.
    marketing_consent = models.BooleanField(
        _("agrees to receive news and offers"), default=False, help_text=_("Campaigns reach only these patients.")
    )
    source = models.CharField(_("how they found us"), max_length=20, choices=Source.choices, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="patients", verbose_name=_("tags"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(_("reason for the status"), max_length=500, blank=True)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    allergies = models.TextField(_("allergies"), blank=True)
    is_vip = models.BooleanField(_("VIP"), default=False)
    special_notes = models.CharField(
        _("special notes"), max_length=500, blank=True, help_text=_("Shown in the card header, e.g. hard of hearing.")
    )
    # Folded name plus its Latin spelling (searchkeys.name_key), kept by save(); trigram-indexed on PostgreSQL.
    search_text = models.CharField(max_length=1000, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["organisation", "family_name", "given_name"]),
            models.Index(fields=["organisation", "phone"]),
            models.Index(fields=["organisation", "status"]),
            models.Index(fields=["organisation", "birth_date"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "card_number"],
                condition=~Q(card_number=""),
                name="patient_unique_card_number",
            )
        ]

    def __str__(self) -> str:
        return self.name_of(self.family_name, self.given_name, self.middle_name)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.fill_derived()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "search_text", "card_number"}
        super().save(*args, **kwargs)

    @staticmethod
    def name_of(family_name: str, given_name: str, middle_name: str) -> str:
        """str(patient) from the three columns, for reads that build no model instance."""
        return " ".join(part for part in (family_name, given_name, middle_name) if part)

    def fill_derived(self) -> None:
        """Set the search key (and, for a new patient, the next card number). save() calls it; importers that
        bulk_create call it themselves (reserving card numbers in a block with CardNumberSequence.reserve)."""
        self.search_text = name_key(self.family_name, self.given_name, self.middle_name)[:1000]
        if not self.card_number and self.organisation_id:
            self.card_number = format_card_number(CardNumberSequence.reserve(self.organisation_id)[0])

    def age(self, today: date | None = None) -> int | None:
        if self.birth_date is None:
            return None
        today = today or timezone.localdate()
        before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
        return today.year - self.birth_date.year - before_birthday


class PatientPhone(models.Model):
    """One of a patient's phone numbers in E.164; the primary one is mirrored in `Patient.phone`."""

    class Kind(models.TextChoices):
        MOBILE = "mobile", _("mobile")
        HOME = "home", _("home")
        WORK = "work", _("work")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(_("number"), max_length=20, help_text=_("E.164"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MOBILE)
    is_primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("phone")
        verbose_name_plural = _("phones")
        ordering = ["-is_primary", "pk"]
        indexes = [models.Index(fields=["organisation", "number"])]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="patient_phone_unique_number"),
            models.UniqueConstraint(fields=["patient"], condition=Q(is_primary=True), name="patient_phone_one_primary"),
        ]

    def __str__(self) -> str:
        return self.number


class PatientEmail(models.Model):
    """One of a patient's email addresses (lower case); the primary one is mirrored in `Patient.email`."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="emails")
    address = models.EmailField(_("address"))
    is_primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        ordering = ["-is_primary", "pk"]
        indexes = [models.Index(fields=["organisation", "address"])]
        constraints = [
            models.UniqueConstraint(fields=["patient", "address"], name="patient_email_unique_address"),
            models.UniqueConstraint(fields=["patient"], condition=Q(is_primary=True), name="patient_email_one_primary"),
        ]

    def __str__(self) -> str:
        return self.address


class Relationship(models.Model):
    """`relative` is `kind` of `patient` (e.g. the relative is the patient's parent); proxies act for the patient."""

    class Kind(models.TextChoices):
        PARENT = "parent", _("parent")
        CHILD = "child", _("child")
        SPOUSE = "spouse", _("spouse")
        OTHER = "other", _("other")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="relationships")
    relative = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="relative_of")
    kind = models.CharField(_("relation"), max_length=10, choices=Kind.choices)
    is_proxy = models.BooleanField(_("may act for the patient"), default=False)

    INVERSE = {Kind.PARENT: Kind.CHILD, Kind.CHILD: Kind.PARENT, Kind.SPOUSE: Kind.SPOUSE, Kind.OTHER: Kind.OTHER}

    class Meta:
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        constraints = [
            models.UniqueConstraint(fields=["patient", "relative"], name="relationship_unique_pair"),
            models.CheckConstraint(condition=~models.Q(patient=models.F("relative")), name="relationship_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.relative_id} is {self.kind} of {self.patient_id}"


class PatientNote(models.Model):
    """A staff note on one patient, or on the patient's whole family (then every relative's card shows it)."""

    class Scope(models.TextChoices):
        PATIENT = "patient", _("this patient")
        FAMILY = "family", _("the whole family")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scope = models.CharField(_("applies to"), max_length=10, choices=Scope.choices, default=Scope.PATIENT)
    text = models.TextField(_("note"))
    created_at = models.DateTimeField(_("written"), default=timezone.now)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "created_at"])]

    def __str__(self) -> str:
        return self.text[:50]


class TimelineEntry(models.Model):
    """One thing that happened with a patient. Written only through patients.services.timeline_add, which other
    apps call (bookings, documents, messages, payments): the timeline is pushed down, never assembled by importing
    the apps above."""

    class Kind(models.TextChoices):
        APPOINTMENT = "appointment", _("appointment")
        NOTE = "note", _("note")
        STATUS = "status", _("status")
        PROFILE = "profile", _("details")
        FAMILY = "family", _("family")
        DOCUMENT = "document", _("document")
        MEDICAL = "medical", _("medical record")
        MESSAGE = "message", _("message")
        EMAIL = "email", _("email")
        SMS = "sms", _("SMS")
        CALL = "call", _("call")
        PAYMENT = "payment", _("payment")
        OTHER = "other", _("other")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("details"), blank=True)
    # What the entry is about, e.g. ("scheduling.appointment", "42"): lets the owner update or link to it.
    ref_type = models.CharField(max_length=100, blank=True)
    ref_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["patient", "-occurred_at"], name="timeline_patient_recent"),
            models.Index(fields=["patient", "kind", "-occurred_at"], name="timeline_patient_kind"),
            models.Index(fields=["ref_type", "ref_id"], name="timeline_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind}: {self.title}"


class ImportJob(models.Model):
    """One import of a patient list (CSV or XLSX) into an organisation: the stored file, the column mapping, and
    the outcome counts and per-row problems that the result page, the API and the error report show."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="patient_imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(_("file"), upload_to="patient-imports/", max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    format = models.CharField(_("format"), max_length=10, choices=Format.choices)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    failure = models.CharField(_("failure"), max_length=500, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # [{"line": 7, "outcome": "error", "problems": ["…"], "row": [raw cells]}], at most IMPORT_REPORT_LIMIT rows.
    error_rows = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("patient import")
        verbose_name_plural = _("patient imports")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": self.errors,
        }


class Segment(models.Model):
    """A saved patient search: the PatientCriteria of the list page, stored as a dict, reapplied on demand."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="patient_segments")
    name = models.CharField(_("name"), max_length=100)
    criteria = models.JSONField(_("criteria"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="patient_segment_unique_name")]

    def __str__(self) -> str:
        return self.name


class NameWord(models.Model):
    """A word that occurs in the names of a clinic's patients (a word of `Patient.search_text`): the spelling
    dictionary of the typo-tolerant search on PostgreSQL. A typed word is compared with these few thousand distinct
    words rather than with a million names (in memory, `kabinet/patients/namewords.py`), and the names are then found
    through the corrected words, as pg_trgm's documentation suggests for spelling suggestions. A statement-level
    trigger on the patients table keeps it (migration 0008), so bulk imports fill it too; words are never removed
    (a stale word only finds nobody). SQLite does not use it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    word = models.CharField(max_length=150)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "word"], name="patient_name_word_unique")]

    def __str__(self) -> str:
        return self.word
