"""What the server entry points (asgi.py, wsgi.py) do once the application is loaded, before the first request."""

import gc

from django.urls import get_resolver


def freeze_start_up_objects() -> None:
    """Load the URL modules and move everything loaded so far out of the garbage collector's generations.

    What start-up loads (modules, URL patterns, every app's views and API schemas, translation catalogues) lives as
    long as the process, yet each full collection re-scanned it: ~65 ms, once in about eight month-long slot
    searches, which made that request's p95 three times its median. Frozen objects are never scanned (nor freed,
    which they would not be anyway). The URL modules would otherwise load on the first request, after the freeze.
    """
    get_resolver().url_patterns  # noqa: B018  (the property imports them)
    gc.freeze()
