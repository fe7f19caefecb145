"""The changes made from the patient card's Medical and Photos tabs (/records/patients/<id>/medical/…, …/photos/…).

The forms post with htmx and get the tab's content back (records/_medical.html or records/_photos.html), with the
form that failed still open and its errors (status 200: htmx swaps only successful answers); without JavaScript a
success redirects to the card's tab and a failure shows the form alone (422). Thin views: a form, one service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kabinet.core.decorators import staff_page
from kabinet.core.exceptions import DomainError, NotAllowed, NotFound
from kabinet.core.models import Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import patient_get
from kabinet.records import access, cards, medical, selectors
from kabinet.records.forms import AllergiesForm, MedicalEntryForm, MedicationStopForm, PhotoPairForm, ReasonForm
from kabinet.records.models import Medication, PhotoPair
from kabinet.records.views import _apply, card_url

Bound = Callable[[Patient, Form | None], dict[str, Any] | None]  # the tab's content, with a failed form or not


def _patient(request: HttpRequest, organisation: Organisation, patient_id: int) -> Patient:
    patient = patient_get(user=request.user, patient_id=patient_id, organisation=organisation)
    if not access.can_write_medical(request.user, organisation.pk):
        raise NotAllowed()
    return patient


def _answer(
    request: HttpRequest,
    patient: Patient,
    *,
    tab: str,
    form: Form,
    action: Callable[[], Any],
    done: str,
    bound: Bound,
) -> HttpResponse:
    """Run the service when the form is valid; answer with the tab's content (htmx) or a redirect / the form."""
    ok = False
    if form.is_valid():
        try:
            action()
        except DomainError as exc:
            _apply(form, exc)
        else:
            ok = True
    template = "records/_medical.html" if tab == "medical" else "records/_photos.html"
    if request.htmx:  # type: ignore[attr-defined]
        fresh = Patient.objects.select_related("organisation").get(pk=patient.pk)
        context = {"patient": fresh, "tab_data": bound(fresh, None if ok else form), "done": done if ok else ""}
        return render(request, template, context)
    if ok:
        messages.success(request, done)
        return redirect(card_url(patient.pk, tab))
    return render(request, "records/medical_form.html", {"patient": patient, "form": form, "tab": tab}, status=422)


def _medical(request: HttpRequest, name: str) -> Bound:
    """The Medical tab's content, with the failed form (under its name) in place of a blank one."""
    return lambda patient, form: cards.medical_context(request.user, patient, {name: form} if form else None)


def _photos(request: HttpRequest) -> Bound:
    return lambda patient, form: cards.photos_context(request.user, patient, form)


@require_POST
@staff_page
def medical_add(request: HttpRequest, organisation: Organisation, patient_id: int, kind: str) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    if kind not in medical.ENTRY_KINDS:
        raise NotFound()
    form = MedicalEntryForm(request.POST, kind=kind, doctors=selectors.doctors_of(organisation.pk), prefix=kind)
    return _answer(
        request,
        patient,
        tab="medical",
        form=form,
        action=lambda: medical.medical_entry_add(actor=request.user, patient=patient, kind=kind, data=form.values()),
        done=_("Added to the medical record."),
        bound=_medical(request, kind),
    )


@require_POST
@staff_page
def medical_edit(
    request: HttpRequest, organisation: Organisation, patient_id: int, kind: str, entry_id: int
) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    if kind not in medical.ENTRY_KINDS:
        raise NotFound()
    model = medical.ENTRY_KINDS[kind][0]
    entry = selectors.medical_entry_get(user=request.user, model=model, entry_id=entry_id, patient=patient)
    prefix = f"{kind}-{entry.pk}"
    form = MedicalEntryForm(request.POST, kind=kind, doctors=selectors.doctors_of(organisation.pk), prefix=prefix)
    return _answer(
        request,
        patient,
        tab="medical",
        form=form,
        action=lambda: medical.medical_entry_update(actor=request.user, entry=entry, data=form.values()),
        done=_("The entry was saved."),
        bound=_medical(request, prefix),
    )


@require_POST
@staff_page
def medical_erroneous(
    request: HttpRequest, organisation: Organisation, patient_id: int, kind: str, entry_id: int
) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    if kind not in medical.ENTRY_KINDS:
        raise NotFound()
    model = medical.ENTRY_KINDS[kind][0]
    entry = selectors.medical_entry_get(user=request.user, model=model, entry_id=entry_id, patient=patient)
    prefix = f"erroneous-{kind}-{entry.pk}"
    form = ReasonForm(request.POST, prefix=prefix)
    return _answer(
        request,
        patient,
        tab="medical",
        form=form,
        action=lambda: medical.medical_entry_mark_erroneous(
            actor=request.user, entry=entry, reason=form.cleaned_data["reason"]
        ),
        done=_("The entry is marked as entered in error."),
        bound=_medical(request, prefix),
    )


@require_POST
@staff_page
def medication_stop(request: HttpRequest, organisation: Organisation, patient_id: int, entry_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    entry = selectors.medical_entry_get(user=request.user, model=Medication, entry_id=entry_id, patient=patient)
    prefix = f"stop-{entry.pk}"
    form = MedicationStopForm(request.POST, prefix=prefix)
    return _answer(
        request,
        patient,
        tab="medical",
        form=form,
        action=lambda: medical.medication_stop(
            actor=request.user,
            medication=entry,
            stopped_on=form.cleaned_data["stopped_on"],
            reason=form.cleaned_data["stop_reason"],
        ),
        done=_("The medication was stopped."),
        bound=_medical(request, prefix),
    )


@require_POST
@staff_page
def allergies_set(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    form = AllergiesForm(request.POST)
    return _answer(
        request,
        patient,
        tab="medical",
        form=form,
        action=lambda: medical.allergies_set(
            actor=request.user, patient=patient, allergies=form.cleaned_data["allergies"]
        ),
        done=_("The allergies were saved."),
        bound=_medical(request, "allergies"),
    )


@require_POST
@staff_page
def photo_pair_add(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    photos = selectors.photo_choices(user=request.user, patient=patient)
    form = PhotoPairForm(request.POST, photos=list(photos.values()))
    return _answer(
        request,
        patient,
        tab="photos",
        form=form,
        action=lambda: medical.photo_pair_add(
            actor=request.user,
            patient=patient,
            before=photos.get(form.cleaned_data["before"]),
            after=photos.get(form.cleaned_data["after"]),
            label=form.cleaned_data["label"],
        ),
        done=_("The photos are shown side by side."),
        bound=_photos(request),
    )


@require_POST
@staff_page
def photo_pair_remove(request: HttpRequest, organisation: Organisation, patient_id: int, pair_id: int) -> HttpResponse:
    patient = _patient(request, organisation, patient_id)
    pair = selectors.medical_entry_get(user=request.user, model=PhotoPair, entry_id=pair_id, patient=patient)
    return _answer(
        request,
        patient,
        tab="photos",
        form=Form({}),
        action=lambda: medical.photo_pair_remove(actor=request.user, pair=pair),
        done=_("The pairing was removed; the photos stay."),
        bound=lambda fresh, _form: cards.photos_context(request.user, fresh),
    )
