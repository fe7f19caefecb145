"""Forms of the campaign pages: a new campaign and the recipient filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kabinet.campaigns.selectors import RECIPIENT_FILTERS
from kabinet.campaigns.services import CAMPAIGN_CHANNELS, MAX_RATE
from kabinet.notifications.models import Channel


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    segment = forms.TypedChoiceField(label=_("Audience (saved segment)"), coerce=int)
    channels = forms.MultipleChoiceField(
        label=_("Send by"),
        widget=forms.CheckboxSelectMultiple,
        choices=[(c.value, c.label) for c in Channel if c in CAMPAIGN_CHANNELS],
    )
    event = forms.ChoiceField(label=_("Template"))
    subject = forms.CharField(label=_("Subject (email)"), required=False, max_length=300)
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("You may greet the patient with {{ patient.first_name }} or {{ patient.name }}."),
    )
    start_at = forms.DateTimeField(
        label=_("Send from"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: as soon as you start it."),
    )
    rate_per_minute = forms.IntegerField(label=_("Messages per minute"), min_value=1, max_value=MAX_RATE, initial=600)

    def __init__(
        self, *args: Any, segments: list[tuple[int, str]], templates: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = segments  # type: ignore[attr-defined]
        self.fields["event"].choices = templates  # type: ignore[attr-defined]


class RecipientFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("any")), *RECIPIENT_FILTERS])
