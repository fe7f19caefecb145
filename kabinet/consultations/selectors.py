"""Reads of consultations, scoped to who may see them (access.py): conversations and their messages, contracts,
the request queue, the administrators' SLA panel, ratings and readings.

Reading a conversation's messages writes a "consultation.viewed" audit event here, so no page or API endpoint
shows what a patient wrote without leaving a trace.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Prefetch, Q, QuerySet
from django.utils import timezone

from kabinet.audit.services import record
from kabinet.consultations import access, readings
from kabinet.consultations.models import (
    ConsultationContract,
    ConsultationMessage,
    ConsultationPolicy,
    ConsultationRequest,
    ContractRating,
    Conversation,
    Reading,
    ReadingThreshold,
    VideoCall,
)
from kabinet.core import permissions
from kabinet.core.exceptions import NotFound
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients.selectors import own_patient_ids

MESSAGE_PAGE = 200
Status = ConsultationContract.Status


# --- policy ------------------------------------------------------------------------------------------------------


def policy_for(organisation_id: int) -> ConsultationPolicy:
    """The clinic's policy, or an unsaved one with the defaults."""
    policy = ConsultationPolicy.objects.filter(organisation_id=organisation_id).first()
    return policy or ConsultationPolicy(organisation_id=organisation_id)


def zone_for(organisation_id: int, location: Location | None = None) -> zoneinfo.ZoneInfo:
    """The zone working hours are counted in: the location's, else the clinic's first active location's."""
    if location is not None:
        return location.zone
    first = Location.objects.filter(organisation_id=organisation_id, is_active=True).order_by("pk").first()
    return first.zone if first else zoneinfo.ZoneInfo(settings.TIME_ZONE)


def thresholds_for(organisation_id: int) -> dict[str, tuple[Any, Any]]:
    own = {t.measure: (t.low, t.high) for t in ReadingThreshold.objects.filter(organisation_id=organisation_id)}
    return readings.ranges_for(own)


# --- conversations -----------------------------------------------------------------------------------------------


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def conversations_visible_to(user: Any) -> QuerySet[Conversation]:
    condition = access.staff_conversation_condition(user)
    own = own_patient_ids(user)
    if own:
        condition |= Q(patient_id__in=sorted(own))
    return Conversation.objects.filter(condition).distinct()


def conversation_get(*, user: Any, conversation_id: int) -> Conversation:
    """The conversation if the user may read it, else NotFound (never reveal that it exists)."""
    conversation = (
        conversations_visible_to(user)
        .select_related("organisation", "patient", "doctor__user", "location")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound()
    return conversation


def conversation_topic_group(user: Any, conversation_id: int) -> str | None:
    """Realtime topic "conversation": the patient side, the doctor, the care team and administrators follow it."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or access.side_of(user, conversation) is None:
        return None
    return conversation_group(conversation_id)


def active_contract(conversation: Conversation) -> ConsultationContract | None:
    return (
        ConsultationContract.objects.filter(conversation=conversation, status=Status.ACTIVE)
        .select_related("invoice")
        .prefetch_related("care_team__user")
        .first()
    )


def latest_contract(conversation: Conversation) -> ConsultationContract | None:
    return (
        ConsultationContract.objects.filter(conversation=conversation).select_related("invoice").order_by("-pk").first()
    )


def messages_of(
    *, user: Any, conversation: Conversation, after: int | None = None, limit: int = MESSAGE_PAGE, audit: bool = True
) -> list[ConsultationMessage]:
    """Messages in order (only those after the id `after`, for catching up), at most `limit` — the latest ones
    when there are more. The caller got the conversation from conversation_get (the user may read it)."""
    qs = ConsultationMessage.objects.filter(conversation=conversation).select_related(
        "reading", "author", "author_member__user", "conversation__patient"
    )
    if after is not None:
        rows = list(qs.filter(pk__gt=after).order_by("pk")[:limit])
    else:
        rows = list(qs.order_by("-pk")[:limit])[::-1]
    if audit:
        record(
            actor=user,
            action="consultation.viewed",
            obj=conversation,
            patient=conversation.patient_id,
            after={"after": after, "count": len(rows)},
        )
    return rows


def conversation_list(*, user: Any, organisation: Organisation | None = None) -> list[Conversation]:
    """The user's conversations, the ones waiting longest for a reply first, then the most recent."""
    qs = conversations_visible_to(user).select_related("patient", "doctor__user", "location", "organisation")
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    active = ConsultationContract.objects.filter(status=Status.ACTIVE).select_related("invoice")
    qs = qs.prefetch_related(Prefetch("contracts", queryset=active, to_attr="active_contracts"))
    rows: list[Conversation] = list(qs.order_by("-last_message_at", "-pk")[:500])
    rows.sort(key=lambda c: (c.due_at is None, c.due_at or timezone.now()))
    return rows


def unread_count(conversation: Conversation, side: str) -> int:
    other = ConsultationMessage.Side.STAFF if side == access.PATIENT else ConsultationMessage.Side.PATIENT
    return ConsultationMessage.objects.filter(conversation=conversation, side=other, read_at__isnull=True).count()


def emergency_phone(conversation: Conversation) -> str:
    """The clinic's emergency line shown to patients in every conversation."""
    policy = policy_for(conversation.organisation_id)
    if policy.emergency_phone:
        return policy.emergency_phone
    locations = [conversation.location] if conversation.location_id else []
    locations += list(Location.objects.filter(organisation_id=conversation.organisation_id, is_active=True))
    for location in locations:
        if location is not None and location.phone_lines:
            return str(location.phone_lines[0])
    return ""


def conversation_recipients(conversation: Conversation, contract: ConsultationContract | None) -> list[Any]:
    """The staff users told about a new patient message: the doctor and the active contract's care team."""
    members = [conversation.doctor]
    if contract is not None:
        members += list(contract.care_team.all())
    users, seen = [], set()
    for member in members:
        if member.is_active and member.user_id not in seen:
            seen.add(member.user_id)
            users.append(member.user)
    return users


# --- contracts ---------------------------------------------------------------------------------------------------


def contracts_visible_to(user: Any, organisation: Organisation | None = None) -> QuerySet[ConsultationContract]:
    """The front office sees the clinic's contracts, doctors the ones they are on, patients their own."""
    condition = Q(pk__in=[])
    for org_id in permissions.organisations_of(user):
        if organisation is not None and org_id != organisation.pk:
            continue
        if access.can_manage_contracts(user, org_id) or access.can_supervise(user, org_id):
            condition |= Q(organisation_id=org_id)
        elif permissions.is_staff_of(user, org_id):
            condition |= Q(organisation_id=org_id) & (Q(doctor__user=user) | Q(care_team__user=user))
    own = own_patient_ids(user)
    if own:
        condition |= Q(patient_id__in=sorted(own))
    qs = ConsultationContract.objects.filter(condition).distinct()
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs


def contract_get(*, user: Any, contract_id: int) -> ConsultationContract:
    contract = (
        contracts_visible_to(user)
        .select_related("organisation", "patient", "doctor__user", "location", "conversation", "invoice")
        .prefetch_related("care_team__user")
        .filter(pk=contract_id)
        .first()
    )
    if contract is None:
        raise NotFound()
    return contract


def contract_list(
    *, user: Any, organisation: Organisation | None = None, status: str = ""
) -> QuerySet[ConsultationContract]:
    qs = contracts_visible_to(user, organisation).select_related("patient", "doctor__user", "location", "invoice")
    if status:
        qs = qs.filter(status=status)
    return qs.prefetch_related("care_team__user").order_by("-created_at", "-pk")


def doctors_of(organisation: Organisation) -> list[Member]:
    return list(
        Member.objects.filter(organisation=organisation, is_active=True, roles__role=Role.DOCTOR)
        .select_related("user")
        .order_by("user__full_name", "pk")
        .distinct()
    )


def staff_of(organisation: Organisation) -> list[Member]:
    return list(
        Member.objects.filter(organisation=organisation, is_active=True)
        .exclude(roles__role=Role.PATIENT)
        .select_related("user")
        .order_by("user__full_name", "pk")
        .distinct()
    )


# --- requests ----------------------------------------------------------------------------------------------------


def request_queue(*, user: Any, organisation: Organisation) -> QuerySet[ConsultationRequest]:
    """Waiting requests in order of arrival, for the doctors (and administrators) of the clinic."""
    if not (access.can_take_requests(user, organisation.pk) or access.can_supervise(user, organisation.pk)):
        return ConsultationRequest.objects.none()
    return (
        ConsultationRequest.objects.filter(organisation=organisation, status=ConsultationRequest.Status.WAITING)
        .select_related("patient", "location", "invoice")
        .order_by("created_at", "pk")
    )


def my_requests(*, user: Any, organisation: Organisation) -> QuerySet[ConsultationRequest]:
    """Requests the user has taken and not answered yet."""
    return (
        ConsultationRequest.objects.filter(
            organisation=organisation, status=ConsultationRequest.Status.TAKEN, taken_by__user=user
        )
        .select_related("patient")
        .order_by("taken_at", "pk")
    )


def request_get(*, user: Any, request_id: int) -> ConsultationRequest:
    """A request for its patient side, the clinic's doctors and front office; else NotFound."""
    found = (
        ConsultationRequest.objects.select_related("organisation", "patient", "taken_by__user", "location", "invoice")
        .filter(pk=request_id)
        .first()
    )
    if found is None:
        raise NotFound()
    org_id = found.organisation_id
    if found.patient_id in own_patient_ids(user):
        return found
    if (
        access.can_take_requests(user, org_id)
        or access.can_supervise(user, org_id)
        or access.can_manage_contracts(user, org_id)
    ):
        return found
    raise NotFound()


def patient_requests(*, user: Any) -> QuerySet[ConsultationRequest]:
    return (
        ConsultationRequest.objects.filter(patient_id__in=sorted(own_patient_ids(user)))
        .select_related("taken_by__user", "patient", "invoice")
        .order_by("-created_at", "-pk")
    )


# --- the SLA panel ---------------------------------------------------------------------------------------------


@dataclass
class PanelRow:
    conversation: Conversation
    contract: ConsultationContract | None
    overdue: int  # ▲ unanswered patient messages past their deadline
    is_overdue: bool


@dataclass
class Panel:
    doctors: int
    doctors_on_vacation: int
    patients: int
    contracts_active: int
    contracts_total: int
    requests_waiting: int
    oldest_request: datetime | None
    rows: list[PanelRow]
    doctor_choices: list[Member]
    location_choices: list[Location]
    emergency_phone: str


def _doctors_on_vacation(organisation: Organisation, doctor_ids: list[int], now: datetime) -> int:
    from kabinet.scheduling.models import TimeOff

    return (
        TimeOff.objects.filter(
            organisation=organisation,
            practitioner_id__in=doctor_ids,
            kind=TimeOff.Kind.VACATION,
            start__lte=now,
            end__gt=now,
        )
        .values("practitioner_id")
        .distinct()
        .count()
    )


def sla_panel(
    *,
    user: Any,
    organisation: Organisation,
    doctor_id: int | None = None,
    location_id: int | None = None,
    now: datetime | None = None,
) -> Panel:
    """Administrators' control panel: the clinic's figures, and the conversations of active contracts, the most
    urgent first (overdue, then waiting longest for a reply, then the others by their last message). A constant
    number of queries, whatever the number of conversations."""
    if not access.can_supervise(user, organisation.pk):
        raise NotFound()
    now = now or timezone.now()
    doctors = doctors_of(organisation)
    contracts = ConsultationContract.objects.filter(organisation=organisation)
    active = contracts.filter(status=Status.ACTIVE)
    requests = ConsultationRequest.objects.filter(organisation=organisation, status=ConsultationRequest.Status.WAITING)
    oldest = requests.order_by("created_at").values_list("created_at", flat=True).first()
    conversations = Conversation.objects.filter(organisation=organisation, contracts__status=Status.ACTIVE).distinct()
    if doctor_id:
        conversations = conversations.filter(
            Q(doctor_id=doctor_id) | Q(contracts__care_team__id=doctor_id, contracts__status=Status.ACTIVE)
        )
    if location_id:
        conversations = conversations.filter(location_id=location_id)
    overdue_filter = Q(
        messages__side=ConsultationMessage.Side.PATIENT, messages__answered_at__isnull=True, messages__due_at__lte=now
    )
    conversations = (
        conversations.select_related("patient", "doctor__user", "location")
        .prefetch_related(Prefetch("contracts", queryset=active.prefetch_related("care_team__user"), to_attr="active"))
        .annotate(overdue_count=Count("messages", filter=overdue_filter, distinct=True))
    )
    rows = [
        PanelRow(
            conversation=c,
            contract=c.active[0] if c.active else None,
            overdue=c.overdue_count,
            is_overdue=c.due_at is not None and c.due_at <= now,
        )
        for c in conversations
    ]
    far_past = datetime.min.replace(tzinfo=now.tzinfo)

    def urgency(row: PanelRow) -> tuple[int, datetime, float]:
        conv = row.conversation
        if conv.due_at is not None:
            return (0 if row.is_overdue else 1, conv.due_at, 0.0)
        last = conv.last_message_at or conv.created_at
        return (2, far_past, -last.timestamp())

    rows.sort(key=urgency)
    patients = contracts.values("patient_id").distinct().count()
    return Panel(
        doctors=len(doctors),
        doctors_on_vacation=_doctors_on_vacation(organisation, [d.pk for d in doctors], now),
        patients=patients,
        contracts_active=active.count(),
        contracts_total=contracts.count(),
        requests_waiting=requests.count(),
        oldest_request=oldest,
        rows=rows,
        doctor_choices=doctors,
        location_choices=list(Location.objects.filter(organisation=organisation, is_active=True).order_by("name")),
        emergency_phone=policy_for(organisation.pk).emergency_phone,
    )


# --- quality -----------------------------------------------------------------------------------------------------


def doctor_ratings(organisation: Organisation) -> dict[int, tuple[Decimal | None, int]]:
    """{doctor member id: (average score, number of ratings)}."""
    rows = (
        ContractRating.objects.filter(organisation=organisation)
        .values("doctor_id")
        .annotate(average=Avg("score"), count=Count("pk"))
    )
    return {
        row["doctor_id"]: (Decimal(str(round(row["average"], 2))) if row["average"] is not None else None, row["count"])
        for row in rows
    }


# --- readings ----------------------------------------------------------------------------------------------------


def reading_series(*, conversation: Conversation, kind: str) -> list[Reading]:
    """The readings of one kind sent in this conversation, in time order (the caller may read the conversation)."""
    return list(
        Reading.objects.filter(message__conversation=conversation, kind=kind).order_by("measured_at", "pk")[:1000]
    )


def reading_kinds(conversation: Conversation) -> list[str]:
    kinds = Reading.objects.filter(message__conversation=conversation).values_list("kind", flat=True).distinct()
    return sorted(set(kinds))


def chart_data(*, conversation: Conversation, kind: str) -> dict[str, Any]:
    """What the readings chart draws: one series per measure, the clinic's normal range for each, and which points
    lie outside it."""
    rows = reading_series(conversation=conversation, kind=kind)
    ranges = thresholds_for(conversation.organisation_id)
    series = []
    for measure in readings.MEASURES.get(kind, ()):
        low, high = ranges.get(measure.name, (None, None))
        points = [
            {
                "t": row.measured_at.isoformat(),
                "v": row.values[measure.name],
                "out": bool(readings.out_of_range({measure.name: row.values[measure.name]}, ranges)),
            }
            for row in rows
            if row.values.get(measure.name) is not None
        ]
        series.append(
            {
                "name": measure.name,
                "label": f"{measure.label}, {measure.unit}",
                "low": float(low) if low is not None else None,
                "high": float(high) if high is not None else None,
                "points": points,
            }
        )
    return {"kind": kind, "series": series}


# --- video -------------------------------------------------------------------------------------------------------


def video_call_get(*, user: Any, call_id: int) -> tuple[VideoCall, str]:
    """The call and how the user takes part (patient or staff side); NotFound for everyone else (administrators
    supervise conversations but do not join calls; other staff see video visits in the calendar but not their
    calls)."""
    call = (
        VideoCall.objects.select_related(
            "conversation__patient",
            "conversation__doctor__user",
            "appointment__patient",
            "appointment__practitioner__user",
            "appointment__location",
        )
        .filter(pk=call_id)
        .first()
    )
    if call is None:
        raise NotFound()
    side = access.call_side(user, call)
    if side not in (access.PATIENT, access.STAFF):
        raise NotFound()
    return call, str(side)


def video_call_side(user: Any, call_id: int) -> str | None:
    """For the signalling socket: the user's side in an open call, else None."""
    try:
        call, side = video_call_get(user=user, call_id=call_id)
    except NotFound:
        return None
    return side if call.is_open else None


def open_video_call(conversation: Conversation) -> VideoCall | None:
    return VideoCall.objects.filter(conversation=conversation, ended_at__isnull=True).first()


def open_visit_calls(*, user: Any, appointment_ids: Iterable[int]) -> dict[int, VideoCall]:
    """{appointment id: its open call} for the video visits among `appointment_ids` whose call the user joins."""
    calls = VideoCall.objects.filter(appointment_id__in=list(appointment_ids), ended_at__isnull=True).select_related(
        "appointment"
    )
    return {
        call.appointment_id: call
        for call in calls
        if call.appointment_id is not None and access.call_side(user, call) in (access.PATIENT, access.STAFF)
    }
