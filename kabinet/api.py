"""The REST API at /api/v1/: one NinjaAPI, every app's router mounted on it, errors as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from kabinet.accounts.api import router as accounts_router
from kabinet.accounts.auth import BearerToken, SessionAuth
from kabinet.billing.api import router as billing_router
from kabinet.campaigns.api import router as campaigns_router
from kabinet.consultations.api import router as consultations_router
from kabinet.core.api import router as core_router
from kabinet.core.exceptions import DomainError, RateLimited
from kabinet.frontdesk.api import router as frontdesk_router
from kabinet.notifications.api import router as notifications_router
from kabinet.patients.api import router as patients_router
from kabinet.records.api import router as records_router
from kabinet.scheduling.api import router as scheduling_router

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(
    request: HttpRequest, *, status: int, code: str, detail: str, title: str | None = None, **extra: Any
) -> HttpResponse:
    """An RFC 9457 problem document with a stable machine-readable `code`."""
    body = {
        "type": f"https://kabinet.dev/problems/{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.path,
        **extra,
    }
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = PROBLEM_CONTENT_TYPE
    return response


def _field_errors(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", []) if part not in ("body", "query", "path", "header", "payload")]
        fields.setdefault(".".join(loc) or "__all__", []).append(str(error.get("msg", "")))
    return fields


api = NinjaAPI(
    title="kabinet API",
    version="1",
    description="Clinic CRM and patient engagement. Errors are RFC 9457 problem+json with a stable `code`.",
    urls_namespace="api-1",
    auth=[BearerToken(), SessionAuth()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    extra: dict[str, Any] = {}
    if exc.errors:
        extra["errors"] = {k: [str(m) for m in v] for k, v in exc.errors.items()}
    response = problem(request, status=exc.status, code=exc.code, detail=str(exc.message), **extra)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problem(
        request,
        status=422,
        code="validation_error",
        detail=_("Some fields are not valid."),
        errors=_field_errors(list(exc.errors)),
    )


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem(request, status=401, code="not_authenticated", detail=_("Log in or send a valid API token."))
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(AuthorizationError)
def on_forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return problem(request, status=403, code="forbidden", detail=_("You do not have permission to do this."))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, status=404, code="not_found", detail=_("Not found."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 405: "method_not_allowed", 429: "rate_limited"}.get(exc.status_code, "error")
    return problem(request, status=exc.status_code, code=code, detail=str(exc.message))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled API error")
    return problem(
        request, status=500, code="server_error", detail=_("Something went wrong on our side. Try again later.")
    )


@csrf_exempt  # it changes nothing; without this a POST would get the HTML CSRF page instead of the 404
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unknown paths under /api/ answer in problem+json too, not with the HTML 404 page."""
    return problem(request, status=404, code="not_found", detail=_("No such API endpoint."))


api.add_router("", core_router)
api.add_router("", accounts_router)
api.add_router("", patients_router)
api.add_router("", records_router)
api.add_router("", scheduling_router)
api.add_router("", consultations_router)
api.add_router("", frontdesk_router)
api.add_router("", notifications_router)
api.add_router("", campaigns_router)
api.add_router("", billing_router)
