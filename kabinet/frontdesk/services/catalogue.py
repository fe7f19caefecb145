"""What a clinic's administrator sets for the front desk: the policy (call windows, lateness thresholds, offers,
passive list), the refusal reasons and the recall rules. Administrators only; every change is audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kabinet.audit.services import record, snapshot
from kabinet.core import permissions
from kabinet.core.exceptions import Conflict, Invalid
from kabinet.core.models import Organisation, Role
from kabinet.frontdesk.models import FrontDeskPolicy, RecallRule, RefusalReason
from kabinet.frontdesk.services.common import policy_for
from kabinet.scheduling.models import Service

SETTINGS_ROLES = (Role.ADMIN,)
POLICY_FIELDS = [
    "call_windows",
    "retry_gap_minutes",
    "sms_when_unreachable",
    "late_notify_from_minutes",
    "late_reschedule_from_minutes",
    "recheck_details_after_months",
    "passive_after_months",
    "offer_by_message",
    "offer_valid_hours",
    "offers_per_slot",
    "next_visit_weeks",
]


def _clean(obj: Any, exclude: list[str]) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise Invalid(errors={k: list(v) for k, v in exc.message_dict.items()}) from exc


def policy_update(*, actor: Any, organisation: Organisation, changes: Mapping[str, Any]) -> FrontDeskPolicy:
    """Change the clinic's front-desk policy (only the given fields)."""
    permissions.require_role(actor, organisation, *SETTINGS_ROLES)
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise Invalid(errors={name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    with transaction.atomic():
        policy = FrontDeskPolicy.objects.select_for_update().get(pk=policy_for(organisation.pk).pk)
        before = snapshot(policy, POLICY_FIELDS)
        for name, value in changes.items():
            setattr(policy, name, value)
        _clean(policy, exclude=["organisation"])
        policy.save()
        after = snapshot(policy, POLICY_FIELDS)
        if before != after:
            record(
                actor=actor,
                action="frontdesk.policy_changed",
                obj=policy,
                organisation=organisation,
                before=before,
                after=after,
            )
    return policy


def refusal_reason_add(
    *, actor: Any, organisation: Organisation, name: str, name_ru: str = "", name_bg: str = ""
) -> RefusalReason:
    permissions.require_role(actor, organisation, *SETTINGS_ROLES)
    reason = RefusalReason(
        organisation=organisation, name=name.strip(), name_ru=name_ru.strip(), name_bg=name_bg.strip()
    )
    _clean(reason, exclude=["organisation"])
    try:
        with transaction.atomic():
            reason.save()
            record(
                actor=actor,
                action="frontdesk.refusal_reason_added",
                obj=reason,
                after=snapshot(reason, ["name", "name_ru", "name_bg"]),
            )
    except IntegrityError as exc:
        raise Conflict(_("This reason is in the list already."), code="reason_exists") from exc
    return reason


def refusal_reason_set_active(*, actor: Any, reason: RefusalReason, active: bool) -> RefusalReason:
    """Reasons are never deleted (reports count them); an inactive one is no longer offered."""
    permissions.require_role(actor, reason.organisation_id, *SETTINGS_ROLES)
    with transaction.atomic():
        if reason.is_active != active:
            reason.is_active = active
            reason.save(update_fields=["is_active"])
            record(actor=actor, action="frontdesk.refusal_reason_changed", obj=reason, after={"is_active": active})
    return reason


def recall_rule_add(
    *,
    actor: Any,
    organisation: Organisation,
    service: Service,
    kind: str,
    after_days: int,
    name: str,
    instructions: str = "",
) -> RecallRule:
    permissions.require_role(actor, organisation, *SETTINGS_ROLES)
    if service.organisation_id != organisation.pk:
        raise Invalid(errors={"service": [_("Choose a service of this clinic.")]})
    rule = RecallRule(
        organisation=organisation,
        service=service,
        kind=kind,
        after_days=after_days,
        name=name.strip(),
        instructions=instructions.strip(),
    )
    _clean(rule, exclude=["organisation"])
    with transaction.atomic():
        rule.save()
        record(
            actor=actor,
            action="frontdesk.recall_rule_added",
            obj=rule,
            after=snapshot(rule, ["service", "kind", "after_days", "name", "instructions"]),
        )
    return rule


def recall_rule_set_active(*, actor: Any, rule: RecallRule, active: bool) -> RecallRule:
    permissions.require_role(actor, rule.organisation_id, *SETTINGS_ROLES)
    with transaction.atomic():
        if rule.is_active != active:
            rule.is_active = active
            rule.save(update_fields=["is_active"])
            record(actor=actor, action="frontdesk.recall_rule_changed", obj=rule, after={"is_active": active})
    return rule
