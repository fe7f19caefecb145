"""Idempotency keys: a retry replays the original's answer, also when it ran while the original was still working."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import RequestFactory

from kabinet.core import idempotency
from kabinet.core.exceptions import Conflict
from kabinet.core.models import Organisation


def _request(user: Any, key: str) -> Any:
    request = RequestFactory().post("/api/v1/things", HTTP_IDEMPOTENCY_KEY=key)
    request.user = user
    return request


def _book(org_pk: int, started: threading.Event | None = None, go: threading.Event | None = None):
    """An action that takes "the slot" (the organisation's name) under a row lock, like booking does."""

    def action() -> tuple[int, dict[str, Any]]:
        organisation = Organisation.objects.select_for_update().get(pk=org_pk)
        if organisation.name == "taken":
            raise Conflict(code="slot_taken")
        organisation.name = "taken"
        organisation.save(update_fields=["name"])
        if started is not None and go is not None:
            started.set()
            assert go.wait(30)
        return 201, {"id": organisation.pk}

    return action


@pytest.mark.django_db
def test_a_repeated_key_replays_the_stored_answer_without_running_again(org, make_user) -> None:
    user = make_user("registrar", organisation=org)
    assert idempotency.run_once(_request(user, "k1"), "book", _book(org.pk)) == (201, {"id": org.pk})
    # Running the action again would raise slot_taken; the stored answer comes back instead.
    assert idempotency.run_once(_request(user, "k1"), "book", _book(org.pk)) == (201, {"id": org.pk})
    with pytest.raises(Conflict):
        idempotency.run_once(_request(user, "k2"), "book", _book(org.pk))


@pytest.mark.django_db(transaction=True)
def test_a_retry_that_raced_its_original_gets_the_original_answer_not_a_conflict(org, make_user) -> None:
    user = make_user("registrar", organisation=org)
    started, go = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def run(name: str, action: Any) -> None:
        try:
            results[name] = idempotency.run_once(_request(user, "same-key"), "book", action)
        except Conflict as exc:
            results[name] = exc.code
        finally:
            connection.close()

    original = threading.Thread(target=run, args=("original", _book(org.pk, started, go)))
    original.start()
    assert started.wait(30)  # the original holds the slot and has not committed
    retry = threading.Thread(target=run, args=("retry", _book(org.pk)))
    retry.start()
    time.sleep(0.5)  # the retry finds no stored answer and waits on the original's lock
    go.set()
    original.join(30)
    retry.join(30)
    assert results == {"original": (201, {"id": org.pk}), "retry": (201, {"id": org.pk})}
    with transaction.atomic():
        assert Organisation.objects.get(pk=org.pk).name == "taken"
