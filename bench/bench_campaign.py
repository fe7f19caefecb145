"""Campaign: 100,000 recipients frozen from a segment at start, then released and dispatched to a local SMTP sink
(aiosmtpd in its own process) with a pause and a resume midway, while some patients withdraw consent.

Targets: starting (freezing the audience into CampaignRecipient rows) takes at most 5 seconds; the dispatcher sends
at least 500 messages a second to the sink; 0 lost, 0 duplicates; patients who withdrew consent receive nothing.

Sizes (environment): BENCH_CAMPAIGN_RECIPIENTS (default 100,000) for the start; BENCH_CAMPAIGN_DISPATCH (default:
all of them) recipients are dispatched in a second campaign (the same code path, a smaller segment, for machines
where sending 100,000 emails takes too long); BENCH_DATABASES (default "sqlite,postgres"). NOTIFICATIONS_SENDERS
(default 1) sets the dispatcher's sender threads, as in production.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness

RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "100000"))
DISPATCH = int(os.environ.get("BENCH_CAMPAIGN_DISPATCH", str(RECIPIENTS)))
WITHDRAWING = max(1, DISPATCH // 100)  # 1% withdraw consent during the run
BATCH = max(10, min(500, DISPATCH // 20))

SINK = textwrap.dedent(
    """
    import sys, time
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self, out):
            self.out = out

        async def handle_DATA(self, server, session, envelope):
            for rcpt in envelope.rcpt_tos:
                self.out.write(rcpt + "\\n")
            self.out.flush()
            return "250 OK"

    with open(sys.argv[2], "w") as out:
        controller = Controller(Handler(out), hostname="127.0.0.1", port=int(sys.argv[1]))
        controller.start()
        print("ready", flush=True)
        while True:
            time.sleep(3600)
    """
)


def run_one(kind: str) -> dict[str, Any]:
    log = harness.ROOT / "var" / f"bench-campaign-sink-{kind}.log"
    log.parent.mkdir(exist_ok=True)
    sink, port = harness.start_script(SINK, log)
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
    try:
        url = harness.fresh_database(kind, "campaign")
        harness.setup_django(url)
        return _measure(log)
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def _measure(log: Path) -> dict[str, Any]:
    from django.db import connection

    from kabinet.accounts.models import User
    from kabinet.campaigns import selectors, services
    from kabinet.campaigns.models import CampaignRecipient
    from kabinet.core.models import Member, MemberRole, Organisation, Role
    from kabinet.notifications.dispatch import dispatch_due
    from kabinet.notifications.models import Message, ReminderPolicy
    from kabinet.patients.filters import PatientCriteria
    from kabinet.patients.models import Patient, Segment, Tag

    org = Organisation.objects.create(name="Campaign Clinic", slug=f"campaign-{time.time_ns()}", default_language="en")
    ReminderPolicy.objects.create(organisation=org, quiet_hours_start=None, quiet_hours_end=None)
    admin = User.objects.create_user(email=f"admin-{org.slug}@bench.example", password=None)
    MemberRole.objects.create(member=Member.objects.create(organisation=org, user=admin), role=Role.ADMIN)
    Patient.objects.bulk_create(
        (
            Patient(
                organisation=org,
                family_name=f"Bench{i:06d}",
                given_name="Anna",
                email=f"p{i}@example.org",
                language="en",
                marketing_consent=True,
            )
            for i in range(RECIPIENTS)
        ),
        batch_size=5000,
    )
    tag = Tag.objects.create(organisation=org, name="dispatch")
    ids = list(Patient.objects.filter(organisation=org).order_by("pk").values_list("pk", flat=True)[:DISPATCH])
    Patient.tags.through.objects.bulk_create(
        [Patient.tags.through(patient_id=pk, tag_id=tag.pk) for pk in ids], batch_size=5000
    )
    everyone = Segment.objects.create(organisation=org, name="Everyone", criteria={})
    tagged = Segment.objects.create(organisation=org, name="Dispatch", criteria=PatientCriteria(tag=tag.pk).as_json())

    def campaign_for(segment: Segment, name: str) -> Any:
        return services.campaign_create(
            actor=admin,
            organisation=org,
            name=name,
            segment=segment,
            channels=["email"],
            subject="Spring check-up, {{ patient.first_name }}",
            body="Dear {{ patient.first_name }}, book your spring check-up.",
            rate_per_minute=services.MAX_RATE,
        )

    # 1. Start: the audience frozen into recipient rows.
    big = campaign_for(everyone, "Everyone")
    started = time.perf_counter()
    big = services.campaign_start(actor=admin, campaign=big)
    start_seconds = time.perf_counter() - started
    frozen = CampaignRecipient.objects.filter(campaign=big).count()
    services.campaign_cancel(actor=admin, campaign=big)  # the dispatch runs on its own campaign (maybe smaller)

    # 2. Release and dispatch, pausing midway; 1% withdraw consent while it runs.
    campaign = services.campaign_start(actor=admin, campaign=campaign_for(tagged, "Dispatch"))
    dispatch_seconds = release_seconds = 0.0
    sent = rounds = 0
    paused = resumed = withdrawn = False
    paused_rounds = 0
    withdrawers: list[int] = []
    wall = time.perf_counter()
    while True:
        t = time.perf_counter()
        released = services.campaign_release(campaign_id=campaign.pk, budget=BATCH)
        release_seconds += time.perf_counter() - t
        if paused and not resumed:
            assert released.queued == 0, "released while paused"
        t = time.perf_counter()
        report = dispatch_due(batch=BATCH)
        dispatch_seconds += time.perf_counter() - t
        sent += report.sent
        rounds += 1
        if not withdrawn and sent >= DISPATCH // 4:
            pending = CampaignRecipient.objects.filter(campaign=campaign, state="pending").order_by("-pk")
            withdrawers = list(pending.values_list("patient_id", flat=True)[: WITHDRAWING // 2])
            queued = Message.objects.filter(ref_type="campaign", ref_id=str(campaign.pk), state="queued")
            withdrawers += list(queued.order_by("-pk").values_list("patient_id", flat=True)[: WITHDRAWING // 2])
            Patient.objects.filter(pk__in=withdrawers).update(marketing_consent=False)
            withdrawn = True
        campaign.refresh_from_db()
        if not paused and sent >= DISPATCH // 2 and campaign.state == "running":
            campaign = services.campaign_pause(actor=admin, campaign=campaign)
            paused = True
        elif paused and not resumed:
            paused_rounds += 1
            if paused_rounds >= 3 and report.claimed == 0:
                campaign = services.campaign_resume(actor=admin, campaign=campaign)
                resumed = True
        if report.claimed == 0 and released.queued == 0 and campaign.state != "paused":
            left = CampaignRecipient.objects.filter(campaign=campaign, state="pending").exists()
            if not left:
                break
    wall_seconds = time.perf_counter() - wall
    time.sleep(1)  # the sink flushes each message as it arrives; give the last one a moment

    received = Counter(line.strip() for line in log.read_text().splitlines() if line.strip())
    emails = dict(Patient.objects.filter(pk__in=ids).values_list("pk", "email"))
    withdrawer_emails = {emails[pk] for pk in withdrawers}
    expected = {emails[pk] for pk in ids} - withdrawer_emails
    stats = selectors.campaign_stats(campaign=campaign).figures
    from django.conf import settings

    return {
        "database": connection.vendor,
        "senders": settings.NOTIFICATIONS_SENDERS,
        "recipients_frozen": frozen,
        "start_seconds": round(start_seconds, 2),
        "dispatched_recipients": DISPATCH,
        "messages_sent": sent,
        "dispatch_seconds": round(dispatch_seconds, 2),
        "dispatch_messages_per_second": round(sent / dispatch_seconds) if dispatch_seconds else 0,
        "release_seconds": round(release_seconds, 2),
        "end_to_end_messages_per_second": round(sent / wall_seconds) if wall_seconds else 0,
        "lost": len(expected - set(received)),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "withdrew_consent": len(withdrawers),
        "withdrawn_who_received": len(withdrawer_emails & set(received)),
        "stats_sent": stats["sent"],
        "stats_skipped": stats["skipped"],
        "target:start_seconds": "<= 5 (100,000 recipients)",
        "target:dispatch_messages_per_second": ">= 500",
        "target:lost": "0",
        "target:duplicates": "0",
        "target:withdrawn_who_received": "0",
    }


if __name__ == "__main__":
    databases = tuple(os.environ.get("BENCH_DATABASES", "sqlite,postgres").split(","))
    harness.per_database("campaign", run_one, databases)
