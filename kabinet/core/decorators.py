"""View decorators shared by the staff pages of every app."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kabinet.core import permissions, tenancy
from kabinet.core.exceptions import NotAllowed, NotFound
from kabinet.core.models import Organisation

View = Callable[..., HttpResponse]


def organisation_page(allowed: Callable[[Any, Organisation], bool]) -> Callable[[View], View]:
    """Logged in, in a current organisation where `allowed(user, organisation)` holds, else the 403 page; the view
    gets the organisation after the request, and NotFound / NotAllowed become the 404 / 403 pages."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            organisation = tenancy.current_organisation(request)
            if organisation is None or not allowed(request.user, organisation):
                return render(request, "403.html", status=403)
            try:
                return view(request, organisation, *args, **kwargs)
            except NotFound:
                return render(request, "404.html", status=404)
            except NotAllowed:
                return render(request, "403.html", status=403)

        return wrapper

    return decorate


def staff_page_for(*roles: str) -> Callable[[View], View]:
    """Members of the current organisation with one of `roles` (any staff role when none is given)."""
    if roles:
        return organisation_page(lambda user, organisation: permissions.has_role(user, organisation, *roles))
    return organisation_page(permissions.is_staff_of)


staff_page = staff_page_for()
