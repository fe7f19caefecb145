"""Forms of the notification pages: outbox filters, a template's wording, the reminder policy."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kabinet.notifications.models import Channel, Message


class OutboxFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("any")), *Message.State.choices])
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=[("", _("any")), *Channel.choices])
    q = forms.CharField(label=_("Address or subject"), required=False, max_length=100)

    def to_filter(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class TemplateForm(forms.Form):
    subject = forms.CharField(label=_("Subject / title"), required=False, max_length=300)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 10}))
    html = forms.CharField(
        label=_("HTML (email only, optional)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )


class OffsetsField(forms.CharField):
    """Minutes before the visit, written as "1440, 120"."""

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        text = super().to_python(value) or ""
        try:
            return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(_("Write whole minutes separated by commas, e.g. 1440, 120.")) from None

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value


class ReminderPolicyForm(forms.Form):
    reminder_offsets = OffsetsField(
        label=_("Remind before the visit, minutes"), required=False, help_text=_("e.g. 1440, 120 for 24 and 2 hours")
    )
    quiet_hours_start = forms.TimeField(label=_("Quiet hours from"), required=False)
    quiet_hours_end = forms.TimeField(label=_("Quiet hours until"), required=False)
    send_confirmations = forms.BooleanField(label=_("Confirm bookings"), required=False)
    send_changes = forms.BooleanField(label=_("Tell patients about moves and cancellations"), required=False)
    in_app_copies = forms.BooleanField(label=_("Also show messages in the patient's portal"), required=False)


class ComposeForm(forms.Form):
    """A message to chosen patients: channels, the template, free text (see kabinet.notifications.compose)."""

    channels = forms.MultipleChoiceField(label=_("Send by"), widget=forms.CheckboxSelectMultiple)
    event = forms.ChoiceField(label=_("Template"))
    subject = forms.CharField(label=_("Subject (email, push)"), required=False, max_length=200)
    text = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("You may greet the patient with {{ patient.first_name }} or {{ patient.name }}."),
    )

    def __init__(self, *args: Any, channels: list[tuple[str, str]], templates: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = channels  # type: ignore[attr-defined]
        self.fields["event"].choices = templates  # type: ignore[attr-defined]
