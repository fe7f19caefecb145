"""Campaigns (a message to a saved patient segment, released at a throttled rate) and their frozen recipients."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Organisation
from kabinet.notifications.models import Message
from kabinet.patients.models import Patient, Segment


class Campaign(models.Model):
    """draft → running ⇄ paused → completed (every recipient released) | cancelled."""

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        RUNNING = "running", _("running")
        PAUSED = "paused", _("paused")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("segment")
    )
    segment_name = models.CharField(_("segment"), max_length=100, blank=True)  # kept if the segment is deleted
    channels = models.JSONField(_("channels"), default=list)
    event = models.CharField(_("template"), max_length=100)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"), blank=True)
    start_at = models.DateTimeField(_("send from"), null=True, blank=True)
    rate_per_minute = models.PositiveIntegerField(_("messages per minute"), default=600)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    audience = models.PositiveIntegerField(_("audience"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organisation", "-created_at"], name="campaign_org_recent"),
            models.Index(fields=["state"], name="campaign_state"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        return self.state in (self.State.RUNNING, self.State.PAUSED)


class CampaignRecipient(models.Model):
    """One patient on one channel of a campaign, frozen from the segment at start; `message` once released."""

    class State(models.TextChoices):
        PENDING = "pending", _("waiting")
        QUEUED = "queued", _("released")
        SKIPPED = "skipped", _("skipped")
        CANCELLED = "cancelled", _("cancelled")

    class Reason(models.TextChoices):
        NO_CONSENT = "no_consent", _("no consent to news and offers")
        OPTED_OUT = "opted_out", _("unsubscribed")
        NO_ADDRESS = "no_address", _("no address on this channel")
        CAMPAIGN_CANCELLED = "campaign_cancelled", _("campaign cancelled")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=10)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "patient", "channel"], name="campaign_recipient_unique")
        ]
        indexes = [
            models.Index(fields=["campaign", "state"], name="campaign_recipient_state"),
            models.Index(fields=["campaign", "released_at"], name="campaign_recipient_released"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.patient_id}/{self.channel}"
