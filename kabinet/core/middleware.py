"""Middleware that gives every request an id and remembers the client address for audit and logs."""

from __future__ import annotations

from collections.abc import Callable

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
