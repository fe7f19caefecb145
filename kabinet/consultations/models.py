"""Consultation contracts, their conversations and messages (text, files, voice, device readings), one-off requests
without a contract, patients' ratings, the clinic's consultation policy and reading thresholds."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.billing.models import Invoice
from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.models import Patient


def default_work_days() -> list[int]:
    return [1, 2, 3, 4, 5]  # ISO weekdays, Monday to Friday


class PaymentState(models.TextChoices):
    FREE = "free", _("free")
    UNPAID = "unpaid", _("awaiting payment")
    PAID = "paid", _("paid")
    REFUNDED = "refunded", _("refunded")


class ConsultationPolicy(models.Model):
    """How one clinic runs remote consultations: working hours for SLAs counted in working hours only, escalation
    delay, prices of one-off requests and the emergency line patients see. Missing row: the defaults below."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="consultation_policy")
    work_days = models.JSONField(_("working days"), default=default_work_days, help_text=_("ISO weekdays, 1 = Monday"))
    work_start = models.TimeField(_("working day starts"), default=time(9))
    work_end = models.TimeField(_("working day ends"), default=time(18))
    default_sla_hours = models.PositiveSmallIntegerField(_("default response time, hours"), default=24)
    escalate_admin_after_minutes = models.PositiveIntegerField(
        _("tell the administrators when a reply is overdue by, minutes"), default=120
    )
    question_price = models.DecimalField(
        _("price of a written question"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    callback_price = models.DecimalField(
        _("price of a callback request"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    emergency_phone = models.CharField(
        _("emergency line"),
        max_length=20,
        blank=True,
        help_text=_("E.164; empty: the first phone line of the contract's location"),
    )

    class Meta:
        verbose_name = _("consultation policy")
        verbose_name_plural = _("consultation policies")

    def __str__(self) -> str:
        return f"{self.organisation_id}"


class Conversation(models.Model):
    """The channel between a patient and their doctor (and the contract's care team). Contracts open it; renewals
    and later contracts with the same doctor continue it, so the whole history stays in one place. Counters are kept
    by the message services so the SLA panel reads one row per conversation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consultation_conversations")
    doctor = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="consultation_conversations")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True)
    patient_messages = models.PositiveIntegerField(default=0)  # ↑ patient → doctor
    staff_messages = models.PositiveIntegerField(default=0)  # ↓ doctor → patient
    unanswered = models.PositiveIntegerField(default=0)  # patient messages since the last reply
    awaiting_since = models.DateTimeField(null=True, blank=True)  # the first unanswered patient message
    due_at = models.DateTimeField(null=True, blank=True)  # its reply deadline
    # 0: not escalated; 1: the doctor was told the reply is overdue; 2: the administrators were told too.
    escalation = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "doctor"], name="consultation_conversation_unique_pair"),
        ]
        indexes = [
            models.Index(fields=["organisation", "due_at"], name="consultation_conv_due"),
            models.Index(fields=["doctor", "-last_message_at"], name="consultation_conv_doctor"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} ↔ {self.doctor}"


class ConsultationContract(models.Model):
    """A paid or free period during which a patient may write to a doctor (or care team), with a response SLA.

    draft → active → ended, or draft/active → cancelled. Only one contract of a conversation is active at a time.
    """

    class Kind(models.TextChoices):
        WRITTEN = "written", _("written")
        PHONE = "phone", _("phone")
        VIDEO = "video", _("video")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        ENDED = "ended", _("ended")
        CANCELLED = "cancelled", _("cancelled")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consultation_contracts")
    doctor = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="consultation_contracts", verbose_name=_("doctor")
    )
    care_team = models.ManyToManyField(
        Member, blank=True, related_name="consultation_teams", verbose_name=_("care team")
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("location")
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.PROTECT, related_name="contracts"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WRITTEN)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, default=Decimal("0"))
    payment_state = models.CharField(
        _("payment"), max_length=10, choices=PaymentState.choices, default=PaymentState.FREE
    )
    # The invoice billed when a paid one was made; its payments and refunds move `payment_state` (billing's hook).
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("invoice")
    )
    sla_hours = models.PositiveSmallIntegerField(
        _("response time, hours"), default=24, validators=[MinValueValidator(1), MaxValueValidator(720)]
    )
    sla_working_hours = models.BooleanField(_("count working hours only"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    renewed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals", verbose_name=_("renews")
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    end_reason = models.CharField(_("why it ended"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("consultation contract")
        verbose_name_plural = _("consultation contracts")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(status="active"), name="consultation_one_active_contract"
            ),
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="consultation_period"),
            models.CheckConstraint(condition=Q(price__gte=0), name="consultation_price_not_negative"),
        ]
        indexes = [
            models.Index(fields=["organisation", "status"], name="consultation_contract_status"),
            models.Index(fields=["status", "ends_on"], name="consultation_contract_ends"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.patient} — {self.doctor}"

    @property
    def is_paid(self) -> bool:
        return self.price > 0

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ConsultationMessage(models.Model):
    """One message of a conversation. Patient messages carry their reply deadline (`due_at`, from the contract's
    SLA) and, once a doctor or the care team writes back, when and by whom they were answered."""

    class Side(models.TextChoices):
        PATIENT = "patient", _("patient")
        STAFF = "staff", _("clinic")

    class Kind(models.TextChoices):
        TEXT = "text", _("text")
        FILE = "file", _("file")
        PHOTO = "photo", _("photo")
        VOICE = "voice", _("voice message")
        READING = "reading", _("device reading")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    contract = models.ForeignKey(
        ConsultationContract, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    side = models.CharField(max_length=10, choices=Side.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(_("text"), blank=True)
    # A checked upload stored under a random name, served only by the permission-checked view.
    file = models.FileField(upload_to="consultations/", max_length=300, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    original_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)  # voice messages
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    read_at = models.DateTimeField(null=True, blank=True)  # read by the other side

    class Meta:
        verbose_name = _("consultation message")
        verbose_name_plural = _("consultation messages")
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["conversation", "id"], name="consultation_msg_conv"),
            models.Index(fields=["organisation", "answered_at"], name="consultation_msg_answered"),
            models.Index(fields=["organisation", "due_at"], name="consultation_msg_due"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.side} {self.kind}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/")


class Reading(models.Model):
    """A device reading the patient sent (blood pressure, glucose, weight, temperature, SpO2; ECG as a file): the
    structured values for charts, tied to the message that carried it."""

    class Kind(models.TextChoices):
        BLOOD_PRESSURE = "blood_pressure", _("blood pressure")
        GLUCOSE = "glucose", _("glucose")
        WEIGHT = "weight", _("weight")
        TEMPERATURE = "temperature", _("temperature")
        SPO2 = "spo2", _("SpO2")
        ECG = "ecg", _("ECG")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consultation_readings")
    message = models.OneToOneField(ConsultationMessage, on_delete=models.CASCADE, related_name="reading")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    values = models.JSONField(_("values"), default=dict)  # e.g. {"systolic": 130, "diastolic": 85, "pulse": 70}
    measured_at = models.DateTimeField(_("measured at"))
    comment = models.CharField(_("comment"), max_length=1000, blank=True)
    out_of_range = models.BooleanField(default=False)  # outside the clinic's thresholds when it was sent

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        ordering = ["measured_at", "pk"]
        indexes = [models.Index(fields=["patient", "kind", "measured_at"], name="consultation_reading_series")]

    def __str__(self) -> str:
        return f"{self.kind} {self.values}"


class ReadingThreshold(models.Model):
    """A clinic's normal range for one measure of a reading kind (e.g. systolic 90–140); readings outside it are
    highlighted in conversations and charts. Without a row the built-in defaults apply (readings.DEFAULT_RANGES)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    measure = models.CharField(_("measure"), max_length=20)
    low = models.DecimalField(_("lowest normal"), max_digits=7, decimal_places=2, null=True, blank=True)
    high = models.DecimalField(_("highest normal"), max_digits=7, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("reading threshold")
        verbose_name_plural = _("reading thresholds")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "measure"], name="consultation_threshold_unique")
        ]

    def __str__(self) -> str:
        return f"{self.measure}: {self.low}–{self.high}"


class ConsultationRequest(models.Model):
    """A one-off written question or phone-callback request without a contract, waiting in the clinic's queue in
    order of arrival until a doctor takes it."""

    class Kind(models.TextChoices):
        QUESTION = "question", _("written question")
        CALLBACK = "callback", _("phone callback")

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting")
        TAKEN = "taken", _("taken")
        ANSWERED = "answered", _("answered")
        CANCELLED = "cancelled", _("cancelled")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consultation_requests")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    question = models.TextField(_("question"))
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, default=Decimal("0"))
    payment_state = models.CharField(
        _("payment"), max_length=10, choices=PaymentState.choices, default=PaymentState.FREE
    )
    # The invoice billed when a paid one was made; its payments and refunds move `payment_state` (billing's hook).
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("invoice")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.WAITING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    taken_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    taken_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("consultation request")
        verbose_name_plural = _("consultation requests")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["organisation", "status", "created_at"], name="consultation_queue")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ({self.status})"


class ContractRating(models.Model):
    """The patient's rating of a contract once it has ended (1–5 and a comment); doctors' ratings aggregate these."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    contract = models.OneToOneField(ConsultationContract, on_delete=models.CASCADE, related_name="rating")
    doctor = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="consultation_ratings")
    score = models.PositiveSmallIntegerField(_("rating"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("comment"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1) & Q(score__lte=5), name="consultation_rating_range")
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.score}"


class VideoCall(models.Model):
    """A video consultation in a conversation or for a video visit (an appointment of a video service): the doctor
    (or the care team / permitted staff) starts it, the patient joins from the portal; the browsers connect to each
    other (WebRTC) after exchanging offers through the signalling socket. Exactly one of conversation and
    appointment is set."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="video_calls"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.CASCADE, related_name="video_calls"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("video call")
        verbose_name_plural = _("video calls")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(ended_at__isnull=True), name="consultation_one_open_call"
            ),
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(ended_at__isnull=True, appointment__isnull=False),
                name="consultation_one_open_appointment_call",
            ),
            models.CheckConstraint(
                condition=Q(conversation__isnull=False, appointment__isnull=True)
                | Q(conversation__isnull=True, appointment__isnull=False),
                name="consultation_call_has_one_place",
            ),
        ]

    def __str__(self) -> str:
        if self.appointment_id is not None:
            return f"#{self.pk} for visit {self.appointment_id}"
        return f"#{self.pk} in {self.conversation_id}"

    @property
    def patient_id(self) -> int:
        place = self.appointment if self.appointment_id is not None else self.conversation
        assert place is not None
        return int(place.patient_id)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class QualityReview(models.Model):
    """An administrator's score of the medical quality of a contract's conversation (1–5 and a note), made on a
    sample of the month's conversations; averaged per doctor in the monthly report."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    contract = models.ForeignKey(ConsultationContract, on_delete=models.CASCADE, related_name="reviews")
    doctor = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="consultation_reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("quality"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("quality review")
        verbose_name_plural = _("quality reviews")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "reviewer"], name="consultation_review_once"),
            models.CheckConstraint(condition=Q(score__gte=1) & Q(score__lte=5), name="consultation_review_range"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.score}"
