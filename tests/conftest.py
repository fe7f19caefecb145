"""Shared fixtures: organisations, users of each role (alice/bob/charlie style), clients, audit flushing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import translation

from kabinet.accounts.models import User
from kabinet.core.models import Organisation, Role
from tests.factories import PASSWORD, OrganisationFactory, UserFactory, member

pytest_plugins = [
    "tests.fixtures.processes",  # before browser, which imports it
    "tests.fixtures.browser",
    "tests.fixtures.clinic",
    "tests.fixtures.http",
    "tests.fixtures.mail",
    "tests.fixtures.websockets",
]


@pytest.fixture(scope="session", autouse=True)
def _audit_rows_flushable() -> Iterator[None]:
    """Transactional tests flush every table between tests; the audit table refuses DELETE except in maintenance."""
    from django.core.management.commands import flush

    from kabinet.audit.db import maintenance

    original = flush.Command.handle

    def handle(self: Any, *args: Any, **options: Any) -> Any:
        with maintenance():
            return original(self, *args, **options)

    flush.Command.handle = handle  # type: ignore[method-assign]
    yield
    flush.Command.handle = original  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _redis_database_per_worker() -> Iterator[None]:
    """Under pytest-xdist each worker gets its own Redis database for the cache and the channel layer: tests clear
    the cache (FLUSHDB) and name channel groups after row ids, which would cross between workers otherwise."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not settings.REDIS_URL or not worker:
        yield
        return
    parts = urlsplit(settings.REDIS_URL)
    url = urlunsplit(parts._replace(path=f"/{1 + int(worker.removeprefix('gw')) % 15}"))
    caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    layer: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    [host] = layer["CONFIG"]["hosts"]
    layers = {"default": {**layer, "CONFIG": {"hosts": [{**host, "address": url}]}}}
    with override_settings(CACHES=caches, CHANNEL_LAYERS=layers):
        yield


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts in the default language: a page opened by a user who reads Russian leaves Russian active
    in the thread (the test client serves requests in the test's own thread), and a later test on the same xdist
    worker would see "пульс" where it expects "pulse"."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def org(db: None) -> Organisation:
    return OrganisationFactory.create(name="Alpha Clinic", slug="alpha")


@pytest.fixture
def other_org(db: None) -> Organisation:
    return OrganisationFactory.create(name="Beta Clinic", slug="beta")


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(*roles: str, organisation: Organisation | None = None, **fields: Any) -> User:
        user = UserFactory.create(**fields)
        if organisation is not None and roles:
            member(user, organisation, *roles)
        return user

    return make


@pytest.fixture
def admin_user(org: Organisation, make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, organisation=org, email="alice@example.org", full_name="Alice Admin")


@pytest.fixture
def registrar(org: Organisation, make_user: Callable[..., User]) -> User:
    return make_user(Role.REGISTRAR, organisation=org, email="bob@example.org", full_name="Bob Registrar")


@pytest.fixture
def outsider(other_org: Organisation, make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, organisation=other_org, email="charlie@example.org", full_name="Charlie Outsider")


@pytest.fixture
def login_client() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        assert client.login(username=user.email or user.phone, password=PASSWORD)
        return client

    return make


@pytest.fixture
def password() -> str:
    return PASSWORD
