"""Forms of the patient pages: the search box with its filters, and the card's edit forms (validation only:
the views hand cleaned data to the services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from kabinet.patients import filters
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import Patient, PatientNote, PatientPhone, Relationship
from kabinet.patients.selectors import FilterChoices

EMPTY = [("", "—")]
DATE = forms.DateInput(attrs={"type": "date"})


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, phone, email or card number"),
                "autocomplete": "off",
                "autofocus": True,
            }
        ),
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=EMPTY + list(Patient.Status.choices))
    tag = forms.TypedChoiceField(label=_("Tag"), required=False, coerce=int, empty_value=None)
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=EMPTY + list(Patient.Sex.choices))
    language = forms.ChoiceField(label=_("Language"), required=False, choices=EMPTY + list(settings.LANGUAGES))
    source = forms.ChoiceField(
        label=_("How they found us"), required=False, choices=EMPTY + list(Patient.Source.choices)
    )
    age_min = forms.IntegerField(label=_("Age from"), required=False, min_value=0, max_value=150)
    age_max = forms.IntegerField(label=_("Age to"), required=False, min_value=0, max_value=150)
    doctor = forms.TypedChoiceField(label=_("Doctor"), required=False, coerce=int, empty_value=None)
    location = forms.TypedChoiceField(label=_("Location"), required=False, coerce=int, empty_value=None)
    service = forms.TypedChoiceField(label=_("Service had"), required=False, coerce=int, empty_value=None)
    last_visit_from = forms.DateField(label=_("Last visit from"), required=False, widget=DATE)
    last_visit_to = forms.DateField(label=_("Last visit to"), required=False, widget=DATE)
    next_visit_from = forms.DateField(label=_("Next visit from"), required=False, widget=DATE)
    next_visit_to = forms.DateField(label=_("Next visit to"), required=False, widget=DATE)
    debt = forms.BooleanField(label=_("Owes money"), required=False)  # when billing registers the "debt" filter

    VISIT_FIELDS = {
        "doctor": "doctor",
        "location": "location",
        "service": "service",
        "last_visit_from": "last_visit",
        "last_visit_to": "last_visit",
        "next_visit_from": "next_visit",
        "next_visit_to": "next_visit",
    }

    def __init__(self, *args: Any, choices: FilterChoices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = EMPTY + [(t.pk, t.name) for t in choices.tags]  # type: ignore[attr-defined]
        self.fields["doctor"].choices = EMPTY + [  # type: ignore[attr-defined]
            (m.pk, m.user.full_name or str(m.user)) for m in choices.doctors
        ]
        self.fields["location"].choices = EMPTY + [(loc.pk, loc.name) for loc in choices.locations]  # type: ignore[attr-defined]
        self.fields["service"].choices = EMPTY + [(s.pk, str(s)) for s in choices.services]  # type: ignore[attr-defined]
        for name, filter_name in self.VISIT_FIELDS.items():
            if not filters.available(filter_name):
                del self.fields[name]
        if not filters.available("debt"):
            del self.fields["debt"]

    def criteria(self) -> PatientCriteria:
        """The criteria of a valid form; fields with errors are left out rather than failing the whole search."""
        data = getattr(self, "cleaned_data", {}) if self.is_bound else {}
        values: dict[str, Any] = {
            name: data.get(name)
            for name in self.fields
            if name not in ("q", "debt") and data.get(name) not in (None, "")
        }
        extra = {"debt": True} if data.get("debt") else {}
        return PatientCriteria(query=(data.get("q") or "").strip(), extra=extra, **values)

    def filters_used(self) -> bool:
        return any(name != "q" and value not in (None, "") for name, value in self.criteria().as_dict().items())


class PatientDetailsForm(forms.Form):
    """The card's details tab: validation of formats; the service normalises phones and decides."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(
            fields_for_model(
                Patient,
                fields=[
                    "family_name",
                    "given_name",
                    "middle_name",
                    "birth_date",
                    "sex",
                    "phone",
                    "email",
                    "address",
                    "language",
                    "preferred_channel",
                    "marketing_consent",
                    "source",
                    "allergies",
                    "is_vip",
                    "special_notes",
                ],
                widgets={"birth_date": DATE, "allergies": forms.Textarea(attrs={"rows": 2})},
            )
        )
        self.fields["phone"].help_text = _("With the country code, e.g. +359 88 123 4567")


class PhoneForm(forms.Form):
    number = forms.CharField(label=_("Phone number"), max_length=40)
    kind = forms.ChoiceField(label=_("Kind"), choices=PatientPhone.Kind.choices)
    primary = forms.BooleanField(label=_("Make primary"), required=False)


class EmailForm(forms.Form):
    address = forms.CharField(label=_("Email address"), max_length=254)
    primary = forms.BooleanField(label=_("Make primary"), required=False)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    scope = forms.ChoiceField(
        label=_("Applies to"), choices=PatientNote.Scope.choices, initial=PatientNote.Scope.PATIENT
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Patient.Status.choices)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=500,
        help_text=_("Required for a refusal."),
    )


class TagsForm(forms.Form):
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=1000,
        help_text=_("Separate tags with commas."),
    )

    def names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data.get("tags", "").split(",") if name.strip()]


class RelativeForm(forms.Form):
    relative = forms.IntegerField(label=_("Relative"), widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("The relative is the patient's"), choices=Relationship.Kind.choices)
    is_proxy = forms.BooleanField(label=_("May act for the patient (book, see documents)"), required=False)


class ImportUploadForm(forms.Form):
    """The first step of an import: the file. importing.read_table decides whether it can be read."""

    file = forms.FileField(
        label=_("Patient list"),
        help_text=_("CSV (UTF-8 or Windows-1251, separated by commas, semicolons or tabs) or XLSX, up to 50 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )
