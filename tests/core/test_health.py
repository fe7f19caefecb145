"""/healthz reports database, worker and clock; the worker heartbeat is written by a real task run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from kabinet.core.models import Heartbeat


@pytest.mark.django_db
def test_it_reports_unhealthy_without_worker_and_clock() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["worker"] == {"ok": False, "last_beat": None}
    assert body["clock"]["ok"] is False


@pytest.mark.django_db(transaction=True)
def test_it_reports_the_worker_alive_after_the_clock_enqueues_and_a_worker_runs_the_heartbeat() -> None:
    call_command("clock", "--once")
    call_command("db_worker", "--batch", "--no-reload", "--interval", "0")
    response = Client().get("/healthz")
    body = response.json()
    assert body["worker"]["ok"] is True, body
    assert body["clock"]["ok"] is True, body
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_stale_worker_heartbeat_is_reported_dead(settings) -> None:
    old = timezone.now() - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 5)
    Heartbeat.objects.create(name="worker", beat_at=old)
    Heartbeat.objects.create(name="clock", beat_at=timezone.now())
    body = Client().get("/healthz").json()
    assert body["worker"]["ok"] is False
    assert body["clock"]["ok"] is True
