"""Forms of the document pages (validation only: the views hand cleaned data to the services, and every file to
records.files.check_upload through them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kabinet.records.models import PATIENT_UPLOAD_KINDS, DocumentKind, DocumentTemplate
from kabinet.records.rendering import FieldSpec

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# What the file picker offers; the server decides by the file's bytes, whatever the picker allowed.
STAFF_ACCEPT = "application/pdf,image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.docx,.xlsx"
PATIENT_ACCEPT = "application/pdf,image/jpeg,image/png,image/webp,image/heic,image/heif,.heic"


class TemplateFieldsForm(forms.Form):
    """The fields a template asks for, built from its field list; plus the title and the date of the document."""

    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    document_date = forms.DateField(label=_("Date of the document"), required=False, widget=DATE)

    def __init__(self, *args: Any, specs: list[FieldSpec], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.specs = specs
        for spec in specs:
            self.fields[f"f_{spec.name}"] = _form_field(spec)

    def values(self) -> dict[str, Any]:
        return {spec.name: self.cleaned_data.get(f"f_{spec.name}") for spec in self.specs}


def _form_field(spec: FieldSpec) -> forms.Field:
    if spec.type == "textarea":
        return forms.CharField(label=spec.label, required=spec.required, widget=forms.Textarea(attrs={"rows": 4}))
    if spec.type == "date":
        return forms.DateField(label=spec.label, required=spec.required, widget=DATE)
    if spec.type == "number":
        return forms.DecimalField(label=spec.label, required=spec.required)
    if spec.type == "checkbox":
        return forms.BooleanField(label=spec.label, required=spec.required)
    return forms.CharField(label=spec.label, required=spec.required, max_length=5000)


def initial_from_fields(specs: list[FieldSpec], values: dict[str, Any]) -> dict[str, Any]:
    return {f"f_{spec.name}": values.get(spec.name) for spec in specs}


class UploadForm(forms.Form):
    """Staff: attach a file or a scan."""

    kind = forms.ChoiceField(label=_("Type"))
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, photo (JPEG, PNG, WEBP, HEIC), Word or Excel (.docx, .xlsx)."),
        widget=forms.ClearableFileInput(attrs={"accept": STAFF_ACCEPT}),
    )
    document_date = forms.DateField(label=_("Date of the document"), required=False, widget=DATE)
    template = forms.TypedChoiceField(
        label=_("Printout of the template"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("For a signed consent or contract: the template it was printed from."),
    )

    def __init__(self, *args: Any, kinds: list[str], templates: list[DocumentTemplate], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(DocumentKind.choices)
        self.fields["kind"].choices = [(k, labels[k]) for k in kinds]  # type: ignore[attr-defined]
        self.fields["template"].choices = [("", "—")] + [(t.pk, str(t)) for t in templates]  # type: ignore[attr-defined]


class NewFileForm(forms.Form):
    """Staff: a new version made of a new file."""

    file = forms.FileField(label=_("New file"), widget=forms.ClearableFileInput(attrs={"accept": STAFF_ACCEPT}))
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    note = forms.CharField(label=_("What changed"), max_length=500, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class SignForm(forms.Form):
    """A signature drawn on the screen: the canvas as a PNG data URL (filled in by sign.js) and who signs."""

    signer = forms.CharField(
        label=_("Who signs"),
        max_length=200,
        required=False,
        help_text=_("The patient, or their representative: write the representative's name."),
    )
    signature = forms.CharField(widget=forms.HiddenInput, required=False, max_length=800_000)


class ShareForm(forms.Form):
    member = forms.TypedChoiceField(label=_("Doctor"), coerce=int)

    def __init__(self, *args: Any, candidates: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [(m.pk, str(m.user)) for m in candidates]  # type: ignore[attr-defined]


class MissingForm(forms.Form):
    days = forms.IntegerField(label=_("Visits in the next days"), min_value=1, max_value=60, required=False)


class PatientUploadForm(forms.Form):
    """Patients: send a photo or a document to the clinic (for themselves or a ward)."""

    patient = forms.TypedChoiceField(label=_("For"), coerce=int)
    kind = forms.ChoiceField(label=_("What is it?"))
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    file = forms.FileField(
        label=_("Photo or PDF"),
        help_text=_("A photo (JPEG, PNG, WEBP, HEIC) or a PDF."),
        widget=forms.ClearableFileInput(attrs={"accept": PATIENT_ACCEPT}),
    )

    def __init__(self, *args: Any, patients: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(DocumentKind.choices)
        self.fields["patient"].choices = [(p.pk, str(p)) for p in patients]  # type: ignore[attr-defined]
        self.fields["kind"].choices = [(k, labels[k]) for k in PATIENT_UPLOAD_KINDS]  # type: ignore[attr-defined]
        if len(patients) == 1:
            self.fields["patient"].widget = forms.HiddenInput()
            self.fields["patient"].initial = patients[0].pk


# --- medical data (the Medical and Photos tabs of the patient card) ----------------------------------------------


def _model_field(model: type[Any], name: str, **overrides: Any) -> forms.Field:
    """The form field of a model field (its label and length), not required unless asked."""
    field = model._meta.get_field(name).formfield(required=overrides.pop("required", False), **overrides)
    assert field is not None
    if isinstance(field, forms.DateField):
        field.widget = DATE
    return field


class MedicalEntryForm(forms.Form):
    """The fields of one kind of medical entry (records.medical.ENTRY_KINDS), built from the model's fields."""

    def __init__(self, *args: Any, kind: str, doctors: list[Any] | None = None, **kwargs: Any) -> None:
        from kabinet.records.medical import ENTRY_KINDS

        super().__init__(*args, **kwargs)
        self.kind = kind
        model, names, _title = ENTRY_KINDS[kind]
        textareas = {"note", "complaint", "findings", "plan"}
        for name in names:
            if name == "appointment_ref":
                continue  # set by the visit a procedure comes from, not typed
            if name == "doctor":
                self.fields["doctor"] = forms.TypedChoiceField(
                    label=_("Doctor"),
                    coerce=int,
                    empty_value=None,
                    required=False,
                    choices=[("", "—")] + [(m.pk, str(m.user)) for m in doctors or []],
                )
            elif name in textareas:
                self.fields[name] = _model_field(model, name, widget=forms.Textarea(attrs={"rows": 3}))
            else:
                self.fields[name] = _model_field(model, name)

    def values(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class MedicationStopForm(forms.Form):
    stopped_on = forms.DateField(label=_("Stopped on"), required=False, widget=DATE)
    stop_reason = forms.CharField(label=_("Why it was stopped"), max_length=500, required=False)


class AllergiesForm(forms.Form):
    allergies = forms.CharField(
        label=_("Allergies"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown to every member of staff at the top of the card."),
    )


class PhotoPairForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=200, help_text=_("e.g. Fillers, lips"))
    before = forms.TypedChoiceField(label=_("Before"), coerce=int)
    after = forms.TypedChoiceField(label=_("After"), coerce=int)

    def __init__(self, *args: Any, photos: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(p.pk, f"{p.title} · {p.document_date:%Y-%m-%d}") for p in photos]
        self.fields["before"].choices = choices  # type: ignore[attr-defined]
        self.fields["after"].choices = choices  # type: ignore[attr-defined]
