"""The monthly report per doctor — the basis of rewards: patient messages answered, median and 90th-percentile
response time, SLA breaches, the patients' rating and paid consultations; as rows for the page and as CSV.

Definitions (the month is counted in the clinic's zone):
- answered: patient messages whose reply (by this doctor or a colleague of the care team: the one who wrote back)
  came in the month; response time = reply time − message time, around the clock;
- SLA breaches: of those, the ones answered after their deadline, plus the messages in the doctor's conversations
  whose deadline passed in the month (up to now) without any reply;
- rating: the ratings given in the month (and the doctor's average over all time);
- paid consultations: paid contracts of the doctor opened in the month, plus paid one-off requests the doctor
  answered in the month;
- quality: the administrators' average review score of the doctor's conversations, given in the month.

The administrators review a sample of each month's conversations (review_sample): the same pseudo-random choice
for everyone who opens that month, so the sample cannot be picked by hand.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kabinet.consultations.models import (
    ConsultationContract,
    ConsultationMessage,
    ConsultationRequest,
    ContractRating,
    PaymentState,
    QualityReview,
)
from kabinet.consultations.selectors import doctor_ratings, doctors_of, zone_for
from kabinet.core.models import Member, Organisation


@dataclass
class DoctorMonth:
    doctor: Member
    answered: int = 0
    median_minutes: float | None = None
    p90_minutes: float | None = None
    breaches: int = 0
    ratings: int = 0
    rating: Decimal | None = None
    rating_all_time: Decimal | None = None
    paid_contracts: int = 0
    paid_requests: int = 0
    reviews: int = 0
    quality: Decimal | None = None

    @property
    def paid(self) -> int:
        return self.paid_contracts + self.paid_requests


def month_bounds(organisation: Organisation, month: date) -> tuple[datetime, datetime]:
    zone = zone_for(organisation.pk)
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=zone)


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the value below which `fraction` of the values lie)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def monthly_report(*, organisation: Organisation, month: date, now: datetime | None = None) -> list[DoctorMonth]:
    """One row per doctor of the clinic (and anyone else who answered in the month); a constant number of queries."""
    now = now or timezone.now()
    start, end = month_bounds(organisation, month)
    rows: dict[int, DoctorMonth] = {d.pk: DoctorMonth(doctor=d) for d in doctors_of(organisation)}
    answered = ConsultationMessage.objects.filter(
        organisation=organisation,
        side=ConsultationMessage.Side.PATIENT,
        answered_at__gte=start,
        answered_at__lt=end,
        answered_by__isnull=False,
    ).values_list("answered_by_id", "created_at", "answered_at", "due_at")
    minutes: dict[int, list[float]] = {}
    for member_id, created, replied, due in answered:
        if member_id is None or replied is None:
            continue
        minutes.setdefault(member_id, []).append((replied - created).total_seconds() / 60)
        if member_id not in rows:
            rows[member_id] = DoctorMonth(doctor=Member.objects.select_related("user").get(pk=member_id))
        if due is not None and replied > due:
            rows[member_id].breaches += 1
    for member_id, values in minutes.items():
        row = rows[member_id]
        row.answered = len(values)
        row.median_minutes = round(median(values), 1)
        row.p90_minutes = round(percentile(values, 0.9) or 0, 1)
    missed = (
        ConsultationMessage.objects.filter(
            organisation=organisation,
            side=ConsultationMessage.Side.PATIENT,
            answered_at__isnull=True,
            due_at__gte=start,
            due_at__lt=min(end, now),
        )
        .values("conversation__doctor_id")
        .annotate(count=Count("pk"))
    )
    for missed_row in missed:
        if missed_row["conversation__doctor_id"] in rows:
            rows[missed_row["conversation__doctor_id"]].breaches += missed_row["count"]
    ratings = (
        ContractRating.objects.filter(organisation=organisation, created_at__gte=start, created_at__lt=end)
        .values("doctor_id")
        .annotate(average=Avg("score"), count=Count("pk"))
    )
    for rating_row in ratings:
        if rating_row["doctor_id"] in rows:
            rows[rating_row["doctor_id"]].ratings = rating_row["count"]
            rows[rating_row["doctor_id"]].rating = Decimal(str(round(rating_row["average"], 2)))
    for member_id, (average, _count) in doctor_ratings(organisation).items():
        if member_id in rows:
            rows[member_id].rating_all_time = average
    contracts = (
        ConsultationContract.objects.filter(
            organisation=organisation,
            price__gt=0,
            payment_state=PaymentState.PAID,
            activated_at__gte=start,
            activated_at__lt=end,
        )
        .values("doctor_id")
        .annotate(count=Count("pk"))
    )
    for contract_row in contracts:
        if contract_row["doctor_id"] in rows:
            rows[contract_row["doctor_id"]].paid_contracts = contract_row["count"]
    requests = (
        ConsultationRequest.objects.filter(
            Q(payment_state=PaymentState.PAID),
            organisation=organisation,
            status=ConsultationRequest.Status.ANSWERED,
            answered_at__gte=start,
            answered_at__lt=end,
        )
        .values("taken_by_id")
        .annotate(count=Count("pk"))
    )
    for request_row in requests:
        if request_row["taken_by_id"] in rows:
            rows[request_row["taken_by_id"]].paid_requests = request_row["count"]
    reviews = (
        QualityReview.objects.filter(organisation=organisation, created_at__gte=start, created_at__lt=end)
        .values("doctor_id")
        .annotate(average=Avg("score"), count=Count("pk"))
    )
    for review_row in reviews:
        if review_row["doctor_id"] in rows:
            rows[review_row["doctor_id"]].reviews = review_row["count"]
            rows[review_row["doctor_id"]].quality = Decimal(str(round(review_row["average"], 2)))
    return sorted(rows.values(), key=lambda r: (str(r.doctor.user).lower(), r.doctor.pk))


SAMPLE_SIZE = 10
SAMPLE_POOL = 5000


@dataclass
class SampleRow:
    contract: ConsultationContract
    messages: int
    review: QualityReview | None


def review_sample(
    *, organisation: Organisation, month: date, reviewer: Any, size: int = SAMPLE_SIZE
) -> list[SampleRow]:
    """`size` contracts whose conversations had messages in the month, chosen pseudo-randomly but the same for the
    whole month, with the reviewer's own score when given."""
    start, end = month_bounds(organisation, month)
    counts = dict(
        ConsultationMessage.objects.filter(
            organisation=organisation, created_at__gte=start, created_at__lt=end, contract__isnull=False
        )
        .values("contract_id")
        .annotate(count=Count("pk"))
        .order_by("contract_id")
        .values_list("contract_id", "count")[:SAMPLE_POOL]
    )
    pool = sorted(counts)
    chosen = random.Random(f"{organisation.pk}:{month:%Y-%m}").sample(pool, min(size, len(pool)))
    contracts = {
        c.pk: c for c in ConsultationContract.objects.filter(pk__in=chosen).select_related("patient", "doctor__user")
    }
    reviews = {r.contract_id: r for r in QualityReview.objects.filter(contract_id__in=chosen, reviewer=reviewer)}
    return [SampleRow(contracts[pk], counts[pk], reviews.get(pk)) for pk in chosen if pk in contracts]


def previous_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def as_csv(rows: list[DoctorMonth], month: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Month"),
            _("Doctor"),
            _("Messages answered"),
            _("Median response, minutes"),
            _("90th percentile response, minutes"),
            _("SLA breaches"),
            _("Ratings this month"),
            _("Rating this month"),
            _("Rating, all time"),
            _("Paid consultations"),
            _("Quality reviews"),
            _("Quality score"),
        ]
    )
    for row in rows:
        writer.writerow(
            [
                f"{month:%Y-%m}",
                _safe(str(row.doctor.user)),
                row.answered,
                _blank(row.median_minutes),
                _blank(row.p90_minutes),
                row.breaches,
                row.ratings,
                _blank(row.rating),
                _blank(row.rating_all_time),
                row.paid,
                row.reviews,
                _blank(row.quality),
            ]
        )
    return out.getvalue()


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


def _safe(text: str) -> str:
    """No spreadsheet formulas from names (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
