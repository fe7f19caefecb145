"""The calendar page (who may open it, what it hands to its script) and the shifts endpoint behind its background."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kabinet.accounts.models import User
from kabinet.core.models import Organisation, Role
from kabinet.scheduling.services import shift_create
from tests.factories import LocationFactory, UserFactory, member
from tests.fixtures.clinic import Clinic

pytestmark = pytest.mark.django_db

CALENDAR = "/calendar/"


def _json_script(html: str, element_id: str) -> Any:
    """The data a template handed to its script with json_script."""
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no {element_id} in the page"
    return json.loads(match.group(1))


# --- the page ------------------------------------------------------------------------------------------------------


def test_the_page_renders_for_a_registrar_with_its_locations_and_texts(
    clinic: Clinic, login_client: Callable[[User], Client]
) -> None:
    response = login_client(clinic.registrar).get(CALENDAR)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="module" src="/static/scheduling/calendar' in html
    assert "vendor/event-calendar/event-calendar.min.js" in html
    config = _json_script(html, "calendar-config")
    assert config["locations"] == [{"id": clinic.location.pk, "name": "Sofia", "time_zone": "Europe/Sofia"}]
    assert config["location"] == clinic.location.pk
    assert config["can_overbook"] is True
    assert "confirmed" in config["transitions"]["scheduled"]
    assert {"value": "no_show", "label": "no-show"} in config["statuses"]
    strings = _json_script(html, "calendar-strings")
    assert strings["slot_taken"].startswith("This time has just been taken")
    assert "Extra (overbooked) visit" in html


def test_an_operator_sees_the_page_without_the_overbooking_switch(
    clinic: Clinic, login_client: Callable[[User], Client]
) -> None:
    response = login_client(clinic.operator).get(CALENDAR)
    assert response.status_code == 200
    assert _json_script(response.content.decode(), "calendar-config")["can_overbook"] is False
    assert "Extra (overbooked) visit" not in response.content.decode()


def test_the_location_in_the_address_is_chosen_when_it_is_the_clinics(
    clinic: Clinic, other_org: Organisation, login_client: Callable[[User], Client]
) -> None:
    second = LocationFactory.create(organisation=clinic.org, name="Plovdiv")
    foreign = LocationFactory.create(organisation=other_org, name="Elsewhere")
    client = login_client(clinic.registrar)
    chosen = _json_script(client.get(CALENDAR, {"location": second.pk}).content.decode(), "calendar-config")
    assert chosen["location"] == second.pk
    for wrong in (str(foreign.pk), "x"):
        config = _json_script(client.get(CALENDAR, {"location": wrong}).content.decode(), "calendar-config")
        assert config["location"] in (clinic.location.pk, second.pk)
        assert foreign.pk not in [loc["id"] for loc in config["locations"]]


def test_a_clinic_without_locations_gets_a_clear_empty_state(
    org: Organisation, registrar: User, login_client: Callable[[User], Client]
) -> None:
    response = login_client(registrar).get(CALENDAR)
    assert response.status_code == 200
    assert "There are no locations yet" in response.content.decode()
    assert "scheduling/calendar.js" not in response.content.decode()


def test_patients_are_refused(clinic: Clinic, login_client: Callable[[User], Client]) -> None:
    response = login_client(clinic.patient_user).get(CALENDAR)
    assert response.status_code == 403
    assert "calendar-config" not in response.content.decode()


def test_users_of_no_clinic_are_refused(db: None, login_client: Callable[[User], Client]) -> None:
    assert login_client(UserFactory.create()).get(CALENDAR).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in() -> None:
    response = Client().get(CALENDAR)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/calendar/")


# --- GET /api/v1/shifts --------------------------------------------------------------------------------------------


def _day_range(clinic: Clinic, days: int = 1) -> dict[str, str | int]:
    return {"start": clinic.at(0).isoformat(), "end": (clinic.at(0) + timedelta(days=days)).isoformat()}


def _as_sofia(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(ZoneInfo("Europe/Sofia")).isoformat()


def test_shifts_of_a_day_come_with_their_breaks_as_aware_instants(
    clinic: Clinic, login_client: Callable[[User], Client]
) -> None:
    response = login_client(clinic.registrar).get(
        "/api/v1/shifts", {**_day_range(clinic), "location": clinic.location.pk}
    )
    assert response.status_code == 200
    shifts = {s["practitioner"]: s for s in response.json()}
    assert set(shifts) == {clinic.doctor.pk, clinic.other_doctor.pk}
    dana = shifts[clinic.doctor.pk]
    assert dana["location"] == clinic.location.pk
    assert (_as_sofia(dana["start"]), _as_sofia(dana["end"])) == (clinic.at(9).isoformat(), clinic.at(14).isoformat())
    assert [(_as_sofia(b["start"]), _as_sofia(b["end"])) for b in dana["breaks"]] == [
        (clinic.at(11, 30).isoformat(), clinic.at(11, 45).isoformat())
    ]
    assert shifts[clinic.other_doctor.pk]["breaks"] == []


def test_shifts_filter_by_practitioner_location_and_period(
    clinic: Clinic, login_client: Callable[[User], Client]
) -> None:
    client = login_client(clinic.registrar)
    mine = client.get("/api/v1/shifts", {**_day_range(clinic), "practitioner": clinic.other_doctor.pk}).json()
    assert [s["practitioner"] for s in mine] == [clinic.other_doctor.pk]
    elsewhere = LocationFactory.create(organisation=clinic.org, name="Plovdiv")
    assert client.get("/api/v1/shifts", {**_day_range(clinic), "location": elsewhere.pk}).json() == []
    day_before = {"start": (clinic.at(0) - timedelta(days=1)).isoformat(), "end": clinic.at(0).isoformat()}
    assert client.get("/api/v1/shifts", day_before).json() == []


def test_shifts_of_another_clinic_stay_hidden(
    clinic: Clinic, outsider: User, other_org: Organisation, login_client: Callable[[User], Client]
) -> None:
    elsewhere = LocationFactory.create(organisation=other_org, name="Beta site")
    their_doctor = member(UserFactory.create(full_name="Dr Other"), other_org, Role.DOCTOR)
    shift_create(
        actor=None,
        practitioner=their_doctor,
        location=elsewhere,
        day=clinic.day,
        start_time=time(8),
        end_time=time(12),
    )
    ours = login_client(clinic.registrar).get("/api/v1/shifts", _day_range(clinic)).json()
    assert {s["practitioner"] for s in ours} == {clinic.doctor.pk, clinic.other_doctor.pk}
    theirs = login_client(outsider).get("/api/v1/shifts", _day_range(clinic)).json()
    assert [s["practitioner"] for s in theirs] == [their_doctor.pk]
    # Naming our location does not reach into our clinic either.
    assert (
        login_client(outsider).get("/api/v1/shifts", {**_day_range(clinic), "location": clinic.location.pk}).json()
        == []
    )


@pytest.mark.parametrize("who", ["patient_user", "nobody", "anonymous"])
def test_shifts_are_for_staff_only(clinic: Clinic, login_client: Callable[[User], Client], who: str) -> None:
    if who == "anonymous":
        client = Client()
    elif who == "nobody":
        client = login_client(UserFactory.create())
    else:
        client = login_client(getattr(clinic, who))
    response = client.get("/api/v1/shifts", _day_range(clinic))
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
        {"start": "2030-01-01T00:00:00Z", "end": "2030-04-01T00:00:00Z"},
        {"start": "2030-01-01T00:00:00", "end": "2030-01-02T00:00:00"},
        {"start": "yesterday", "end": "2030-01-02T00:00:00Z"},
    ],
)
def test_malformed_shift_periods_get_422(
    clinic: Clinic, login_client: Callable[[User], Client], params: dict[str, str]
) -> None:
    response = login_client(clinic.registrar).get("/api/v1/shifts", params)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def _queries_for_a_week(client: Client, clinic: Clinic) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/shifts", {**_day_range(clinic, days=7), "location": clinic.location.pk})
    assert response.status_code == 200
    return len(queries)


def test_the_shifts_query_count_does_not_grow_with_the_shifts(
    clinic: Clinic, login_client: Callable[[User], Client]
) -> None:
    client = login_client(clinic.registrar)
    few = _queries_for_a_week(client, clinic)
    for offset in range(1, 7):
        for doctor in (clinic.doctor, clinic.other_doctor):
            shift_create(
                actor=None,
                practitioner=doctor,
                location=clinic.location,
                day=clinic.day + timedelta(days=offset),
                start_time=time(8),
                end_time=time(18),
                breaks=[(time(10), time(10, 15)), (time(13), time(13, 30))],
            )
    many = _queries_for_a_week(client, clinic)
    assert len(client.get("/api/v1/shifts", {**_day_range(clinic, days=7)}).json()) == 14
    assert many == few
