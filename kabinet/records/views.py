"""Staff pages for documents (/records/…): make from a template, upload or scan, the document with its versions and
history, edit (a new version), mark as entered in error, delete, share; the missing-documents list; the inbox of
patients' uploads. The file views serve any user who may see the document (staff and patients alike).

Thin views: validate a form, call one service or selector, render or redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kabinet.core.decorators import staff_page
from kabinet.core.exceptions import DomainError, NotAllowed, NotFound
from kabinet.core.models import Member, Organisation
from kabinet.patients.models import Patient
from kabinet.patients.selectors import patient_get
from kabinet.records import access, registry, selectors, services, signatures
from kabinet.records.files import FileTooLarge
from kabinet.records.forms import (
    MissingForm,
    NewFileForm,
    ReasonForm,
    ShareForm,
    SignForm,
    TemplateFieldsForm,
    UploadForm,
    initial_from_fields,
)
from kabinet.records.models import Document, DocumentTemplate
from kabinet.records.rendering import field_specs
from kabinet.records.serving import file_response


def card_url(patient_id: int, tab: str = "documents") -> str:
    return f"{reverse('patients:card', args=[patient_id])}?{urlencode({'tab': tab})}"


def _apply(form: Form, exc: DomainError) -> None:
    """Put a service's errors on the form (file problems on the file field)."""
    if isinstance(exc, NotAllowed | NotFound):
        raise exc
    errors = exc.errors or {"__all__": [str(exc.message)]}
    for name, messages_ in errors.items():
        for message in messages_:
            form.add_error(name if name in form.fields else None, message)


def _status(exc: DomainError) -> int:
    return 413 if isinstance(exc, FileTooLarge) else 422


def _patient(request: HttpRequest, organisation: Organisation, patient_id: int) -> Patient:
    return patient_get(user=request.user, patient_id=patient_id, organisation=organisation)


def _template(organisation: Organisation, templates: list[DocumentTemplate], raw: Any) -> DocumentTemplate | None:
    try:
        wanted = int(raw)
    except (TypeError, ValueError):
        return None
    return next((t for t in templates if t.pk == wanted and t.organisation_id == organisation.pk), None)


# --- make and upload ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_page
def document_new(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    """Choose a template, fill its fields, get a PDF in the patient's language."""
    patient = _patient(request, organisation, patient_id)
    templates = selectors.templates_for(user=request.user, organisation=organisation, patient=patient)
    template = _template(organisation, templates, request.GET.get("template") or request.POST.get("template"))
    context: dict[str, Any] = {"patient": patient, "templates": templates, "template": template}
    if template is None:
        return render(request, "records/new.html", context)
    specs = field_specs(template.fields)
    form = TemplateFieldsForm(request.POST or None, specs=specs, initial={"title": template.name})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                document = services.document_create_from_template(
                    actor=request.user,
                    patient=patient,
                    template=template,
                    fields=form.values(),
                    title=form.cleaned_data["title"],
                    document_date=form.cleaned_data["document_date"],
                )
            except DomainError as exc:
                _apply(form, exc)
            else:
                messages.success(request, _("The document was created."))
                return redirect("records:detail", document_id=document.pk)
        status = 422
    context["form"] = form
    return render(request, "records/new.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_page
def document_upload(request: HttpRequest, organisation: Organisation, patient_id: int) -> HttpResponse:
    """Attach a file or a scan (contracts, consents, results from elsewhere)."""
    patient = _patient(request, organisation, patient_id)
    kinds = access.writable_kinds(request.user, organisation.pk)
    if not kinds:
        raise NotAllowed()
    templates = selectors.templates_for(user=request.user, organisation=organisation, patient=patient)
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        kinds=kinds,
        templates=templates,
        initial={"kind": request.GET.get("kind", ""), "template": request.GET.get("template", "")},
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                document = services.document_upload(
                    actor=request.user,
                    patient=patient,
                    kind=form.cleaned_data["kind"],
                    title=form.cleaned_data["title"],
                    upload=form.cleaned_data["file"],
                    document_date=form.cleaned_data["document_date"],
                    template=_template(organisation, templates, form.cleaned_data["template"]),
                )
            except DomainError as exc:
                _apply(form, exc)
                status = _status(exc)
            else:
                messages.success(request, _("The file was added."))
                return redirect("records:detail", document_id=document.pk)
    return render(request, "records/upload.html", {"patient": patient, "form": form}, status=status)


# --- one document ------------------------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, organisation: Organisation, document_id: int) -> dict[str, Any]:
    detail = selectors.document_detail(user=request.user, document_id=document_id, organisation=organisation)
    return {
        "detail": detail,
        "document": detail.document,
        "patient": detail.document.patient,
        "erroneous_form": ReasonForm(prefix="erroneous"),
        "delete_form": ReasonForm(prefix="delete"),
        "share_form": ShareForm(candidates=detail.share_candidates),
    }


@require_GET
@staff_page
def document_detail(request: HttpRequest, organisation: Organisation, document_id: int) -> HttpResponse:
    return render(request, "records/detail.html", _detail_context(request, organisation, document_id))


@require_http_methods(["GET", "POST"])
@staff_page
def document_edit(request: HttpRequest, organisation: Organisation, document_id: int) -> HttpResponse:
    """A new version: new field values for a template-made document, or a new file."""
    document = selectors.document_get(user=request.user, document_id=document_id, organisation=organisation)
    if not access.can_revise(request.user, document):
        raise NotAllowed()
    from_template = document.origin == Document.Origin.TEMPLATE and document.template is not None
    form: Form
    if from_template:
        assert document.template is not None
        specs = field_specs(document.template.fields)
        current = document.current_version.fields if document.current_version else {}
        initial = {"title": document.title, **initial_from_fields(specs, current)}
        form = TemplateFieldsForm(request.POST or None, specs=specs, initial=initial)
        form.fields.pop("document_date")
    else:
        form = NewFileForm(request.POST or None, request.FILES or None, initial={"title": document.title})
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                if from_template:
                    assert isinstance(form, TemplateFieldsForm)
                    services.document_revise(
                        actor=request.user, document=document, fields=form.values(), title=form.cleaned_data["title"]
                    )
                else:
                    services.document_revise(
                        actor=request.user,
                        document=document,
                        upload=form.cleaned_data["file"],
                        note=form.cleaned_data["note"],
                        title=form.cleaned_data["title"],
                    )
            except DomainError as exc:
                _apply(form, exc)
                status = _status(exc)
            else:
                messages.success(request, _("A new version was saved."))
                return redirect("records:detail", document_id=document.pk)
    context = {"document": document, "patient": document.patient, "form": form, "from_template": from_template}
    return render(request, "records/edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_page
def document_sign(request: HttpRequest, organisation: Organisation, document_id: int) -> HttpResponse:
    """The signing screen for a tablet at the desk: the document, a box to sign in with a finger or stylus, and who
    signs (the patient by default). Saving makes a new version with the signature printed in it."""
    document = selectors.document_get(user=request.user, document_id=document_id, organisation=organisation)
    if not (access.can_revise(request.user, document) and access.can_sign(document)):
        raise NotAllowed()
    form = SignForm(request.POST or None, initial={"signer": str(document.patient)})
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                image = signatures.decode_data_url(form.cleaned_data["signature"])
                services.document_sign(
                    actor=request.user, document=document, image=image, signer=form.cleaned_data["signer"]
                )
            except DomainError as exc:
                _apply(form, exc)
                status = _status(exc)
            else:
                messages.success(request, _("The signature was added to the document."))
                return redirect("records:detail", document_id=document.pk)
    context = {"document": document, "patient": document.patient, "form": form}
    return render(request, "records/sign.html", context, status=status)


def _reason_action(
    request: HttpRequest,
    organisation: Organisation,
    document_id: int,
    *,
    prefix: str,
    action: Callable[[Document, str], Any],
    done: str,
    next_url: Callable[[Document], str],
) -> HttpResponse:
    document = selectors.document_get(user=request.user, document_id=document_id, organisation=organisation)
    form = ReasonForm(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            action(document, form.cleaned_data["reason"])
        except DomainError as exc:
            _apply(form, exc)
        else:
            messages.success(request, done)
            return redirect(next_url(document))
    context = _detail_context(request, organisation, document.pk)
    context[f"{prefix}_form"] = form
    return render(request, "records/detail.html", context, status=422)


@require_POST
@staff_page
def document_erroneous(request: HttpRequest, organisation: Organisation, document_id: int) -> HttpResponse:
    return _reason_action(
        request,
        organisation,
        document_id,
        prefix="erroneous",
        action=lambda document, reason: services.document_mark_erroneous(
            actor=request.user, document=document, reason=reason
        ),
        done=_("The document is marked as entered in error."),
        next_url=lambda document: reverse("records:detail", args=[document.pk]),
    )


@require_POST
@staff_page
def document_delete(request: HttpRequest, organisation: Organisation, document_id: int) -> HttpResponse:
    return _reason_action(
        request,
        organisation,
        document_id,
        prefix="delete",
        action=lambda document, reason: services.document_delete(actor=request.user, document=document, reason=reason),
        done=_("The document was deleted."),
        next_url=lambda document: card_url(document.patient_id),
    )


@require_POST
@staff_page
def document_share(request: HttpRequest, organisation: Organisation, document_id: int) -> HttpResponse:
    document = selectors.document_get(user=request.user, document_id=document_id, organisation=organisation)
    candidates = selectors.doctors_of(organisation.pk)
    form = ShareForm(request.POST, candidates=candidates)
    if form.is_valid():
        member = Member.objects.get(pk=form.cleaned_data["member"], organisation=organisation)
        try:
            services.document_share(actor=request.user, document=document, member=member)
        except DomainError as exc:
            if isinstance(exc, NotAllowed | NotFound):
                raise
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("The document was shared."))
    else:
        messages.error(request, _("Choose a doctor from the list."))
    return redirect("records:detail", document_id=document.pk)


# --- files: for everyone who may see the document ------------------------------------------------------------------


def _version_number(request: HttpRequest) -> int | None:
    raw = request.GET.get("version")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise Http404 from exc


def _serve(request: HttpRequest, document_id: int, *, inline: bool) -> HttpResponseBase:
    try:
        version = selectors.document_version(
            user=request.user, document_id=document_id, number=_version_number(request)
        )
    except NotFound as exc:
        raise Http404 from exc
    return file_response(version, inline=inline)


@require_GET
@login_required
def document_file(request: HttpRequest, document_id: int) -> HttpResponseBase:
    """Download (attachment) of the latest version or ?version=N; audited."""
    return _serve(request, document_id, inline=False)


@require_GET
@login_required
@xframe_options_sameorigin
def document_inline(request: HttpRequest, document_id: int) -> HttpResponseBase:
    """The same file shown in the browser (the viewer and print): PDFs and images only; audited."""
    return _serve(request, document_id, inline=True)


# --- lists ---------------------------------------------------------------------------------------------------------


@require_GET
@staff_page
def missing(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """Patients with visits in the next N days (default 7) who lack a mandatory document or its signature (with a
    link to sign it on the screen or upload the signed scan, for those who may)."""
    form = MissingForm(request.GET or None)
    days = selectors.MISSING_DAYS_DEFAULT
    if form.is_bound and form.is_valid() and form.cleaned_data["days"]:
        days = form.cleaned_data["days"]
    rows = selectors.missing_documents(user=request.user, organisation=organisation, days=days)
    context = {
        "form": form,
        "days": days,
        "rows": rows,
        "has_rules": bool(selectors.active_rules(organisation.pk)),
        "has_visits": registry.visit_feed() is not None,
        "writable": set(access.writable_kinds(request.user, organisation.pk)),
    }
    return render(request, "records/missing.html", context)


@require_GET
@staff_page
def inbox(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """Patients' uploads sent to the user (as a treating doctor) or shared with them."""
    documents = selectors.inbox(user=request.user, organisation=organisation)[:200]
    return render(request, "records/inbox.html", {"documents": documents})
