"""What the billing pages share: the way domain errors reach the user, and safe redirects back."""

from __future__ import annotations

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from kabinet.core.exceptions import DomainError, NotAllowed, NotFound


def back(request: HttpRequest, default: str) -> HttpResponse:
    """Redirect to the `next` the form carried (a page of this site), else to `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def report(request: HttpRequest, exc: DomainError, form: Form | None = None) -> None:
    """Show a rule the service refused as a message (permission problems are raised to the wrapper)."""
    if isinstance(exc, NotAllowed | NotFound):
        raise exc
    parts = [str(exc.message)]
    for field, errors in exc.errors.items():
        label = form.fields[field].label if form is not None and field in form.fields else ""
        for error in errors:
            text = f"{label}: {error}" if label else str(error)
            if text not in parts and str(error) not in parts:
                parts.append(text)
    messages.error(request, " ".join(parts))


def form_errors(request: HttpRequest, form: Form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else str(error))
