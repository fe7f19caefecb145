"""Staff shell pages (dashboard, organisation switch), health check, PWA manifest and service worker."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kabinet.core import permissions, selectors, tenancy
from kabinet.core.models import Role


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    organisation = tenancy.current_organisation(request)
    if organisation is None or not permissions.is_staff_of(request.user, organisation):
        if permissions.organisations_of(request.user, roles=["patient"]):
            return redirect("portal:home")
        return render(request, "core/no_organisation.html", status=403)
    roles = [Role(code).label for code in sorted(permissions.roles_in(request.user, organisation))]
    return render(request, "core/dashboard.html", {"organisation": organisation, "roles": roles})


@login_required
@require_POST
def organisation_choose(request: HttpRequest) -> HttpResponse:
    try:
        organisation_id = int(request.POST.get("organisation", ""))
    except ValueError:
        organisation_id = 0
    tenancy.choose_organisation(request, organisation_id)
    return redirect("core:dashboard")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report = selectors.health()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def manifest(request: HttpRequest, area: str = "staff") -> JsonResponse:
    portal = area == "portal"
    data = {
        "name": _("kabinet — my clinic") if portal else _("kabinet — clinic"),
        "short_name": "kabinet",
        "start_url": "/my/" if portal else "/",
        "scope": "/my/" if portal else "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0f766e",
        "lang": request.LANGUAGE_CODE,
        "icons": [
            {"src": static("core/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("core/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    return JsonResponse(data, content_type="application/manifest+json")


def service_worker(request: HttpRequest, area: str = "staff") -> HttpResponse:
    """Served from the area's root so its scope covers the area; caches the shell for offline start."""
    response = render(
        request,
        "core/sw.js",
        {
            "scope": "/my/" if area == "portal" else "/",
            "offline_url": "/my/offline/" if area == "portal" else "/offline/",
        },
        content_type="application/javascript",
    )
    response["Service-Worker-Allowed"] = "/my/" if area == "portal" else "/"
    response["Cache-Control"] = "no-cache"
    return response


def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "core/offline.html")
