"""Patient area: /my/documents/ — the documents of the patient and their wards, and a phone-friendly form to send
a photo or a PDF to the clinic (it goes to the treating doctors)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kabinet.core.exceptions import DomainError, NotAllowed, NotFound
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids
from kabinet.records import selectors, services
from kabinet.records.files import FileTooLarge
from kabinet.records.forms import PatientUploadForm


@login_required
@require_http_methods(["GET", "POST"])
def documents(request: HttpRequest) -> HttpResponse:
    patients = list(Patient.objects.filter(pk__in=own_patient_ids(request.user)).order_by("pk"))
    form = PatientUploadForm(request.POST or None, request.FILES or None, patients=patients)
    status = 200
    if request.method == "POST" and patients:
        status = 422
        if form.is_valid():
            patient = next(p for p in patients if p.pk == form.cleaned_data["patient"])
            try:
                services.document_upload_by_patient(
                    actor=request.user,
                    patient=patient,
                    kind=form.cleaned_data["kind"],
                    title=form.cleaned_data["title"],
                    upload=form.cleaned_data["file"],
                )
            except (NotAllowed, NotFound):
                raise
            except DomainError as exc:
                for name, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
                status = 413 if isinstance(exc, FileTooLarge) else 422
            else:
                messages.success(request, _("Thank you: the clinic has received your file."))
                return redirect("portal:documents")
    context = {
        "patients": patients,
        "documents": selectors.portal_documents(user=request.user),
        "form": form,
    }
    return render(request, "portal/documents.html", context, status=status)
