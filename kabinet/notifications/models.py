"""The outbox (messages and their state history), message templates, reminder policy, push subscriptions, in-app
notifications and opt-outs."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Organisation
from kabinet.patients.models import Patient


class Channel(models.TextChoices):
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")
    PUSH = "push", _("push notification")
    INAPP = "inapp", _("in-app notification")


class Message(models.Model):
    """One outgoing message: a row before it is sent (see ARCHITECTURE.md, "Outbox").

    States: queued → sending → sent → delivered → read, or one of the final failures. `sending` holds a lease
    (claim_token, worker, lease_until); `handed_at` is set in its own commit just before the provider is called, so
    after a crash the dispatcher knows whether the provider may have the message (see dispatch.py).
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        DELIVERED = "delivered", _("delivered")
        READ = "read", _("read")
        FAILED = "failed", _("failed")
        BOUNCED = "bounced", _("bounced")
        REJECTED = "rejected", _("rejected")
        INVALID = "invalid", _("invalid address")
        CANCELLED = "cancelled", _("cancelled")

    FINAL_FAILURES = (State.FAILED, State.BOUNCED, State.REJECTED, State.INVALID, State.CANCELLED)
    DONE = (State.SENT, State.DELIVERED, State.READ)

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=320, blank=True, help_text=_("email, E.164 phone or user id"))
    event = models.CharField(_("template"), max_length=100)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    attachments = models.JSONField(default=list, blank=True)  # [{"filename", "mimetype", "content"}] (text content)
    marketing = models.BooleanField(_("marketing"), default=False)
    # unique=True also gives PostgreSQL a varchar_pattern_ops index, which cancel(prefix=...)'s LIKE 'prefix%' uses.
    idempotency_key = models.CharField(max_length=255, unique=True)
    ref_type = models.CharField(max_length=100, blank=True)
    ref_id = models.CharField(max_length=64, blank=True)

    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    due_at = models.DateTimeField(_("due"))
    expires_at = models.DateTimeField(_("pointless after"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    provider = models.CharField(_("provider"), max_length=40, blank=True)
    provider_id = models.CharField(_("provider's id"), max_length=200, blank=True)

    # The lease of a dispatcher that claimed the row (state `sending`).
    worker = models.CharField(max_length=100, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    handed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    timeline_entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="message_due"),
            models.Index(fields=["state", "lease_until"], name="message_lease"),
            models.Index(fields=["organisation", "-created_at"], name="message_org_recent"),
            models.Index(fields=["patient", "-created_at"], name="message_patient_recent"),
            models.Index(fields=["ref_type", "ref_id"], name="message_ref"),
            models.Index(fields=["provider", "provider_id"], name="message_provider_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} {self.event} → {self.address} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in (*self.FINAL_FAILURES, self.State.READ)


class MessageEvent(models.Model):
    """One step of a message's history: its new state, when, and what the provider or dispatcher said."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(_("state"), max_length=10, choices=Message.State.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    detail = models.TextField(_("details"), blank=True)
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["message", "at"])]

    def __str__(self) -> str:
        return f"{self.message_id} {self.state} @ {self.at:%Y-%m-%d %H:%M:%S}"


class MessageTemplate(models.Model):
    """A clinic's own wording of one event on one channel in one language; built-in defaults apply otherwise."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(_("event"), max_length=100)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True, help_text=_("Email only; empty: made from the text."))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "event", "channel", "language"], name="message_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} / {self.channel} / {self.language}"


def default_offsets() -> list[int]:
    return [24 * 60, 2 * 60]


class ReminderPolicy(models.Model):
    """When a clinic reminds patients and when it keeps quiet (times in the visit's location zone)."""

    organisation = models.OneToOneField(
        Organisation, primary_key=True, on_delete=models.CASCADE, related_name="reminder_policy"
    )
    reminder_offsets = models.JSONField(
        _("remind before the visit, minutes"), default=default_offsets, blank=True, help_text=_("e.g. 1440, 120")
    )
    quiet_hours_start = models.TimeField(_("quiet hours from"), null=True, blank=True, default=time(21, 0))
    quiet_hours_end = models.TimeField(_("quiet hours until"), null=True, blank=True, default=time(8, 0))
    send_confirmations = models.BooleanField(_("confirm bookings"), default=True)
    send_changes = models.BooleanField(_("tell patients about moves and cancellations"), default=True)
    in_app_copies = models.BooleanField(_("also show messages in the patient's portal"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reminder policy")
        verbose_name_plural = _("reminder policies")

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.reminder_offsets}"

    @property
    def has_quiet_hours(self) -> bool:
        return (
            self.quiet_hours_start is not None
            and self.quiet_hours_end is not None
            and self.quiet_hours_start != self.quiet_hours_end
        )


class PushSubscription(models.Model):
    """One browser/device of a user that accepts web push (the PushSubscription JSON the browser gave us)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.CharField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        indexes = [models.Index(fields=["user", "is_active"])]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.endpoint[:60]}"

    def info(self) -> dict[str, object]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class InAppNotification(models.Model):
    """A notice in the bell of a user (staff or patient); read when they open it."""

    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inapp_notifications")
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="inapp")
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("received"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("in-app notification")
        verbose_name_plural = _("in-app notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="inapp_user_recent"),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="inapp_user_unread"),
        ]

    def __str__(self) -> str:
        return self.title


class OptOut(models.Model):
    """A patient who asked for no more marketing on a channel (List-Unsubscribe); campaigns check it at send time."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        constraints = [models.UniqueConstraint(fields=["organisation", "patient", "channel"], name="opt_out_unique")]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.channel}"
