"""The clinic's consultation settings page (/consultations/settings/): administrators change working hours, the
escalation delay, prices, the emergency line and the normal ranges of readings; everyone else is refused; bad
input is explained and saves nothing; every change is audited and takes effect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation

from kabinet.accounts.models import User
from kabinet.audit.models import AuditEvent
from kabinet.consultations import readings, selectors, services
from kabinet.consultations.models import ConsultationPolicy, ReadingThreshold
from kabinet.core.exceptions import Invalid, NotAllowed
from tests.consultations.conftest import Consult

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]
URL = "/consultations/settings/"


def _form(**changes: Any) -> dict[str, Any]:
    """The page's form as it comes with the defaults, with `changes`."""
    data: dict[str, Any] = {
        "work_days": ["1", "2", "3", "4", "5"],
        "work_start": "09:00",
        "work_end": "18:00",
        "default_sla_hours": "24",
        "escalate_admin_after_minutes": "120",
        "question_price": "0",
        "callback_price": "0",
        "emergency_phone": "",
    }
    for name, (low, high) in readings.DEFAULT_RANGES.items():
        data[f"{name}_low"] = "" if low is None else str(low)
        data[f"{name}_high"] = "" if high is None else str(high)
    data.update(changes)
    return data


def test_the_page_shows_the_defaults_to_an_administrator(consult: Consult, login_client: Login) -> None:
    page = login_client(consult.admin).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="work_start" value="09:00"' in html
    assert 'name="systolic_high" value="140"' in html and 'name="glucose_low" value="3.9"' in html
    assert 'aria-current="page"' in html and URL in html  # its tab in the consultations menu
    assert not ConsultationPolicy.objects.exists()  # looking saves nothing


def test_an_administrator_saves_the_settings_and_they_take_effect(consult: Consult, login_client: Login) -> None:
    client = login_client(consult.admin)
    response = client.post(
        URL,
        _form(
            work_days=["1", "2", "3", "4", "5", "6"],
            work_start="08:30",
            default_sla_hours="12",
            question_price="15.50",
            emergency_phone="00359 2 900 7788",
            systolic_high="135",
            spo2_low="95",
        ),
    )
    assert response.status_code == 302 and response["Location"] == URL
    policy = ConsultationPolicy.objects.get(organisation=consult.clinic.org)
    assert policy.work_days == [1, 2, 3, 4, 5, 6] and policy.work_start == time(8, 30)
    assert policy.default_sla_hours == 12 and policy.question_price == Decimal("15.50")
    assert policy.emergency_phone == "+35929007788"
    ranges = selectors.thresholds_for(consult.clinic.org.pk)
    assert ranges["systolic"] == (Decimal(90), Decimal(135)) and ranges["spo2"] == (Decimal(95), None)
    assert readings.out_of_range({"systolic": 138}, ranges) == ["systolic"]
    # Only what differs from the built-in ranges is stored.
    assert set(ReadingThreshold.objects.values_list("measure", flat=True)) == {"systolic", "spo2"}

    event = AuditEvent.objects.get(action="consultation.policy.changed")
    assert event.before is not None and event.after is not None
    assert event.actor == consult.admin and event.organisation_id == consult.clinic.org.pk
    assert event.before["default_sla_hours"] == 24 and event.after["default_sla_hours"] == 12
    assert event.after["range.systolic"] == ["90", "135"] and event.before["range.systolic"] == ["90", "140"]
    assert "work_end" not in event.after  # unchanged fields are not listed

    # The patient sees the new emergency line in the conversation.
    page = login_client(consult.patient_user).get(f"/my/consultations/{consult.conversation.pk}/")
    assert "+35929007788" in page.content.decode()


def test_back_to_the_default_range_removes_the_clinics_own(consult: Consult) -> None:
    org = consult.clinic.org
    services.policy_update(actor=consult.admin, organisation=org, values={}, ranges={"pulse": (Decimal(40), None)})
    assert ReadingThreshold.objects.filter(organisation=org, measure="pulse").exists()
    default = readings.DEFAULT_RANGES["pulse"]
    services.policy_update(actor=consult.admin, organisation=org, values={}, ranges={"pulse": default})
    assert not ReadingThreshold.objects.filter(organisation=org).exists()
    assert AuditEvent.objects.filter(action="consultation.policy.changed").count() == 2


def test_saving_without_a_change_writes_no_audit_event(consult: Consult, login_client: Login) -> None:
    assert login_client(consult.admin).post(URL, _form()).status_code == 302
    assert not AuditEvent.objects.filter(action="consultation.policy.changed").exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"work_end": "08:00"}, "work_end", "The working day must end after it starts."),
        ({"work_days": []}, "work_days", "Choose at least one working day."),
        ({"systolic_low": "150"}, "systolic_high", "The highest normal value is below the lowest."),
        ({"systolic_high": "900"}, "systolic_high", "less than or equal to 300"),
        ({"default_sla_hours": "0"}, "default_sla_hours", "greater than or equal to 1"),
        ({"question_price": "-5"}, "question_price", "greater than or equal to 0"),
        ({"emergency_phone": "call us"}, "emergency_phone", "Enter a valid phone number"),
        ({"glucose_low": "abc"}, "glucose_low", "Enter a number."),
    ],
)
def test_bad_input_is_explained_and_saves_nothing(
    consult: Consult, login_client: Login, changes: dict[str, Any], field: str, message: str
) -> None:
    response = login_client(consult.admin).post(URL, _form(**changes))
    assert response.status_code == 422
    assert any(message in error for error in response.context["form"].errors[field])
    assert not ConsultationPolicy.objects.exists() and not ReadingThreshold.objects.exists()
    assert not AuditEvent.objects.filter(action="consultation.policy.changed").exists()


def test_errors_come_in_the_users_language(consult: Consult, login_client: Login) -> None:
    consult.admin.language = "bg"
    consult.admin.save(update_fields=["language"])
    client = login_client(consult.admin)
    response = client.post(URL, _form(work_end="08:00"))
    assert response.status_code == 422
    with translation.override("bg"):
        expected = translation.gettext("The working day must end after it starts.")
    assert expected != "The working day must end after it starts."
    assert expected in response.content.decode()


@pytest.mark.parametrize("who", ["doctor_user", "nurse", "patient_user"])
def test_only_administrators_may_see_or_change_them(consult: Consult, login_client: Login, who: str) -> None:
    client = login_client(getattr(consult, who))
    assert client.get(URL).status_code in (302, 403)
    assert client.post(URL, _form(default_sla_hours="1")).status_code in (302, 403)
    assert not ConsultationPolicy.objects.exists()


def test_another_clinics_administrator_changes_only_their_own_clinic(consult: Consult, login_client: Login) -> None:
    assert login_client(consult.outsider).post(URL, _form(default_sla_hours="2")).status_code == 302
    assert selectors.policy_for(consult.clinic.org.pk).default_sla_hours == 24
    assert ConsultationPolicy.objects.get().organisation_id != consult.clinic.org.pk


def test_the_registrar_does_not_see_the_tab_and_the_service_refuses_non_administrators(
    consult: Consult, login_client: Login
) -> None:
    page = login_client(consult.clinic.registrar).get("/consultations/contracts/")
    assert page.status_code == 200 and URL not in page.content.decode()
    with pytest.raises(NotAllowed):
        services.policy_update(actor=consult.clinic.registrar, organisation=consult.clinic.org, values={}, ranges={})
    with pytest.raises(Invalid):
        services.policy_update(
            actor=consult.admin, organisation=consult.clinic.org, values={}, ranges={"height": (None, None)}
        )


def test_a_first_save_that_races_another_first_save_keeps_one_row_and_applies_the_change(consult: Consult) -> None:
    """Two administrators save at once while the clinic has no row yet: the other request's row appears between this
    one's lookup and its insert. The unique organisation must not turn that into an IntegrityError (a 500)."""
    org = consult.clinic.org
    table = ConsultationPolicy._meta.db_table
    raced: list[str] = []

    def other_request_inserts_after_the_lookup(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not raced and sql.lstrip().upper().startswith("SELECT") and f'FROM "{table}"' in sql:
            raced.append(sql)
            ConsultationPolicy.objects.create(organisation=org, default_sla_hours=48)
        return result

    with connection.execute_wrapper(other_request_inserts_after_the_lookup):
        services.policy_update(actor=consult.admin, organisation=org, values={"question_price": Decimal(5)}, ranges={})
    assert raced
    policy = ConsultationPolicy.objects.get()
    assert (policy.organisation_id, policy.question_price, policy.default_sla_hours) == (org.pk, Decimal(5), 48)
    event = AuditEvent.objects.get(action="consultation.policy.changed")
    assert event.before == {"question_price": "0.00"} and event.after == {"question_price": "5"}
