"""Middleware: a request id and the client address for audit and logs; the security headers Django lacks."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from kabinet.core import request_context


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ctx = request_context.RequestContext(
            request_id=request_context.new_request_id(request), ip=request_context.client_ip(request)
        )
        request.request_id = ctx.request_id  # type: ignore[attr-defined]
        token = request_context.activate(ctx)
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = ctx.request_id
        return response


def permissions_policy(features: dict[str, list[str]]) -> str:
    """`camera=(self), geolocation=()` from {"camera": ["self"], "geolocation": []}."""
    parts = []
    for feature, origins in features.items():
        allow = " ".join(o if o in ("self", "*") else f'"{o}"' for o in origins)
        parts.append(f"{feature}=({allow})")
    return ", ".join(parts)


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response (settings.PERMISSIONS_POLICY), and the CSP's frame-ancestors kept in step
    with X-Frame-Options: a view that allows same-site framing (xframe_options_sameorigin: the document viewer) gets
    frame-ancestors 'self' instead of 'none', which browsers would otherwise enforce over X-Frame-Options.

    Listed after csp.middleware.CSPMiddleware, so it sees the response before django-csp writes the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = permissions_policy(getattr(settings, "PERMISSIONS_POLICY", {}))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Permissions-Policy", self.policy)
        if response.get("X-Frame-Options", "").upper() == "SAMEORIGIN":
            replace = dict(getattr(response, "_csp_replace", None) or {})
            replace.setdefault("frame-ancestors", ["'self'"])
            response._csp_replace = replace  # type: ignore[attr-defined]
        return response
