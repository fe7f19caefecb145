"""Idempotency keys for API writes a client may retry: the first result is stored and replayed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kabinet.core.exceptions import Conflict, DomainError, Invalid
from kabinet.core.models import IdempotentRequest

HEADER = "Idempotency-Key"


def key_of(request: HttpRequest) -> str | None:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return None
    if len(key) > 200 or not key.isprintable():
        raise Invalid(errors={HEADER: [_("Use at most 200 printable characters.")]}, code="bad_idempotency_key")
    return key


def run_once(
    request: HttpRequest, scope: str, action: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any]]:
    """Run `action` (returning status and JSON body) once per (user, scope, key); repeats get the stored result.

    The action and the stored result commit together, so a crash leaves neither and the client may retry.
    """
    key = key_of(request)
    user = request.user
    if key is None or not user.is_authenticated:
        return action()
    stored = _stored(user, scope, key)
    if stored is not None:
        return stored.status, stored.body
    try:
        with transaction.atomic():
            status, body = action()
            IdempotentRequest.objects.create(user=user, scope=scope, key=key, status=status, body=body)
    except IntegrityError:
        # A concurrent request with the same key committed first: answer with its result.
        stored = _stored(user, scope, key)
        if stored is None:
            raise Conflict(code="idempotency_conflict") from None
        return stored.status, stored.body
    except DomainError:
        # A retry that ran while its original was still working fails on the original's own effect (the slot it
        # just took, say); once the original has committed, the client gets the original's answer, not the error.
        stored = _stored(user, scope, key)
        if stored is None:
            raise
        return stored.status, stored.body
    return status, body


def _stored(user: Any, scope: str, key: str) -> IdempotentRequest | None:
    return IdempotentRequest.objects.filter(user=user, scope=scope, key=key).first()
