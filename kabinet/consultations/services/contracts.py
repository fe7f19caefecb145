"""Contract use cases: open (create and activate), end, cancel, renew, record the payment, and end contracts whose
period is over.

Rules enforced here:
- only the front office (access.CONTRACT_ROLES) opens, ends, renews and changes the payment of contracts;
- the doctor is an active doctor of the patient's clinic; the care team are active staff of the same clinic;
- activating opens the conversation of the patient and the doctor (continuing an earlier one with the same
  doctor), and a conversation has one active contract at a time: activating a renewal ends the contract it renews;
- a contract ends on request or by itself after its last day (contracts_expire, run by the clock); the patient is
  told, keeps reading the history and may rate it; nobody writes in the conversation any more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from kabinet.audit.services import record, snapshot
from kabinet.consultations import access, notices
from kabinet.consultations.models import ConsultationContract, Conversation, PaymentState
from kabinet.consultations.selectors import conversation_group, policy_for, zone_for
from kabinet.consultations.services import payments
from kabinet.core import permissions, realtime
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.core.models import Location, Member, Role
from kabinet.patients.models import Patient, TimelineEntry
from kabinet.patients.services import timeline_add

Status = ConsultationContract.Status
CONTRACT_FIELDS = [
    "status",
    "kind",
    "doctor",
    "location",
    "starts_on",
    "ends_on",
    "price",
    "payment_state",
    "sla_hours",
    "sla_working_hours",
    "conversation",
    "invoice",
]
MAX_SLA_HOURS = 720
MAX_PERIOD_DAYS = 3 * 366


def _require_front_office(actor: Any, organisation_id: int) -> None:
    if not access.can_manage_contracts(actor, organisation_id):
        raise NotAllowed(_("Only administrators and registrars open and end consultation contracts."))


def _today(organisation_id: int, location: Location | None, now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), zone_for(organisation_id, location)).date()


def _clean_price(price: Any) -> Decimal:
    try:
        value = Decimal(str(price if price not in (None, "") else 0))
    except (InvalidOperation, ValueError):
        raise Invalid(errors={"price": [_("Enter an amount, e.g. 30.00.")]}) from None
    if not value.is_finite() or value < 0 or value >= Decimal("100000000"):
        raise Invalid(errors={"price": [_("Enter an amount of zero or more.")]})
    return value.quantize(Decimal("0.01"))


def _clean_doctor(patient: Patient, doctor: Member) -> None:
    if (
        doctor.organisation_id != patient.organisation_id
        or not doctor.is_active
        or not doctor.roles.filter(role=Role.DOCTOR).exists()
    ):
        raise Invalid(errors={"doctor": [_("Choose a doctor of this clinic.")]})


def _clean_team(patient: Patient, doctor: Member, team: Iterable[Member]) -> list[Member]:
    members = [m for m in team if m.pk != doctor.pk]
    for member in members:
        if (
            member.organisation_id != patient.organisation_id
            or not member.is_active
            or not permissions.is_staff_of(member.user, patient.organisation_id)
        ):
            raise Invalid(errors={"care_team": [_("Choose staff of this clinic for the care team.")]})
    return members


def _timeline(contract: ConsultationContract, actor: Any, title: str) -> None:
    timeline_add(
        patient=contract.patient,
        kind=TimelineEntry.Kind.MESSAGE,
        title=title,
        actor=actor,
        ref_type="consultations.contract",
        ref_id=contract.pk,
        data={"contract": contract.pk, "status": contract.status},
    )


def _publish(contract: ConsultationContract) -> None:
    if contract.conversation_id:
        realtime.publish(
            conversation_group(contract.conversation_id),
            "consultations.contract",
            {"conversation": contract.conversation_id, "contract": contract.pk, "status": contract.status},
        )


def contract_create(
    *,
    actor: Any,
    patient: Patient,
    doctor: Member,
    starts_on: date | None = None,
    ends_on: date,
    kind: str = ConsultationContract.Kind.WRITTEN,
    price: Any = 0,
    sla_hours: int | None = None,
    sla_working_hours: bool = False,
    care_team: Iterable[Member] = (),
    location: Location | None = None,
    note: str = "",
    activate: bool = False,
    renewed_from: ConsultationContract | None = None,
) -> ConsultationContract:
    """A new contract (a draft, or opened at once with `activate`). Free when the price is zero, else awaiting
    payment of the invoice billed with it; the SLA defaults to the clinic's."""
    _require_front_office(actor, patient.organisation_id)
    _clean_doctor(patient, doctor)
    team = _clean_team(patient, doctor, care_team)
    if location is not None and location.organisation_id != patient.organisation_id:
        raise Invalid(errors={"location": [_("Choose a location of this clinic.")]})
    if kind not in ConsultationContract.Kind.values:
        raise Invalid(errors={"kind": [_("Choose written, phone or video.")]})
    starts_on = starts_on or _today(patient.organisation_id, location)
    errors: dict[str, list[str]] = {}
    if ends_on < starts_on:
        errors["ends_on"] = [_("The last day must not be before the first.")]
    elif (ends_on - starts_on).days > MAX_PERIOD_DAYS:
        errors["ends_on"] = [_("A contract lasts at most three years.")]
    hours = sla_hours if sla_hours is not None else policy_for(patient.organisation_id).default_sla_hours
    if not 1 <= int(hours) <= MAX_SLA_HOURS:
        errors["sla_hours"] = [_("Enter a response time between 1 and 720 hours.")]
    value = _clean_price(price)
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        contract = ConsultationContract.objects.create(
            organisation_id=patient.organisation_id,
            patient=patient,
            doctor=doctor,
            location=location,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            price=value,
            payment_state=PaymentState.UNPAID if value > 0 else PaymentState.FREE,
            sla_hours=int(hours),
            sla_working_hours=bool(sla_working_hours),
            note=" ".join((note or "").split())[:500],
            renewed_from=renewed_from,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        contract.care_team.set(team)
        payments.contract_bill(actor=actor, contract=contract)
        record(
            actor=actor,
            action="consultation.contract.created",
            obj=contract,
            patient=patient,
            after={**snapshot(contract, CONTRACT_FIELDS), "care_team": [m.pk for m in team]},
        )
        if activate:
            contract_activate(actor=actor, contract=contract)
    return contract


def contract_activate(
    *, actor: Any, contract: ConsultationContract, now: datetime | None = None
) -> ConsultationContract:
    """Open a draft: the conversation with the doctor opens (or continues) and the patient is told. `actor` None is
    the clock activating a renewal when the contract it renews ends."""
    if actor is not None:
        _require_front_office(actor, contract.organisation_id)
    now = now or timezone.now()
    if contract.ends_on < _today(contract.organisation_id, contract.location, now):
        raise Invalid(errors={"ends_on": [_("The contract's period is over. Change its dates or renew it.")]})
    with transaction.atomic():
        locked = ConsultationContract.objects.select_for_update().get(pk=contract.pk)
        if locked.status != Status.DRAFT:
            raise Conflict(_("Only a draft contract can be opened."), code="contract_not_draft")
        conversation, _created = Conversation.objects.get_or_create(
            patient_id=contract.patient_id,
            doctor_id=contract.doctor_id,
            defaults={"organisation_id": contract.organisation_id, "location": contract.location, "created_at": now},
        )
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        current = ConsultationContract.objects.filter(conversation=conversation, status=Status.ACTIVE).first()
        if current is not None:
            if contract.renewed_from_id != current.pk:
                raise Conflict(
                    _("This patient already has an active contract with this doctor. Renew it instead."),
                    code="contract_active_exists",
                )
            _end(actor=actor, contract=current, reason=_("renewed"), now=now, notify=False)
        if contract.location_id and conversation.location_id != contract.location_id:
            conversation.location_id = contract.location_id
            conversation.save(update_fields=["location"])
        before = snapshot(locked, CONTRACT_FIELDS)
        contract.status, contract.activated_at, contract.conversation = Status.ACTIVE, now, conversation
        try:
            with transaction.atomic():
                contract.save(update_fields=["status", "activated_at", "conversation"])
        except IntegrityError:
            raise Conflict(
                _("This patient already has an active contract with this doctor. Renew it instead."),
                code="contract_active_exists",
            ) from None
        record(
            actor=actor,
            action="consultation.contract.activated",
            obj=contract,
            patient=contract.patient_id,
            before=before,
            after=snapshot(contract, CONTRACT_FIELDS),
        )
        with translation.override(contract.organisation.default_language):
            _timeline(
                contract,
                actor,
                _("Remote consultation with %(doctor)s opened until %(until)s")
                % {"doctor": notices.doctor_name(contract.doctor), "until": date_format(contract.ends_on)},
            )
        notices.contract_opened(contract=contract, actor=actor)
        _publish(contract)
    return contract


def _end(*, actor: Any, contract: ConsultationContract, reason: str, now: datetime, notify: bool = True) -> None:
    before = snapshot(contract, CONTRACT_FIELDS)
    contract.status, contract.ended_at, contract.end_reason = Status.ENDED, now, reason[:500]
    contract.save(update_fields=["status", "ended_at", "end_reason"])
    if contract.conversation_id:
        # Nobody answers in an ended conversation: it leaves the SLA panel and the escalation job.
        Conversation.objects.filter(pk=contract.conversation_id).update(
            due_at=None, awaiting_since=None, escalation=0, escalated_at=None
        )
    record(
        actor=actor,
        action="consultation.contract.ended",
        obj=contract,
        patient=contract.patient_id,
        before=before,
        after={**snapshot(contract, CONTRACT_FIELDS), "reason": contract.end_reason},
    )
    with translation.override(contract.organisation.default_language):
        _timeline(
            contract,
            actor,
            _("Remote consultation with %(doctor)s ended") % {"doctor": notices.doctor_name(contract.doctor)},
        )
    if notify:
        notices.contract_ended(contract=contract, actor=actor)
    _publish(contract)


def contract_end(
    *, actor: Any, contract: ConsultationContract, reason: str = "", now: datetime | None = None, notify: bool = True
) -> ConsultationContract:
    """End an active contract now (a draft is cancelled instead). `actor` None: the clock, at the period's end.
    The patient is told (and asked for a rating) unless `notify` is off: a renewal continues the consultation."""
    if actor is not None:
        _require_front_office(actor, contract.organisation_id)
    now = now or timezone.now()
    with transaction.atomic():
        locked = ConsultationContract.objects.select_for_update().select_related("organisation").get(pk=contract.pk)
        if locked.status == Status.DRAFT:
            return contract_cancel(actor=actor, contract=contract, reason=reason)
        if locked.status != Status.ACTIVE:
            raise Conflict(_("The contract has already ended."), code="contract_not_active")
        contract.status = locked.status
        _end(actor=actor, contract=contract, reason=" ".join((reason or "").split()), now=now, notify=notify)
    return contract


def contract_cancel(*, actor: Any, contract: ConsultationContract, reason: str = "") -> ConsultationContract:
    """Cancel a draft (an opened contract is ended instead: its conversation has happened). Its invoice is
    cancelled with a credit note unless money was paid on it (the desk refunds that in billing)."""
    if actor is not None:
        _require_front_office(actor, contract.organisation_id)
    with transaction.atomic():
        if contract.status == Status.DRAFT:
            payments.invoice_void(actor=actor, item=contract)  # rolled back below if it is not a draft after all
        locked = ConsultationContract.objects.select_for_update().get(pk=contract.pk)
        if locked.status != Status.DRAFT:
            raise Conflict(_("Only a draft contract can be cancelled; end an open one."), code="contract_not_draft")
        contract.payment_state = locked.payment_state
        before = snapshot(locked, CONTRACT_FIELDS)
        contract.status, contract.ended_at = Status.CANCELLED, timezone.now()
        contract.end_reason = " ".join((reason or "").split())[:500]
        contract.save(update_fields=["status", "ended_at", "end_reason"])
        record(
            actor=actor,
            action="consultation.contract.cancelled",
            obj=contract,
            patient=contract.patient_id,
            before=before,
            after=snapshot(contract, CONTRACT_FIELDS),
        )
    return contract


def contract_renew(
    *,
    actor: Any,
    contract: ConsultationContract,
    ends_on: date,
    price: Any = None,
    activate: bool = False,
) -> ConsultationContract:
    """A follow-up contract with the same patient, doctor, team and terms. While the old one runs the renewal
    starts the day after it ends and opens by itself then (contracts_expire); after it ended, it starts today."""
    _require_front_office(actor, contract.organisation_id)
    if contract.status not in (Status.ACTIVE, Status.ENDED):
        raise Conflict(_("Only an open or ended contract can be renewed."), code="contract_not_renewable")
    if contract.renewals.filter(status__in=(Status.DRAFT, Status.ACTIVE)).exists():
        raise Conflict(_("This contract has already been renewed."), code="contract_already_renewed")
    today = _today(contract.organisation_id, contract.location)
    starts_on = contract.ends_on + timedelta(days=1) if contract.status == Status.ACTIVE else today
    starts_on = max(starts_on, today)
    renewal = contract_create(
        actor=actor,
        patient=contract.patient,
        doctor=contract.doctor,
        starts_on=starts_on,
        ends_on=ends_on,
        kind=contract.kind,
        price=contract.price if price is None else price,
        sla_hours=contract.sla_hours,
        sla_working_hours=contract.sla_working_hours,
        care_team=list(contract.care_team.all()),
        location=contract.location,
        note=contract.note,
        renewed_from=contract,
        activate=activate and contract.status == Status.ENDED,
    )
    return renewal


def contract_payment_set(*, actor: Any, contract: ConsultationContract, state: str) -> ConsultationContract:
    """Record by hand that a paid contract made without an invoice was paid (or refunded). Free contracts stay
    free; a contract with an invoice follows its invoice (pay or refund it in billing)."""
    _require_front_office(actor, contract.organisation_id)
    if contract.invoice_id is not None:
        raise Conflict(
            _("This contract's payment follows its invoice: take the payment or make the refund in billing."),
            code="payment_follows_invoice",
        )
    if state not in (PaymentState.UNPAID, PaymentState.PAID, PaymentState.REFUNDED):
        raise Invalid(errors={"payment_state": [_("Choose unpaid, paid or refunded.")]})
    if not contract.is_paid:
        raise Invalid(errors={"payment_state": [_("This contract is free.")]})
    with transaction.atomic():
        before = snapshot(contract, ["payment_state"])
        contract.payment_state = state
        contract.save(update_fields=["payment_state"])
        record(
            actor=actor,
            action="consultation.contract.payment",
            obj=contract,
            patient=contract.patient_id,
            before=before,
            after=snapshot(contract, ["payment_state"]),
        )
    return contract


def contracts_expire(*, now: datetime | None = None) -> int:
    """End every active contract whose last day is over in its clinic's zone, and open its renewal if one waits.
    Idempotent: a contract that is no longer active is left alone."""
    now = now or timezone.now()
    horizon = (now + timedelta(days=1)).date()  # no zone is more than a day ahead of UTC
    ended = 0
    candidates = ConsultationContract.objects.filter(status=Status.ACTIVE, ends_on__lt=horizon).select_related(
        "organisation", "location", "patient", "doctor__user"
    )
    for contract in candidates:
        today = _today(contract.organisation_id, contract.location, now)
        if contract.ends_on >= today:
            continue
        renewal = (
            contract.renewals.filter(status=Status.DRAFT, starts_on__lte=today, ends_on__gte=today)
            .order_by("pk")
            .first()
        )
        try:
            with transaction.atomic():
                contract_end(
                    actor=None, contract=contract, reason=_("the period is over"), now=now, notify=renewal is None
                )
                if renewal is not None:
                    contract_activate(actor=None, contract=renewal, now=now)
        except (Conflict, Invalid):
            continue
        ended += 1
    return ended
