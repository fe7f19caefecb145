"""Sliding-window rate limits kept in the database (shared by every web process), keyed by hashed identifiers."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kabinet.accounts.models import RateLimitEvent, keyed_hash
from kabinet.core.exceptions import RateLimited


def count(scope: str, key: str, window_seconds: int) -> int:
    since = timezone.now() - timedelta(seconds=window_seconds)
    return RateLimitEvent.objects.filter(scope=scope, key_hash=keyed_hash(key), created_at__gte=since).count()


def hit(scope: str, key: str) -> None:
    RateLimitEvent.objects.create(scope=scope, key_hash=keyed_hash(key))


def clear(scope: str, key: str) -> None:
    RateLimitEvent.objects.filter(scope=scope, key_hash=keyed_hash(key)).delete()


def ensure_below(scope: str, key: str, *, limit: int, window_seconds: int) -> None:
    """Raise RateLimited when `key` already has `limit` events in the window."""
    if count(scope, key, window_seconds) >= limit:
        raise RateLimited(retry_after=window_seconds)


def prune(older_than_seconds: int = 24 * 3600) -> int:
    deleted, _ = RateLimitEvent.objects.filter(
        created_at__lt=timezone.now() - timedelta(seconds=older_than_seconds)
    ).delete()
    return deleted
