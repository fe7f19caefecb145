"""Forms of the front-desk pages: a call's outcome, a waiting-list entry, the reports' period. They only parse and
validate input; the services decide."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Location, Member, Role
from kabinet.frontdesk.models import FrontDeskPolicy, RecallRule, RefusalReason, WorklistItem
from kabinet.scheduling.models import Reason, Service

LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
WEEKDAYS = [
    (0, _("Mon")),
    (1, _("Tue")),
    (2, _("Wed")),
    (3, _("Thu")),
    (4, _("Fri")),
    (5, _("Sat")),
    (6, _("Sun")),
]


def aware(value: datetime | None, zone: Any) -> datetime | None:
    """A wall-clock time typed at the desk, read in the location's zone."""
    if value is None:
        return None
    if timezone.is_aware(value):  # the form read the wall clock in the server's zone: take the wall clock back
        value = timezone.make_naive(value)
    return value.replace(tzinfo=zone)


class AttemptForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(o.value, o.label) for o in map(WorklistItem.Outcome, WorklistItem.ATTEMPT_OUTCOMES)]
    )
    note = forms.CharField(label=_("Note"), max_length=1000, required=False)
    callback_at = forms.DateTimeField(label=_("Call back at"), required=False, input_formats=LOCAL_FORMATS)
    follow_up = forms.ChoiceField(label=_("Then"), required=False, choices=[("", "—"), *WorklistItem.FollowUp.choices])
    cancel_reason = forms.IntegerField(label=_("Cancellation reason"), required=False)
    new_start = forms.DateTimeField(label=_("New time"), required=False, input_formats=LOCAL_FORMATS)
    practitioner = forms.IntegerField(label=_("Doctor"), required=False)
    refusal_reason = forms.IntegerField(label=_("Refusal reason"), required=False)
    callback_date = forms.DateField(label=_("Call back on"), required=False)


class WaitlistForm(forms.Form):
    patient = forms.IntegerField(label=_("Patient"), widget=forms.HiddenInput)
    service = forms.ModelChoiceField(label=_("Service"), queryset=Service.objects.none())
    practitioners = forms.ModelMultipleChoiceField(
        label=_("Preferred doctors"),
        queryset=Member.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: any doctor."),
    )
    location = forms.ModelChoiceField(label=_("Location"), queryset=Location.objects.none(), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"), choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    time_from = forms.TimeField(label=_("Not before"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    time_to = forms.TimeField(label=_("Not after"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    callback_date = forms.DateField(
        label=_("Call back on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, organisation: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(  # type: ignore[attr-defined]
            organisation=organisation, is_active=True
        ).order_by("name")
        self.fields["practitioners"].queryset = (  # type: ignore[attr-defined]
            Member.objects.filter(organisation=organisation, is_active=True, roles__role=Role.DOCTOR)
            .select_related("user")
            .order_by("user__full_name")
            .distinct()
        )
        self.fields["location"].queryset = Location.objects.filter(  # type: ignore[attr-defined]
            organisation=organisation, is_active=True
        )


REPORTS = [
    ("no_shows", _("No-shows")),
    ("refusals", _("Refusals by reason")),
    ("outside", _("Patients outside the active base")),
]


class ReportForm(forms.Form):
    report = forms.ChoiceField(label=_("Report"), choices=REPORTS, required=False)
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    by = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[("doctor", _("doctor")), ("service", _("service")), ("location", _("location"))],
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("passive, refusal or archived")),
            ("passive", _("passive")),
            ("refusal", _("refusal")),
            ("archived", _("archived")),
        ],
    )


def reason_choices(organisation: Any) -> tuple[list[Reason], list[RefusalReason]]:
    from kabinet.frontdesk import selectors

    return list(selectors.cancel_reasons(organisation=organisation)), list(
        selectors.refusal_reasons(organisation=organisation)
    )


class PolicyForm(forms.ModelForm):
    class Meta:
        model = FrontDeskPolicy
        fields = [
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


class RefusalReasonForm(forms.Form):
    name = forms.CharField(label=_("Name (English)"), max_length=200)
    name_ru = forms.CharField(label=_("Name (Russian)"), max_length=200, required=False)
    name_bg = forms.CharField(label=_("Name (Bulgarian)"), max_length=200, required=False)


class RecallRuleForm(forms.Form):
    service = forms.ModelChoiceField(label=_("After service"), queryset=Service.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=RecallRule.Kind.choices)
    after_days = forms.IntegerField(label=_("After, days"), min_value=0, max_value=3650)
    name = forms.CharField(label=_("Name"), max_length=200)
    instructions = forms.CharField(label=_("What to say"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, organisation: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(  # type: ignore[attr-defined]
            organisation=organisation, is_active=True
        ).order_by("name")
