"""Monthly hour norms: planned = shifts − breaks − time off, worked = planned time already past, balance = planned −
norm + carried over, carried month to month (a deficit too); a month without a norm ends the chain. Query counts do
not grow with shifts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import NotAllowed
from kabinet.core.models import Role
from kabinet.scheduling.models import HourNorm, TimeOff
from kabinet.scheduling.selectors import hour_norms, schedule_month
from kabinet.scheduling.services import ShiftPattern, cells_of, hour_norm_set, shifts_apply
from tests.factories import LocationFactory, UserFactory, member

pytestmark = pytest.mark.django_db
SOFIA = ZoneInfo("Europe/Sofia")
# 09:00–14:00 with a 15-minute break: 285 minutes a day.
DAY = ShiftPattern(start_time=time(9), end_time=time(14), breaks=((time(11, 30), time(11, 45)),))
DAY_MINUTES = 285
JAN, FEB, MAR, APR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)
LATER = datetime(2030, 1, 1, tzinfo=SOFIA)  # "now" after every month in these tests


def weekdays(month: date, count: int) -> list[date]:
    days = [month + timedelta(days=i) for i in range(31) if (month + timedelta(days=i)).month == month.month]
    return [d for d in days if d.weekday() < 5][:count]


def plan(clinic, month: date, count: int, doctor=None, location=None) -> list[date]:
    days = weekdays(month, count)
    shifts_apply(
        actor=clinic.registrar,
        location=location or clinic.location,
        cells=cells_of([doctor or clinic.doctor], days),
        pattern=DAY,
    )
    return days


def norm(clinic, month: date, minutes: int, doctor=None) -> None:
    HourNorm.objects.create(
        organisation=clinic.org, practitioner=doctor or clinic.doctor, month=month, norm_minutes=minutes
    )


def summary(clinic, month: date, now: datetime = LATER, doctor=None):
    doctor = doctor or clinic.doctor
    return hour_norms(user=clinic.registrar, organisation=clinic.org, month=month, now=now)[doctor.pk]


def test_a_deficit_carries_into_the_next_month_and_time_off_is_not_planned(clinic) -> None:
    plan(clinic, JAN, 10)  # 2850 planned against 3000: 150 short
    norm(clinic, JAN, 3000)
    feb_days = plan(clinic, FEB, 12)
    norm(clinic, FEB, 3000)
    sick = feb_days[3]
    TimeOff.objects.create(
        organisation=clinic.org,
        practitioner=clinic.doctor,
        kind=TimeOff.Kind.SICK,
        start=datetime.combine(sick, time.min, tzinfo=SOFIA),
        end=datetime.combine(sick + timedelta(days=1), time.min, tzinfo=SOFIA),
    )

    jan, feb = summary(clinic, JAN), summary(clinic, FEB)

    assert (jan.norm_minutes, jan.planned_minutes, jan.worked_minutes) == (3000, 2850, 2850)
    assert (jan.carry_in_minutes, jan.balance_minutes) == (0, -150)
    assert feb.planned_minutes == 11 * DAY_MINUTES == 3135  # the sick day is not working time
    assert feb.carry_in_minutes == -150
    assert feb.balance_minutes == 3135 - 3000 - 150 == -15


def test_a_surplus_carries_too_and_a_month_without_norm_ends_the_chain(clinic) -> None:
    plan(clinic, JAN, 12)  # 3420 against 3000: 420 over
    norm(clinic, JAN, 3000)
    plan(clinic, FEB, 10)  # 2850 against 3000: -150, plus 420 carried
    norm(clinic, FEB, 3000)
    plan(clinic, MAR, 5)  # no norm in March
    plan(clinic, APR, 4)
    norm(clinic, APR, 1000)

    feb, mar, apr = summary(clinic, FEB), summary(clinic, MAR), summary(clinic, APR)

    assert (feb.carry_in_minutes, feb.balance_minutes) == (420, 270)
    assert (mar.norm_minutes, mar.planned_minutes, mar.carry_in_minutes, mar.balance_minutes) == (None, 1425, 270, None)
    assert (apr.carry_in_minutes, apr.balance_minutes) == (0, 4 * DAY_MINUTES - 1000)


def test_worked_is_the_planned_time_already_past(clinic) -> None:
    days = plan(clinic, FEB, 6)
    norm(clinic, FEB, 1000)
    now = datetime.combine(days[3], time(12), tzinfo=SOFIA)  # in the fourth shift, after its break

    feb = summary(clinic, FEB, now=now)

    assert feb.planned_minutes == 6 * DAY_MINUTES
    assert feb.worked_minutes == 3 * DAY_MINUTES + (180 - 15)
    assert summary(clinic, FEB, now=datetime(2024, 12, 1, tzinfo=SOFIA)).worked_minutes == 0


def test_a_shift_counts_in_the_month_of_its_local_day_and_at_every_location(clinic) -> None:
    # 1 March 00:30–02:00 in Sofia is still 28 February in UTC.
    shifts_apply(
        actor=clinic.registrar,
        location=clinic.location,
        cells=[(clinic.doctor, MAR)],
        pattern=ShiftPattern(start_time=time(0, 30), end_time=time(2)),
    )
    moscow = LocationFactory.create(organisation=clinic.org, name="Moscow", time_zone="Europe/Moscow")
    plan(clinic, MAR, 1, location=moscow)  # 09:00–14:00 Moscow time on 3 March

    assert summary(clinic, FEB).planned_minutes == 0
    assert summary(clinic, MAR).planned_minutes == 90 + DAY_MINUTES


def test_queries_do_not_grow_with_shifts_doctors_or_months(clinic, django_assert_max_num_queries) -> None:
    for i in range(6):
        user = UserFactory.create(full_name=f"Dr Extra {i}")
        extra = member(user, clinic.org, Role.DOCTOR)
        plan(clinic, FEB, 15, doctor=extra)
        norm(clinic, JAN, 3000, doctor=extra)
        norm(clinic, FEB, 3000, doctor=extra)
    for month in (JAN, FEB, MAR):
        plan(clinic, month, 20)
        norm(clinic, month, 6000)
    clinic.registrar.__dict__.pop("_kabinet_roles", None)

    with django_assert_max_num_queries(7):  # 2 for the caller's roles (once per request) + 5
        result = hour_norms(user=clinic.registrar, organisation=clinic.org, month=MAR, now=LATER)
    with django_assert_max_num_queries(12):
        grid = schedule_month(
            user=clinic.registrar, organisation=clinic.org, location=clinic.location, month=FEB, now=LATER
        )

    assert len(result) == 8 and result[clinic.doctor.pk].carry_in_minutes == 2 * (20 * DAY_MINUTES - 6000)
    assert sum(len(c.shifts) for row in grid.rows for c in row.cells) == 6 * 15 + 20


def test_only_administrators_set_norms_and_it_is_audited(clinic, admin_user) -> None:
    with pytest.raises(NotAllowed):
        hour_norm_set(actor=clinic.registrar, practitioner=clinic.doctor, month=date(2025, 2, 14), norm_minutes=600)

    hour_norm_set(actor=admin_user, practitioner=clinic.doctor, month=date(2025, 2, 14), norm_minutes=600)
    hour_norm_set(actor=admin_user, practitioner=clinic.doctor, month=FEB, norm_minutes=9000)

    assert HourNorm.objects.get().month == FEB and HourNorm.objects.get().norm_minutes == 9000
    assert AuditEvent.objects.filter(action="hour_norm.set").count() == 2
    hour_norm_set(actor=admin_user, practitioner=clinic.doctor, month=FEB, norm_minutes=None)
    assert not HourNorm.objects.exists()


def test_the_page_and_the_api_show_norm_planned_worked_and_balance(clinic, admin_user, login_client) -> None:
    plan(clinic, JAN, 10)
    norm(clinic, JAN, 3000)
    plan(clinic, FEB, 12)
    client = login_client(admin_user)

    saved = client.post(
        "/calendar/schedule/norm/",
        {"location": clinic.location.pk, "month": "2025-02", "practitioner": clinic.doctor.pk, "hours": "50"},
        headers={"HX-Request": "true"},
    )
    api = client.get("/api/v1/schedule/norms", {"month": "2025-02-10", "practitioner": clinic.doctor.pk}).json()

    html = saved.content.decode()
    assert saved.status_code == 200
    assert 'value="50"' in html  # the norm input
    assert "57:00" in html and "−2:30" in html and "4:30" in html  # planned, carried, balance (3420 − 3000 − 150)
    assert api == [
        {
            "practitioner": clinic.doctor.pk,
            "month": "2025-02-01",
            "norm_minutes": 3000,
            "planned_minutes": 3420,
            "worked_minutes": 3420,
            "carry_in_minutes": -150,
            "balance_minutes": 270,
        }
    ]
