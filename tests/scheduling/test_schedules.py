"""Schedule changes on the month grid: templates and custom hours in the location's time zone, breaks, copy and paste
of days and weeks, removal and time off that never strand booked appointments, who may change what, the page and
the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.core.models import Role
from kabinet.scheduling.models import Appointment, Shift, ShiftTemplate, TimeOff
from kabinet.scheduling.services import (
    ScheduleConflict,
    ShiftPattern,
    appointment_book,
    appointment_cancel,
    cells_of,
    shift_delete,
    shifts_apply,
    shifts_apply_template,
    shifts_copy_days,
    shifts_remove,
    time_off_add,
    time_off_add_days,
)
from tests.factories import LocationFactory, UserFactory, member

pytestmark = pytest.mark.django_db
SOFIA = ZoneInfo("Europe/Sofia")
# Around the switch to summer time in the EU (Sunday 28 March 2027): 09:00 in Sofia is 07:00 UTC before, 06:00 after.
BEFORE_DST, AFTER_DST = date(2027, 3, 26), date(2027, 3, 29)


@pytest.fixture
def morning(clinic) -> ShiftTemplate:
    return ShiftTemplate.objects.create(
        organisation=clinic.org, name="Morning", start_time=time(9), end_time=time(14), breaks=[["11:30", "11:45"]]
    )


@pytest.fixture
def fillers(clinic) -> ShiftTemplate:
    template = ShiftTemplate.objects.create(
        organisation=clinic.org, name="Fillers", start_time=time(14), end_time=time(18), colour="#fce7f3"
    )
    template.allowed_services.set([clinic.long_service])
    return template


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SOFIA)


def shifts_of(member_, day: date) -> list[Shift]:
    start = local(day, 0)
    return list(
        Shift.objects.filter(practitioner=member_, start__gte=start, start__lt=start + timedelta(days=1))
        .prefetch_related("breaks", "allowed_services")
        .order_by("start")
    )


def book(clinic, hour: int, minute: int = 0, *, day: date | None = None, practitioner=None, service=None):
    return appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=practitioner or clinic.doctor,
        service=service or clinic.service,
        start=clinic.at(hour, minute, day=day),
        location=clinic.location,
    )


# --- applying templates and custom hours -------------------------------------------------------------------------


def test_template_goes_onto_every_selected_day_and_doctor_in_the_location_time_zone(clinic, morning) -> None:
    days = [BEFORE_DST, AFTER_DST]

    result = shifts_apply_template(
        actor=clinic.registrar,
        location=clinic.location,
        cells=cells_of([clinic.doctor, clinic.other_doctor], days),
        template=morning,
    )

    assert len(result.created) == 4 and result.removed == 0 and result.kept == []
    for doctor in (clinic.doctor, clinic.other_doctor):
        (before,) = shifts_of(doctor, BEFORE_DST)
        (after,) = shifts_of(doctor, AFTER_DST)
        assert before.start.astimezone(UTC).time() == time(7)  # 09:00 at UTC+2
        assert after.start.astimezone(UTC).time() == time(6)  # 09:00 at UTC+3
        assert (before.end, after.end) == (local(BEFORE_DST, 14), local(AFTER_DST, 14))
        assert [(b.start, b.end) for b in after.breaks.all()] == [(local(AFTER_DST, 11, 30), local(AFTER_DST, 11, 45))]
        assert after.template_id == morning.pk
    assert AuditEvent.objects.filter(action="shift.created", actor=clinic.registrar).count() == 4


def test_a_template_limited_to_some_services_limits_the_shifts(clinic, fillers) -> None:
    shifts_apply_template(
        actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, AFTER_DST)], template=fillers
    )

    (shift,) = shifts_of(clinic.doctor, AFTER_DST)
    assert [s.pk for s in shift.allowed_services.all()] == [clinic.long_service.pk]


def test_custom_hours_take_five_minute_steps_and_several_breaks(clinic) -> None:
    pattern = ShiftPattern(
        start_time=time(8, 5),
        end_time=time(16, 55),
        breaks=((time(10), time(10, 20)), (time(13, 30), time(14, 5))),
    )

    shifts_apply(actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, AFTER_DST)], pattern=pattern)

    (shift,) = shifts_of(clinic.doctor, AFTER_DST)
    assert (shift.start, shift.end) == (local(AFTER_DST, 8, 5), local(AFTER_DST, 16, 55))
    assert [(b.start, b.end) for b in shift.breaks.all()] == [
        (local(AFTER_DST, 10), local(AFTER_DST, 10, 20)),
        (local(AFTER_DST, 13, 30), local(AFTER_DST, 14, 5)),
    ]


@pytest.mark.parametrize(
    ("pattern", "code"),
    [
        (ShiftPattern(start_time=time(8, 7), end_time=time(12)), "five_minutes"),
        (ShiftPattern(start_time=time(9), end_time=time(12), breaks=((time(11, 50), time(12, 10)),)), "bad_break"),
        (
            ShiftPattern(
                start_time=time(9), end_time=time(15), breaks=((time(11), time(12)), (time(11, 30), time(13)))
            ),
            "bad_break",
        ),
        (ShiftPattern(start_time=time(12), end_time=time(9)), "validation_error"),
    ],
)
def test_impossible_hours_are_refused_saying_what_to_fix(clinic, pattern, code) -> None:
    with pytest.raises(Invalid) as info:
        shifts_apply(
            actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, AFTER_DST)], pattern=pattern
        )
    assert info.value.code == code
    assert not shifts_of(clinic.doctor, AFTER_DST)


def test_applying_replaces_the_days_shifts_and_repeating_it_changes_nothing(clinic, morning, fillers) -> None:
    cells = cells_of([clinic.doctor], [AFTER_DST, AFTER_DST + timedelta(days=1)])
    shifts_apply_template(actor=clinic.registrar, location=clinic.location, cells=cells, template=morning)

    again = shifts_apply_template(actor=clinic.registrar, location=clinic.location, cells=cells, template=morning)
    replaced = shifts_apply_template(actor=clinic.registrar, location=clinic.location, cells=cells, template=fillers)

    assert (len(again.created), again.removed) == (0, 0)
    assert (len(replaced.created), replaced.removed) == (2, 2)
    assert [s.template_id for s in shifts_of(clinic.doctor, AFTER_DST)] == [fillers.pk]


def test_a_shift_overlapping_one_at_another_location_is_refused(clinic, morning) -> None:
    other = LocationFactory.create(organisation=clinic.org, name="Plovdiv", time_zone="Europe/Sofia")
    shifts_apply_template(actor=clinic.registrar, location=other, cells=[(clinic.doctor, AFTER_DST)], template=morning)

    with pytest.raises(Invalid) as info:
        shifts_apply_template(
            actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, AFTER_DST)], template=morning
        )

    assert info.value.code == "shift_overlap" and "Plovdiv" in str(info.value.message)


# --- copy and paste -----------------------------------------------------------------------------------------------


def test_a_copied_day_goes_onto_every_selected_day_with_its_breaks(clinic) -> None:
    targets = [clinic.day + timedelta(days=7), clinic.day + timedelta(days=8)]

    result = shifts_copy_days(
        actor=clinic.registrar,
        location=clinic.location,
        source_days=[clinic.day],
        cells=cells_of([clinic.doctor], targets),
    )

    assert len(result.created) == 2
    for day in targets:
        (shift,) = shifts_of(clinic.doctor, day)
        assert (shift.start, shift.end) == (clinic.at(9, day=day), clinic.at(14, day=day))
        assert [(b.start, b.end) for b in shift.breaks.all()] == [
            (clinic.at(11, 30, day=day), clinic.at(11, 45, day=day))
        ]


def test_a_copied_week_goes_weekday_onto_weekday_and_pasting_an_empty_day_clears_it(clinic, morning, fillers) -> None:
    monday = date(2027, 4, 5)
    week = [monday + timedelta(days=i) for i in range(7)]
    next_monday = monday + timedelta(days=7)
    apply = shifts_apply_template
    apply(actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, monday)], template=morning)
    apply(actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, week[1])], template=fillers)
    # Next Wednesday has a shift, this Wednesday has none: pasting the week clears it.
    apply(
        actor=clinic.registrar,
        location=clinic.location,
        cells=[(clinic.doctor, next_monday + timedelta(days=2))],
        template=morning,
    )

    shifts_copy_days(
        actor=clinic.registrar,
        location=clinic.location,
        source_days=week,
        cells=cells_of([clinic.doctor], [next_monday + timedelta(days=i) for i in range(14)]),
    )

    for offset in (0, 7):
        assert [s.template_id for s in shifts_of(clinic.doctor, next_monday + timedelta(days=offset))] == [morning.pk]
        assert [s.template_id for s in shifts_of(clinic.doctor, next_monday + timedelta(days=offset + 1))] == [
            fillers.pk
        ]
        assert shifts_of(clinic.doctor, next_monday + timedelta(days=offset + 2)) == []


def test_one_doctors_day_can_be_pasted_onto_other_doctors(clinic) -> None:
    target = clinic.day + timedelta(days=1)

    shifts_copy_days(
        actor=clinic.registrar,
        location=clinic.location,
        source_days=[clinic.day],
        source_practitioner=clinic.doctor,
        cells=[(clinic.other_doctor, target)],
    )

    (shift,) = shifts_of(clinic.other_doctor, target)
    assert (shift.start, shift.end) == (clinic.at(9, day=target), clinic.at(14, day=target))


def test_copying_more_than_a_week_is_refused(clinic) -> None:
    with pytest.raises(Invalid) as info:
        shifts_copy_days(
            actor=clinic.registrar,
            location=clinic.location,
            source_days=[clinic.day, clinic.day + timedelta(days=7)],
            cells=[(clinic.doctor, clinic.day + timedelta(days=14))],
        )
    assert info.value.code == "copy_too_long"


# --- booked appointments are never stranded -----------------------------------------------------------------------


def test_removing_a_shift_with_booked_visits_is_refused_listing_them(clinic) -> None:
    visit = book(clinic, 10)

    with pytest.raises(ScheduleConflict) as info:
        shifts_remove(actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, clinic.day)])

    assert info.value.appointments == [visit]
    assert info.value.status == 409 and info.value.code == "appointments_outside_working_time"
    (line,) = info.value.errors["appointments"]
    assert "10:00–10:30" in line and "Petya" in line and "Consultation" in line
    assert shifts_of(clinic.doctor, clinic.day) != []
    assert not AuditEvent.objects.filter(action="shift.deleted").exists()


def test_keeping_the_days_with_visits_changes_only_the_others(clinic) -> None:
    visit = book(clinic, 10)

    result = shifts_remove(
        actor=clinic.registrar,
        location=clinic.location,
        cells=cells_of([clinic.doctor, clinic.other_doctor], [clinic.day]),
        on_conflict="keep",
    )

    assert result.kept == [(clinic.doctor.pk, clinic.day)] and result.kept_appointments == [visit]
    assert result.removed == 1
    assert len(shifts_of(clinic.doctor, clinic.day)) == 1
    assert shifts_of(clinic.other_doctor, clinic.day) == []


@pytest.mark.parametrize(
    "pattern",
    [
        ShiftPattern(start_time=time(9), end_time=time(13)),  # the shift now ends before the visit
        ShiftPattern(start_time=time(9), end_time=time(14), breaks=((time(13), time(13, 15)),)),  # a break on it
        ShiftPattern(start_time=time(13, 15), end_time=time(18)),  # starts after it
    ],
)
def test_shortening_a_shift_or_moving_a_break_onto_a_visit_is_refused(clinic, pattern) -> None:
    visit = book(clinic, 13)

    with pytest.raises(ScheduleConflict) as info:
        shifts_apply(
            actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, clinic.day)], pattern=pattern
        )

    assert info.value.appointments == [visit]
    (shift,) = shifts_of(clinic.doctor, clinic.day)
    assert shift.end == clinic.at(14)


def test_widening_a_shift_around_visits_is_fine_and_cancelled_visits_do_not_block(clinic) -> None:
    visit = book(clinic, 13)
    shifts_apply(
        actor=clinic.registrar,
        location=clinic.location,
        cells=[(clinic.doctor, clinic.day)],
        pattern=ShiftPattern(start_time=time(8), end_time=time(15)),
    )
    appointment_cancel(actor=clinic.registrar, appointment=visit, reason_id=clinic.cancel_reason.pk)

    shifts_remove(actor=clinic.registrar, location=clinic.location, cells=[(clinic.doctor, clinic.day)])

    assert shifts_of(clinic.doctor, clinic.day) == []
    assert AuditEvent.objects.filter(action="shift.deleted").count() == 2


def test_deleting_one_shift_is_refused_while_a_visit_is_in_it(clinic) -> None:
    visit = book(clinic, 9, 30)

    with pytest.raises(ScheduleConflict) as info:
        shift_delete(actor=clinic.registrar, shift=clinic.shift)
    assert info.value.appointments == [visit]

    appointment_cancel(actor=clinic.registrar, appointment=visit, reason_id=clinic.cancel_reason.pk)
    shift_delete(actor=clinic.registrar, shift=clinic.shift)
    assert not Shift.objects.filter(pk=clinic.shift.pk).exists()


def test_time_off_over_booked_visits_is_refused_listing_them(clinic) -> None:
    visit = book(clinic, 10)

    with pytest.raises(ScheduleConflict) as info:
        time_off_add_days(
            actor=clinic.registrar,
            location=clinic.location,
            cells=cells_of([clinic.doctor, clinic.other_doctor], [clinic.day]),
            kind=TimeOff.Kind.SICK,
        )
    with pytest.raises(ScheduleConflict):
        time_off_add(actor=clinic.registrar, practitioner=clinic.doctor, start=clinic.at(9), end=clinic.at(12))

    assert info.value.appointments == [visit]
    assert not TimeOff.objects.exists()  # all or nothing: not even the other doctor's day


def test_time_off_covers_whole_local_days_one_row_per_run(clinic) -> None:
    days = [clinic.day, clinic.day + timedelta(days=1), clinic.day + timedelta(days=3)]

    created = time_off_add_days(
        actor=clinic.registrar, location=clinic.location, cells=cells_of([clinic.doctor], days), kind=TimeOff.Kind.SICK
    )
    again = time_off_add_days(
        actor=clinic.registrar, location=clinic.location, cells=cells_of([clinic.doctor], days[:1])
    )

    assert [(t.start, t.end) for t in created] == [
        (clinic.at(0), clinic.at(0, day=clinic.day + timedelta(days=2))),
        (clinic.at(0, day=days[2]), clinic.at(0, day=days[2] + timedelta(days=1))),
    ]
    assert again == []  # days already off are skipped
    assert AuditEvent.objects.filter(action="time_off.created").count() == 2


# --- who may change schedules -------------------------------------------------------------------------------------


@pytest.fixture
def actors(clinic, admin_user, outsider):
    return {
        "registrar": clinic.registrar,
        "admin": admin_user,
        "doctor": clinic.doctor_user,
        "operator": clinic.operator,
        "patient": clinic.patient_user,
        "outsider": outsider,
    }


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("registrar", True),
        ("admin", True),
        ("doctor", False),
        ("operator", False),
        ("patient", False),
        ("outsider", False),
    ],
)
def test_only_administrators_and_registrars_change_schedules(clinic, morning, actors, who, allowed) -> None:
    actor = actors[who]
    cell = [(clinic.doctor, AFTER_DST)]
    changes = [
        lambda: shifts_apply_template(actor=actor, location=clinic.location, cells=cell, template=morning),
        lambda: shifts_remove(actor=actor, location=clinic.location, cells=[(clinic.other_doctor, clinic.day)]),
        lambda: shifts_copy_days(actor=actor, location=clinic.location, source_days=[clinic.day], cells=cell),
        lambda: time_off_add_days(actor=actor, location=clinic.location, cells=[(clinic.doctor, BEFORE_DST)]),
        lambda: shift_delete(actor=actor, shift=clinic.shift),
    ]
    for change in changes:
        if allowed:
            change()
        else:
            with pytest.raises(NotAllowed):
                change()
    if not allowed:
        assert Shift.objects.count() == 2 and not TimeOff.objects.exists()


# --- the page -----------------------------------------------------------------------------------------------------

HTMX = {"HX-Request": "true"}


def _grid_post(client, clinic, url: str, **data):
    body = {"location": clinic.location.pk, "month": f"{clinic.day:%Y-%m}", **data}
    return client.post(url, body, headers=HTMX)


def test_doctors_see_the_grid_without_the_tools(clinic, login_client) -> None:
    response = login_client(clinic.doctor_user).get(
        "/calendar/schedule/", {"location": clinic.location.pk, "month": f"{clinic.day:%Y-%m}"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="schedule-grid"' in html and "Dr Dana" in html and "Dr Boris" in html
    assert 'id="schedule-actions"' not in html
    assert f'data-day="{clinic.day:%Y-%m-%d}"' in html


def test_registrar_applies_a_template_from_the_page(clinic, morning, login_client) -> None:
    client = login_client(clinic.registrar)
    target = clinic.day + timedelta(days=1)
    page = client.get("/calendar/schedule/", {"location": clinic.location.pk, "month": f"{target:%Y-%m}"})
    assert 'id="schedule-actions"' in page.content.decode()

    response = _grid_post(
        client,
        clinic,
        "/calendar/schedule/apply/",
        month=f"{target:%Y-%m}",
        cells=f"{clinic.doctor.pk}:{target},{clinic.other_doctor.pk}:{target}",
        template=morning.pk,
    )

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="schedule-grid"')
    assert len(shifts_of(clinic.doctor, target)) == len(shifts_of(clinic.other_doctor, target)) == 1


def test_custom_hours_from_the_page_with_a_break(clinic, login_client) -> None:
    target = clinic.day + timedelta(days=1)
    response = _grid_post(
        login_client(clinic.registrar),
        clinic,
        "/calendar/schedule/apply/",
        cells=f"{clinic.doctor.pk}:{target}",
        template="",
        start_time="10:05",
        end_time="15:00",
        break_start="12:00",
        break_end="12:30",
    )

    assert response.status_code == 200
    (shift,) = shifts_of(clinic.doctor, target)
    assert (shift.start, shift.end) == (clinic.at(10, 5, day=target), clinic.at(15, day=target))
    assert [(b.start, b.end) for b in shift.breaks.all()] == [
        (clinic.at(12, day=target), clinic.at(12, 30, day=target))
    ]


def test_the_page_lists_the_visits_a_removal_would_strand_and_offers_to_keep_them(clinic, login_client) -> None:
    book(clinic, 10)
    client = login_client(clinic.registrar)
    cells = f"{clinic.doctor.pk}:{clinic.day},{clinic.other_doctor.pk}:{clinic.day}"

    response = _grid_post(client, clinic, "/calendar/schedule/remove/", cells=cells)

    html = response.content.decode()
    assert response.status_code == 200 and "schedule-conflict" in html
    assert "Patient Petya" in html or "Petya Patient" in html
    assert "Consultation" in html and "10:00" in html
    assert 'name="on_conflict" value="keep"' in html
    assert Shift.objects.count() == 2

    kept = _grid_post(client, clinic, "/calendar/schedule/remove/", cells=cells, on_conflict="keep")
    assert kept.status_code == 200 and "kept" in kept.content.decode()
    assert len(shifts_of(clinic.doctor, clinic.day)) == 1 and shifts_of(clinic.other_doctor, clinic.day) == []


def test_paste_and_time_off_from_the_page(clinic, login_client) -> None:
    client = login_client(clinic.registrar)
    target = clinic.day + timedelta(days=1)
    pasted = _grid_post(
        client,
        clinic,
        "/calendar/schedule/paste/",
        cells=f"{clinic.other_doctor.pk}:{target}",
        source_days=f"{clinic.day}",
        source_practitioner=clinic.doctor.pk,
    )
    off = _grid_post(
        client,
        clinic,
        "/calendar/schedule/time-off/",
        cells=f"{clinic.doctor.pk}:{target + timedelta(days=1)}",
        kind="vacation",
    )

    assert pasted.status_code == off.status_code == 200
    (shift,) = shifts_of(clinic.other_doctor, target)
    assert shift.end == clinic.at(14, day=target)
    assert TimeOff.objects.get().start == clinic.at(0, day=target + timedelta(days=1))
    assert "Vac." in off.content.decode()


@pytest.mark.parametrize("who", ["doctor", "operator"])
def test_staff_who_only_view_are_refused_changes_on_the_page(clinic, morning, actors, who, login_client) -> None:
    response = _grid_post(
        login_client(actors[who]),
        clinic,
        "/calendar/schedule/apply/",
        cells=f"{clinic.doctor.pk}:{AFTER_DST}",
        template=morning.pk,
    )
    assert response.status_code == 403
    assert shifts_of(clinic.doctor, AFTER_DST) == []


def test_another_clinics_admin_gets_nothing_from_the_page(clinic, morning, outsider, login_client) -> None:
    client = login_client(outsider)
    page = client.get("/calendar/schedule/", {"location": clinic.location.pk})
    response = _grid_post(client, clinic, "/calendar/schedule/remove/", cells=f"{clinic.doctor.pk}:{clinic.day}")

    assert "Dr Dana" not in page.content.decode()
    assert "Dr Dana" not in response.content.decode()
    assert Shift.objects.count() == 2


# --- the API ------------------------------------------------------------------------------------------------------


def _json(client, method: str, path: str, body=None):
    return getattr(client, method)(path, body, content_type="application/json")


def test_api_applies_a_template_to_days_and_doctors(clinic, morning, login_client) -> None:
    response = _json(
        login_client(clinic.registrar),
        "post",
        "/api/v1/schedule/shifts",
        {
            "location": clinic.location.pk,
            "practitioners": [clinic.doctor.pk, clinic.other_doctor.pk],
            "days": [str(BEFORE_DST), str(AFTER_DST)],
            "template": morning.pk,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["created"]) == 4 and body["removed"] == 0 and body["kept"] == []
    starts = {datetime.fromisoformat(s["start"]) for s in body["created"]}
    assert starts == {local(BEFORE_DST, 9), local(AFTER_DST, 9)}
    assert all(len(s["breaks"]) == 1 for s in body["created"])


def test_api_custom_hours_and_the_409_problem_listing_visits(clinic, login_client) -> None:
    visit = book(clinic, 13)
    client = login_client(clinic.registrar)

    refused = _json(
        client,
        "post",
        "/api/v1/schedule/shifts",
        {
            "location": clinic.location.pk,
            "practitioners": [clinic.doctor.pk],
            "days": [str(clinic.day)],
            "start_time": "08:00",
            "end_time": "12:00",
            "breaks": [["10:00", "10:15"]],
        },
    )
    deleted = client.delete(f"/api/v1/schedule/shifts/{clinic.shift.pk}")

    for response in (refused, deleted):
        assert response.status_code == 409
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "appointments_outside_working_time"
        assert [a["id"] for a in problem["appointments"]] == [visit.pk]
        assert problem["appointments"][0]["service_name"] == "Consultation"
    assert Shift.objects.filter(pk=clinic.shift.pk).exists()


def test_api_deletes_a_free_shift_and_adds_time_off(clinic, login_client) -> None:
    client = login_client(clinic.registrar)
    other_shift = shifts_of(clinic.other_doctor, clinic.day)[0]

    deleted = client.delete(f"/api/v1/schedule/shifts/{other_shift.pk}")
    off = _json(
        client,
        "post",
        "/api/v1/schedule/time-off",
        {
            "practitioner": clinic.other_doctor.pk,
            "start": clinic.at(0).isoformat(),
            "end": clinic.at(0, day=clinic.day + timedelta(days=2)).isoformat(),
            "kind": "sick",
        },
    )

    assert deleted.status_code == 204
    assert off.status_code == 201 and off.json()["kind"] == "sick"
    assert TimeOff.objects.get().practitioner == clinic.other_doctor


def test_api_time_off_over_a_visit_is_a_409(clinic, login_client) -> None:
    book(clinic, 10)
    response = _json(
        login_client(clinic.registrar),
        "post",
        "/api/v1/schedule/time-off",
        {
            "practitioner": clinic.doctor.pk,
            "start": clinic.at(0).isoformat(),
            "end": clinic.at(23).isoformat(),
        },
    )
    assert response.status_code == 409 and response.json()["appointments"][0]["patient_name"]
    assert not TimeOff.objects.exists()


def test_api_doctor_may_read_norms_but_not_change_shifts(clinic, morning, login_client) -> None:
    client = login_client(clinic.doctor_user)

    norms = client.get("/api/v1/schedule/norms", {"month": str(clinic.day)})
    change = _json(
        client,
        "post",
        "/api/v1/schedule/shifts",
        {
            "location": clinic.location.pk,
            "practitioners": [clinic.doctor.pk],
            "days": [str(AFTER_DST)],
            "template": morning.pk,
        },
    )
    delete = client.delete(f"/api/v1/schedule/shifts/{clinic.shift.pk}")

    assert norms.status_code == 200 and {n["practitioner"] for n in norms.json()} == {
        clinic.doctor.pk,
        clinic.other_doctor.pk,
    }
    assert change.status_code == delete.status_code == 403


def test_api_another_clinics_admin_gets_nothing(clinic, morning, outsider, login_client) -> None:
    client = login_client(outsider)

    change = _json(
        client,
        "post",
        "/api/v1/schedule/shifts",
        {
            "location": clinic.location.pk,
            "practitioners": [clinic.doctor.pk],
            "days": [str(AFTER_DST)],
            "template": morning.pk,
        },
    )
    delete = client.delete(f"/api/v1/schedule/shifts/{clinic.shift.pk}")
    off = _json(
        client,
        "post",
        "/api/v1/schedule/time-off",
        {
            "practitioner": clinic.doctor.pk,
            "start": clinic.at(0).isoformat(),
            "end": clinic.at(23).isoformat(),
        },
    )
    norms = client.get("/api/v1/schedule/norms", {"month": str(clinic.day), "practitioner": clinic.doctor.pk})
    own_norms = client.get("/api/v1/schedule/norms", {"month": str(clinic.day)})

    assert change.status_code == 422 and delete.status_code == 404
    assert off.status_code == 422 and norms.status_code == 422
    assert own_norms.status_code == 200 and own_norms.json() == []
    assert Shift.objects.count() == 2 and not TimeOff.objects.exists()


def test_a_new_doctor_without_shifts_appears_on_the_grid(clinic, login_client) -> None:
    user = UserFactory.create(full_name="Dr Vera")
    member(user, clinic.org, Role.DOCTOR)
    html = login_client(clinic.registrar).get("/calendar/schedule/").content.decode()
    assert "Dr Vera" in html
    assert Appointment.objects.count() == 0
