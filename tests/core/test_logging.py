"""What reaches the logs: request ids, and never the token of a capability URL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """The text the configured console handler writes (the one the `django` loggers use)."""
    handler = next(h for h in logging.getLogger("django").handlers if isinstance(h, logging.StreamHandler))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
def test_a_calendar_feed_token_never_reaches_the_log(client: Client, console: io.StringIO) -> None:
    token = "AbCdEf0123456789secretToken"
    assert client.get(f"/calendar/feeds/{token}.ics").status_code == 404
    text = console.getvalue()
    assert "/calendar/feeds/***.ics" in text
    assert token not in text


def test_other_messages_pass_unchanged(console: io.StringIO) -> None:
    logging.getLogger("django.request").warning("Not Found: %s", "/patients/12/")
    assert "Not Found: /patients/12/" in console.getvalue()
