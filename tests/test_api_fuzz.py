"""API fuzzing with schemathesis: generated requests for every operation of /api/v1/ (its OpenAPI document), sent
in-process to the WSGI application with a clinic administrator's bearer token. No answer may be a server error,
and every documented answer must match its schema.

Bounded for `make test` (FUZZ_EXAMPLES per operation, default 8: well under a minute in all); set FUZZ_EXAMPLES
higher for a longer run, e.g. `FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_api_fuzz.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import time, timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from pytest_django import Settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from kabinet.accounts.services import api_token_create
from kabinet.api import api
from kabinet.core.models import Role
from kabinet.scheduling.models import Reason, Service
from kabinet.scheduling.services import shift_create
from kabinet.wsgi import application
from tests.factories import LocationFactory, OrganisationFactory, PatientFactory, UserFactory, member

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))

# The schema as the app builds it (the same document /api/v1/openapi.json serves; tests/test_authorization_matrix.py
# checks that), read without a request so collection needs no database; requests go to the WSGI app in-process.
schema = schemathesis.openapi.from_dict(dict(api.get_openapi_schema(path_prefix="/api/v1/")))
schema.app = application


@pytest.fixture
def _in_process_requests_keep_the_test_connection() -> Iterator[None]:
    """Django closes the database connection when a request finishes; in a test that would close the test's own
    transaction under it (Django's test client disconnects the same handlers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db: None, settings: Settings, _in_process_requests_keep_the_test_connection: None) -> str:
    """A clinic with a doctor on shift, a service, a patient and reasons; an administrator's API token."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    org = OrganisationFactory.create(slug="fuzz")
    location = LocationFactory.create(organisation=org)
    admin = UserFactory.create(email="admin@fuzz.example")
    member(admin, org, Role.ADMIN)
    doctor = member(UserFactory.create(email="doc@fuzz.example"), org, Role.DOCTOR)
    doctor.locations.add(location)
    service = Service.objects.create(organisation=org, name="Consultation", duration_minutes=30, online_bookable=True)
    service.practitioners.set([doctor])
    shift_create(
        actor=None,
        practitioner=doctor,
        location=location,
        day=timezone.localdate() + timedelta(days=2),
        start_time=time(9),
        end_time=time(13),
    )
    PatientFactory.create(organisation=org, family_name="Fuzzova")
    Reason.objects.create(organisation=org, kind=Reason.Kind.CANCEL, name="Asked")
    _token, raw = api_token_create(user=admin, name="fuzz")
    return raw


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported with the example that found it
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run, so `make test` is repeatable
)
def test_api_never_fails_and_answers_as_documented(case: Any, bearer: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {bearer}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
