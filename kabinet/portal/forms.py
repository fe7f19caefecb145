"""Forms of the patient area and the public booking page (shape only; rules live in services)."""

from django import forms
from django.utils.translation import gettext_lazy as _


class SignupForm(forms.Form):
    given_name = forms.CharField(label=_("Given name"), max_length=150)
    family_name = forms.CharField(label=_("Family name"), max_length=150)
    email = forms.EmailField(label=_("Email"), required=False, help_text=_("We send a one-time code there."))
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=40,
        required=False,
        help_text=_("With the country code. Without an email, the code comes by SMS."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class ActivateForm(forms.Form):
    login = forms.CharField(label=_("Email or phone you signed up with"), max_length=254)
    code = forms.CharField(
        label=_("Code from the email or SMS"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
    new_password = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class ConfirmForm(forms.Form):
    patient = forms.IntegerField(widget=forms.HiddenInput, required=False)
    note = forms.CharField(
        label=_("Anything the doctor should know? (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CancelForm(forms.Form):
    reason = forms.IntegerField(label=_("Reason"))
