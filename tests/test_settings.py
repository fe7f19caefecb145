"""A wrong or missing setting stops the start with a message that names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    clean.update({"KABINET_ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "kabinet.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_with_a_secret_key_and_defaults() -> None:
    result = _start(SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 50, "DEBUG": "perhaps"}, "DEBUG"),
        ({"SECRET_KEY": "x" * 50, "DATABASE_URL": "mysql://root@127.0.0.1/kabinet"}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 50, "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 50, "LOGIN_FAILURE_LIMIT": "five"}, "LOGIN_FAILURE_LIMIT"),
        ({"SECRET_KEY": "x" * 50, "LANGUAGE_CODE": "de"}, "LANGUAGE_CODE"),
        ({"SECRET_KEY": "x" * 50, "EMAIL_URL": "carrier-pigeon://coop"}, "EMAIL_URL"),
    ],
)
def test_a_bad_or_missing_setting_stops_the_start_and_names_it(env: dict[str, str], named: str) -> None:
    result = _start(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.splitlines()[-1]


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(db: None) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite-specific")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 20000
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
