"""The clinic's consultation settings: the policy (working hours for SLAs, escalation delay, prices of one-off
requests, emergency line) and the normal ranges that flag device readings. Administrators only; audited."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.consultations import access, readings
from kabinet.consultations.models import ConsultationPolicy, ReadingThreshold
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.core.models import Organisation

POLICY_FIELDS = (
    "work_days",
    "work_start",
    "work_end",
    "default_sla_hours",
    "escalate_admin_after_minutes",
    "question_price",
    "callback_price",
    "emergency_phone",
)

Range = tuple[Decimal | None, Decimal | None]


def policy_update(
    *, actor: Any, organisation: Organisation, values: dict[str, Any], ranges: dict[str, Range]
) -> ConsultationPolicy:
    """Save the clinic's policy and normal ranges in one transaction. A range equal to the built-in default is not
    stored, so a later change of the defaults reaches clinics that never changed it."""
    if not access.can_supervise(actor, organisation.pk):
        raise NotAllowed(_("Only administrators change the consultation settings."))
    unknown = set(ranges) - set(readings.DEFAULT_RANGES)
    if unknown:
        raise Invalid(errors={"__all__": [_("Unknown measure: %(name)s.") % {"name": sorted(unknown)[0]}]})
    for name, (low, high) in ranges.items():
        if low is not None and high is not None and low > high:
            raise Invalid(errors={f"{name}_high": [_("The highest normal value is below the lowest.")]})
    days = values.get("work_days")
    if days is not None and (not days or not set(days) <= set(range(1, 8))):
        raise Invalid(errors={"work_days": [_("Choose at least one working day.")]})
    start, end = values.get("work_start"), values.get("work_end")
    if start is not None and end is not None and end <= start:
        raise Invalid(errors={"work_end": [_("The working day must end after it starts.")]})
    with transaction.atomic():
        # get_or_create survives a concurrent first save (its insert loses to the other one's and it reads that row);
        # the lock then serialises the two changes. Rolled back with the rest if the values are refused.
        row, _created = ConsultationPolicy.objects.get_or_create(organisation=organisation)
        policy = ConsultationPolicy.objects.select_for_update().get(pk=row.pk)
        before = {**model_to_dict(policy, fields=POLICY_FIELDS), **_ranges_of(organisation.pk)}
        for name in POLICY_FIELDS:
            if name in values:
                setattr(policy, name, values[name])
        try:
            policy.full_clean(exclude=["organisation"])
        except ValidationError as exc:
            raise Invalid(errors=exc.message_dict) from exc
        policy.save()
        for name, (low, high) in ranges.items():
            if (low, high) == readings.DEFAULT_RANGES[name]:
                ReadingThreshold.objects.filter(organisation=organisation, measure=name).delete()
            else:
                ReadingThreshold.objects.update_or_create(
                    organisation=organisation, measure=name, defaults={"low": low, "high": high}
                )
        after = {**model_to_dict(policy, fields=POLICY_FIELDS), **_ranges_of(organisation.pk)}
        changed = sorted(key for key in after if before.get(key) != after[key])
        if changed:
            record(
                actor=actor,
                action="consultation.policy.changed",
                obj=policy,
                organisation=organisation,
                before={key: before.get(key) for key in changed},
                after={key: after[key] for key in changed},
            )
    return policy


def _ranges_of(organisation_id: int) -> dict[str, Any]:
    own = {t.measure: (t.low, t.high) for t in ReadingThreshold.objects.filter(organisation_id=organisation_id)}
    merged = readings.ranges_for(own)
    return {f"range.{name}": [_text(low), _text(high)] for name, (low, high) in sorted(merged.items())}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")
