"""Database-side guards of the audit log: the SQLite function its delete trigger consults."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

_maintenance: contextvars.ContextVar[bool] = contextvars.ContextVar("kabinet_audit_maintenance", default=False)


@contextlib.contextmanager
def maintenance() -> Iterator[None]:
    """Allow deleting audit rows on SQLite (whole-database flushes in tests only)."""
    token = _maintenance.set(True)
    try:
        yield
    finally:
        _maintenance.reset(token)


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("kabinet_audit_maintenance", 0, lambda: 1 if _maintenance.get() else 0)
