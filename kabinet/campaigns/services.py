"""Campaign use cases: create, start (freeze the audience), pause, resume, cancel, and the clock's release of
throttled batches into the outbox.

Rules enforced here:
- Administrators and coordinators run campaigns (CAMPAIGN_ROLES), only their own organisation's.
- Starting freezes the segment's patients into CampaignRecipient rows (one per patient per channel), in bulk: who
  joins the segment later is not added; the audience is what it was at the start.
- The clock releases recipients into the outbox in batches: at most `rate_per_minute` in any 60 seconds and about
  a tick's share per tick (rate × NOTIFICATIONS_TICK_SECONDS / 60), only while the campaign runs and its start time
  has come. A recipient is released once: its row moves from `pending` in the same transaction that writes the
  message, whose idempotency key (`campaign:<id>:<recipient>#<channel>`) is unique.
- At release, a patient without marketing consent, or who unsubscribed from the channel, or without an address on
  it, is skipped with the reason; a malformed address gives an `invalid` message that is never sent. The dispatcher
  checks consent and opt-outs again just before sending (notifications.dispatch.withhold_marketing).
- Pause stops releasing (messages already in the outbox still go); resume continues with the remainder; cancel
  cancels the recipients not yet released and the campaign's messages still queued in the outbox.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.audit.services import record, snapshot
from kabinet.campaigns.events import CAMPAIGN_EVENT
from kabinet.campaigns.models import Campaign, CampaignRecipient
from kabinet.core import permissions
from kabinet.core.exceptions import Conflict, Invalid, NotFound
from kabinet.core.models import Location, Organisation, Role
from kabinet.notifications import events, rendering
from kabinet.notifications import services as notifications
from kabinet.notifications.compose import PATIENT_VARIABLES, patient_context
from kabinet.notifications.models import Channel, OptOut
from kabinet.patients import selectors as patient_selectors
from kabinet.patients.models import Patient, Segment

CAMPAIGN_ROLES = (Role.ADMIN, Role.COORDINATOR)
CAMPAIGN_CHANNELS = (Channel.EMAIL, Channel.SMS)
MAX_RATE = 100_000
RELEASE_CHUNK = 2_000
WINDOW = timedelta(seconds=60)
AUDIT_FIELDS = ["name", "segment_name", "channels", "event", "subject", "body", "start_at", "rate_per_minute"]

State = Campaign.State
RState = CampaignRecipient.State


def _key(campaign_id: int) -> str:
    return f"campaign:{campaign_id}:"


def marketing_events() -> list[tuple[str, str]]:
    """Events a campaign may use: marketing ones whose wording needs only the patient and the campaign's text."""
    allowed = PATIENT_VARIABLES | {"subject", "text"}
    return [(e.key, str(e.label)) for e in events.all_events() if e.marketing and e.variables <= allowed]


def _check(
    *,
    organisation: Organisation,
    name: str,
    segment: Segment | None,
    channels: list[str],
    event: str,
    subject: str,
    body: str,
    rate_per_minute: int,
) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Name the campaign.")]
    if segment is None or segment.organisation_id != organisation.pk:
        errors["segment"] = [_("Choose one of the saved segments.")]
    if not channels or not set(channels) <= set(CAMPAIGN_CHANNELS):
        errors["channels"] = [_("Choose email, SMS or both.")]
    if event not in {key for key, _label in marketing_events()}:
        errors["event"] = [_("Choose a template from the list.")]
    if event == CAMPAIGN_EVENT and not body.strip():
        errors["body"] = [_("Write the text of the message.")]
    if event == CAMPAIGN_EVENT and Channel.EMAIL in channels and not subject.strip():
        errors["subject"] = [_("Write a subject for the email.")]
    if not 1 <= rate_per_minute <= MAX_RATE:
        errors["rate_per_minute"] = [_("Give between 1 and %(max)s messages a minute.") % {"max": MAX_RATE}]
    for field, source in (("subject", subject), ("body", body)):
        if source:
            try:
                rendering.check_variables([source], set(PATIENT_VARIABLES))
            except ValidationError as exc:
                errors.setdefault(field, []).extend(exc.messages)
    if errors:
        raise Invalid(errors=errors, code="bad_campaign")


def campaign_create(
    *,
    actor: Any,
    organisation: Organisation,
    name: str,
    segment: Segment | None,
    channels: list[str],
    subject: str = "",
    body: str = "",
    event: str = CAMPAIGN_EVENT,
    start_at: datetime | None = None,
    rate_per_minute: int = 600,
) -> Campaign:
    """A draft campaign; nothing is sent until it is started."""
    permissions.require_role(actor, organisation, *CAMPAIGN_ROLES)
    channels = list(dict.fromkeys(channels))
    _check(
        organisation=organisation,
        name=name,
        segment=segment,
        channels=channels,
        event=event,
        subject=subject,
        body=body,
        rate_per_minute=rate_per_minute,
    )
    assert segment is not None
    with transaction.atomic():
        campaign = Campaign.objects.create(
            organisation=organisation,
            name=name.strip(),
            segment=segment,
            segment_name=segment.name,
            channels=channels,
            event=event,
            subject=subject.strip(),
            body=body.strip(),
            start_at=start_at,
            rate_per_minute=rate_per_minute,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record(actor=actor, action="campaign.created", obj=campaign, after=snapshot(campaign, AUDIT_FIELDS))
    return campaign


def _locked(actor: Any, campaign: Campaign) -> Campaign:
    permissions.require_role(actor, campaign.organisation_id, *CAMPAIGN_ROLES)
    locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if locked is None:
        raise NotFound()
    return locked


def _wrong_state(campaign: Campaign) -> Conflict:
    return Conflict(
        _("The campaign is %(state)s: this cannot be done now.") % {"state": campaign.get_state_display()},
        code="campaign_state",
    )


def campaign_start(*, actor: Any, campaign: Campaign, start_at: datetime | None = None) -> Campaign:
    """Freeze the segment's patients into recipients (one per channel) and start releasing at `start_at` (or the
    campaign's own start time, or now)."""
    with transaction.atomic():
        campaign = _locked(actor, campaign)
        if campaign.state != State.DRAFT:
            raise _wrong_state(campaign)
        segment = (
            Segment.objects.filter(pk=campaign.segment_id, organisation_id=campaign.organisation_id).first()
            if campaign.segment_id
            else None
        )
        if segment is None:
            raise Invalid(errors={"segment": [_("The segment was deleted; make a new campaign.")]}, code="no_segment")
        patients = patient_selectors.segment_patients(user=actor, segment=segment)
        audience = _freeze(campaign, patients)
        now = timezone.now()
        campaign.state = State.RUNNING
        campaign.audience = audience
        campaign.started_at = now
        campaign.start_at = start_at or campaign.start_at or now
        campaign.save(update_fields=["state", "audience", "started_at", "start_at"])
        record(
            actor=actor,
            action="campaign.started",
            obj=campaign,
            before={"state": State.DRAFT},
            after={"state": campaign.state, "audience": campaign.audience, "start_at": campaign.start_at},
        )
    return campaign


def _freeze(campaign: Campaign, patients: QuerySet[Patient]) -> int:
    """Insert a pending recipient per patient and channel straight from the segment's query (INSERT … SELECT: no
    patient row travels to Python, which is what makes 100,000 recipients a matter of a second); the audience size."""
    ids_sql, ids_params = patients.order_by().values("id").query.sql_with_params()  # one column, named id
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    inserted = 0
    with connection.cursor() as cursor:
        for channel in campaign.channels:
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, patient_id, channel, state, reason) "  # noqa: S608 (our names)
                f"SELECT DISTINCT %s, segment.id, %s, %s, %s FROM ({ids_sql}) AS segment",
                [campaign.pk, channel, CampaignRecipient.State.PENDING, "", *ids_params],
            )
            inserted += cursor.rowcount
    return inserted // len(campaign.channels) if campaign.channels else 0


def campaign_pause(*, actor: Any, campaign: Campaign) -> Campaign:
    """Stop releasing; what is already in the outbox still goes out."""
    with transaction.atomic():
        campaign = _locked(actor, campaign)
        if campaign.state != State.RUNNING:
            raise _wrong_state(campaign)
        campaign.state, campaign.paused_at = State.PAUSED, timezone.now()
        campaign.save(update_fields=["state", "paused_at"])
        record(
            actor=actor, action="campaign.paused", obj=campaign, before={"state": "running"}, after={"state": "paused"}
        )
    return campaign


def campaign_resume(*, actor: Any, campaign: Campaign) -> Campaign:
    """Release the remainder again (each recipient still once)."""
    with transaction.atomic():
        campaign = _locked(actor, campaign)
        if campaign.state != State.PAUSED:
            raise _wrong_state(campaign)
        campaign.state = State.RUNNING
        campaign.save(update_fields=["state"])
        record(
            actor=actor, action="campaign.resumed", obj=campaign, before={"state": "paused"}, after={"state": "running"}
        )
    return campaign


def campaign_cancel(*, actor: Any, campaign: Campaign) -> Campaign:
    """Nothing more goes out: pending recipients are cancelled, and so are the campaign's queued messages (those
    already handed to a gateway cannot be called back)."""
    with transaction.atomic():
        campaign = _locked(actor, campaign)
        if campaign.state not in (State.DRAFT, State.RUNNING, State.PAUSED):
            raise _wrong_state(campaign)
        before = campaign.state
        now = timezone.now()
        pending = CampaignRecipient.objects.filter(campaign=campaign, state=RState.PENDING).update(
            state=RState.CANCELLED, reason=CampaignRecipient.Reason.CAMPAIGN_CANCELLED
        )
        queued = notifications.cancel(
            organisation_id=campaign.organisation_id, prefix=_key(campaign.pk), reason="campaign cancelled"
        )
        campaign.state, campaign.cancelled_at = State.CANCELLED, now
        campaign.save(update_fields=["state", "cancelled_at"])
        record(
            actor=actor,
            action="campaign.cancelled",
            obj=campaign,
            before={"state": before},
            after={"state": campaign.state, "recipients_cancelled": pending, "messages_cancelled": queued},
        )
    return campaign


# --- release (the clock) ------------------------------------------------------------------------------------------


def tick_share(campaign: Campaign) -> int:
    """How many a tick may release: the rate's share of one clock period, at least one."""
    return max(1, math.ceil(campaign.rate_per_minute * settings.NOTIFICATIONS_TICK_SECONDS / 60))


def _lock_for_release(campaign_id: int) -> Campaign | None:
    # SQLite: the IMMEDIATE transaction already holds the write lock; PostgreSQL: a second clock or worker skips.
    rows = Campaign.objects.filter(pk=campaign_id, state=State.RUNNING)
    if connection.vendor == "postgresql":
        rows = rows.select_for_update(skip_locked=True)
    return rows.select_related("organisation").first()


@dataclass
class Released:
    queued: int = 0
    skipped: int = 0
    completed: bool = False


def campaign_release(*, campaign_id: int, now: datetime | None = None, budget: int | None = None) -> Released:
    """Release the next batch of one running campaign (see the module docstring for the throttle and checks)."""
    now = now or timezone.now()
    result = Released()
    while True:
        with transaction.atomic():
            campaign = _lock_for_release(campaign_id)
            if campaign is None or (campaign.start_at and campaign.start_at > now):
                return result
            recipients = CampaignRecipient.objects.filter(campaign_id=campaign.pk)
            in_window = recipients.filter(state=RState.QUEUED, released_at__gt=now - WINDOW).count()
            share = tick_share(campaign) if budget is None else budget
            room = min(campaign.rate_per_minute - in_window, share - result.queued, RELEASE_CHUNK)
            if room <= 0:
                return result
            batch = list(recipients.filter(state=RState.PENDING).select_related("patient").order_by("pk")[:room])
            if not batch:
                campaign.state, campaign.completed_at = State.COMPLETED, now
                campaign.save(update_fields=["state", "completed_at"])
                record(actor=None, action="campaign.completed", obj=campaign, after={"state": campaign.state})
                result.completed = True
                return result
            queued, skipped = _release_batch(campaign, batch, now)
            result.queued += queued
            result.skipped += skipped


def _release_batch(campaign: Campaign, batch: list[CampaignRecipient], now: datetime) -> tuple[int, int]:
    organisation = campaign.organisation
    patient_ids = {r.patient_id for r in batch}
    opted_out = set(
        OptOut.objects.filter(organisation=organisation, patient_id__in=patient_ids).values_list(
            "patient_id", "channel"
        )
    )
    skipped: dict[str, list[int]] = {}
    sendable: list[CampaignRecipient] = []
    items: list[notifications.BulkItem] = []
    contexts: dict[int, dict[str, Any]] = {}
    for recipient in batch:
        patient = recipient.patient
        reason: str
        address = (patient.email if recipient.channel == Channel.EMAIL else patient.phone or "").strip()
        if not patient.marketing_consent:
            reason = CampaignRecipient.Reason.NO_CONSENT
        elif (patient.pk, recipient.channel) in opted_out:
            reason = CampaignRecipient.Reason.OPTED_OUT
        elif not address:
            reason = CampaignRecipient.Reason.NO_ADDRESS
        else:
            if patient.pk not in contexts:
                contexts[patient.pk] = _context(campaign, patient)
            sendable.append(recipient)
            items.append(
                notifications.BulkItem(
                    key=f"{_key(campaign.pk)}{recipient.pk}",
                    channel=recipient.channel,
                    address=address,
                    patient=patient,
                    context=contexts[patient.pk],
                )
            )
            continue
        skipped.setdefault(reason, []).append(recipient.pk)
    for reason, ids in skipped.items():
        CampaignRecipient.objects.filter(pk__in=ids, state=RState.PENDING).update(
            state=RState.SKIPPED, reason=reason, released_at=now
        )
    messages = notifications.schedule_bulk(
        organisation=organisation,
        event=campaign.event,
        items=items,
        due_at=now,
        time_zone=_clinic_zone(organisation),
        ref_type="campaign",
        ref_id=campaign.pk,
    )
    for recipient, message in zip(sendable, messages, strict=True):
        recipient.message_id, recipient.state, recipient.released_at = message.pk, RState.QUEUED, now
    CampaignRecipient.objects.bulk_update(sendable, ["message", "state", "released_at"], batch_size=500)
    return len(sendable), sum(len(ids) for ids in skipped.values())


def _clinic_zone(organisation: Organisation) -> str | None:
    """The zone quiet hours are read in for a campaign: the clinic's (first active) location's, else the server's."""
    locations = Location.objects.filter(organisation=organisation, is_active=True).order_by("pk")
    return locations.values_list("time_zone", flat=True).first()


def _context(campaign: Campaign, patient: Any) -> dict[str, Any]:
    """The patient's variables and the campaign's subject and text with them filled in."""
    context = patient_context(campaign.organisation, patient)
    own = rendering.render(
        subject=campaign.subject,
        body=campaign.body or " ",
        html="",
        context=context,
        language=patient.language or campaign.organisation.default_language,
        zone=settings.TIME_ZONE,
    )
    return {**context, "subject": own.subject, "text": own.body}


def campaign_release_due(*, now: datetime | None = None) -> dict[int, Released]:
    """One clock tick: a batch of every running campaign whose start time has come."""
    now = now or timezone.now()
    due = Campaign.objects.filter(state=State.RUNNING, start_at__lte=now).values_list("pk", flat=True)
    return {pk: campaign_release(campaign_id=pk, now=now) for pk in list(due)}


def campaign_export_logged(*, actor: Any, campaign: Campaign, rows: int) -> None:
    """The recipient list leaves kabinet as a file: that read of personal data is in the audit log."""
    permissions.require_role(actor, campaign.organisation_id, *CAMPAIGN_ROLES)
    record(actor=actor, action="campaign.recipients_exported", obj=campaign, after={"rows": rows})
