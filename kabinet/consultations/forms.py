"""Forms of the consultation pages: contracts, messages and readings, requests, answers and ratings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from kabinet.accounts.models import normalize_phone
from kabinet.consultations import readings
from kabinet.consultations.models import ConsultationContract, ConsultationPolicy, ConsultationRequest, Reading
from kabinet.core.models import Location, Member


class ContractForm(forms.Form):
    patient = forms.IntegerField(widget=forms.HiddenInput, required=False)
    card_number = forms.CharField(
        label=_("Patient's card number"), required=False, help_text=_("Or open the form from the patient's card.")
    )
    doctor = forms.ModelChoiceField(label=_("Doctor"), queryset=Member.objects.none())
    care_team = forms.ModelMultipleChoiceField(
        label=_("Care team"),
        queryset=Member.objects.none(),
        required=False,
        help_text=_("Other staff who may answer the patient."),
    )
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.none(),
        required=False,
        help_text=_("Its phone line is the patient's emergency contact."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=ConsultationContract.Kind.choices)
    starts_on = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))
    price = forms.DecimalField(label=_("Price"), min_value=0, decimal_places=2, max_digits=10, initial=0)
    sla_hours = forms.IntegerField(label=_("Reply within, hours"), min_value=1, max_value=720)
    sla_working_hours = forms.BooleanField(label=_("Count working hours only"), required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
    activate = forms.BooleanField(label=_("Open it now"), required=False, initial=True)

    def __init__(
        self, *args: Any, doctors: list[Member], staff: list[Member], locations: list[Location], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        doctor_field: Any = self.fields["doctor"]
        doctor_field.queryset = Member.objects.filter(pk__in=[d.pk for d in doctors]).select_related("user")
        doctor_field.label_from_instance = lambda m: str(m.user)
        team_field: Any = self.fields["care_team"]
        team_field.queryset = Member.objects.filter(pk__in=[m.pk for m in staff]).select_related("user")
        team_field.label_from_instance = lambda m: str(m.user)
        location_field: Any = self.fields["location"]
        location_field.queryset = Location.objects.filter(pk__in=[loc.pk for loc in locations])
        if not self.is_bound:
            today = timezone.localdate()
            self.initial.setdefault("starts_on", today)
            self.initial.setdefault("ends_on", today + timedelta(days=30))
            self.initial.setdefault("activate", True)


class EndForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class RenewForm(forms.Form):
    ends_on = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))
    price = forms.DecimalField(label=_("Price"), min_value=0, decimal_places=2, max_digits=10, required=False)


class PaymentForm(forms.Form):
    payment_state = forms.ChoiceField(
        label=_("Payment"),
        choices=[("unpaid", _("awaiting payment")), ("paid", _("paid")), ("refunded", _("refunded"))],
    )


class MessageForm(forms.Form):
    text = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000
    )
    file = forms.FileField(label=_("Photo or PDF"), required=False)


class ReadingForm(forms.Form):
    kind = forms.ChoiceField(label=_("Reading"), choices=Reading.Kind.choices)
    systolic = forms.CharField(label=_("Systolic, mmHg"), required=False)
    diastolic = forms.CharField(label=_("Diastolic, mmHg"), required=False)
    pulse = forms.CharField(label=_("Pulse, /min"), required=False)
    value = forms.CharField(label=_("Value"), required=False, help_text=_("mmol/L, kg, °C or %"))
    measured_at = forms.DateTimeField(
        label=_("Measured at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    comment = forms.CharField(label=_("Comment"), max_length=1000, required=False)
    file = forms.FileField(label=_("ECG file"), required=False)

    def reading(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["kind"]
        if kind == "blood_pressure":
            values = {"systolic": data["systolic"], "diastolic": data["diastolic"], "pulse": data["pulse"]}
        elif kind == "ecg":
            values = {}
        else:
            values = {kind: data["value"]}
        return {"kind": kind, "values": values, "measured_at": data["measured_at"], "comment": data["comment"]}


class RequestForm(forms.Form):
    patient = forms.TypedChoiceField(label=_("For"), coerce=int)
    kind = forms.ChoiceField(label=_("What do you need?"), choices=ConsultationRequest.Kind.choices)
    question = forms.CharField(
        label=_("Your question"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000, required=False
    )

    def __init__(self, *args: Any, patients: list[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        field: Any = self.fields["patient"]
        field.choices = [(p.pk, str(p)) for p in patients]
        if len(patients) == 1:
            field.widget = forms.HiddenInput()
            self.initial["patient"] = patients[0].pk


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("Answer"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("Your rating"),
        coerce=int,
        choices=[(5, "★★★★★"), (4, "★★★★"), (3, "★★★"), (2, "★★"), (1, "★")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000
    )


class PolicyForm(forms.Form):
    """The clinic's consultation settings; plus, for each measure of the device readings, its normal range
    (fields `<measure>_low` and `<measure>_high`, within what a person can physically have)."""

    work_days = forms.TypedMultipleChoiceField(
        label=_("Working days"),
        coerce=int,
        choices=[(number + 1, name) for number, name in WEEKDAYS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one working day.")},
    )
    work_start = forms.TimeField(
        label=_("Working day starts"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    work_end = forms.TimeField(
        label=_("Working day ends"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    default_sla_hours = forms.IntegerField(
        label=_("Reply within, hours"),
        min_value=1,
        max_value=720,
        help_text=_("Proposed for new contracts and used for one-off questions."),
    )
    escalate_admin_after_minutes = forms.IntegerField(
        label=_("Tell the administrators when a reply is overdue by, minutes"), min_value=0, max_value=10080
    )
    question_price = forms.DecimalField(
        label=_("Price of a written question"), min_value=0, max_digits=10, decimal_places=2
    )
    callback_price = forms.DecimalField(
        label=_("Price of a callback request"), min_value=0, max_digits=10, decimal_places=2
    )
    emergency_phone = forms.CharField(
        label=_("Emergency line"),
        required=False,
        max_length=30,
        help_text=_("Shown to patients in every conversation. Empty: the first phone line of the contract's location."),
    )

    def __init__(self, *args: Any, policy: ConsultationPolicy, ranges: dict[str, tuple[Any, Any]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.measures = [measure for measures in readings.MEASURES.values() for measure in measures]
        for measure in self.measures:
            for end, label in (("low", _("lowest normal")), ("high", _("highest normal"))):
                field_label = f"{measure.label}, {label}"
                self.fields[f"{measure.name}_{end}"] = forms.DecimalField(
                    label=field_label,
                    widget=forms.NumberInput(attrs={"aria-label": field_label}),
                    required=False,
                    min_value=measure.low,
                    max_value=measure.high,
                    max_digits=7,
                    decimal_places=2,
                )
        if not self.is_bound:
            for name in self.base_fields:
                self.initial[name] = getattr(policy, name)
            for measure in self.measures:
                low, high = ranges.get(measure.name, (None, None))
                self.initial[f"{measure.name}_low"] = low
                self.initial[f"{measure.name}_high"] = high

    @property
    def range_rows(self) -> list[tuple[Any, forms.BoundField, forms.BoundField]]:
        return [(measure, self[f"{measure.name}_low"], self[f"{measure.name}_high"]) for measure in self.measures]

    def clean_work_days(self) -> list[int]:
        return sorted(set(self.cleaned_data.get("work_days") or []))

    def clean_emergency_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("emergency_phone")) or ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("work_start"), data.get("work_end")
        if start is not None and end is not None and end <= start:
            self.add_error("work_end", ValidationError(_("The working day must end after it starts.")))
        for measure in self.measures:
            low, high = data.get(f"{measure.name}_low"), data.get(f"{measure.name}_high")
            if low is not None and high is not None and low > high:
                self.add_error(
                    f"{measure.name}_high", ValidationError(_("The highest normal value is below the lowest."))
                )
        return data

    def policy_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.base_fields}

    def ranges(self) -> dict[str, tuple[Any, Any]]:
        data = self.cleaned_data
        return {m.name: (data.get(f"{m.name}_low"), data.get(f"{m.name}_high")) for m in self.measures}
