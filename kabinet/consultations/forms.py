"""Forms of the consultation pages: contracts, messages and readings, requests, answers and ratings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.consultations.models import ConsultationContract, ConsultationRequest, Reading
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
