"""Search (one box, Cyrillic and Latin, typos, phones in any format), filters, scoping, the card and the timeline,
with a query count that does not grow with the data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kabinet.audit.models import AuditEvent
from kabinet.core import request_context
from kabinet.core.exceptions import NotFound
from kabinet.core.models import Location, Role
from kabinet.patients import filters, selectors, services
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import PatientEmail, PatientPhone, Relationship
from kabinet.patients.searchkeys import edit_distance, fold, match_score, name_key, search_spelling, to_latin
from kabinet.scheduling.models import Appointment, Service
from tests.factories import LocationFactory, PatientFactory, member

pytestmark = pytest.mark.django_db


def search(people, text: str = "", user=None, **criteria) -> list[str]:
    found = selectors.patient_search(
        user=user or people.registrar,
        organisation=people.org,
        criteria=PatientCriteria(query=text, **criteria),
    )
    return [str(p) for p in found]


# --- search keys -------------------------------------------------------------------------------------------------


def test_folding_and_transliteration() -> None:
    assert fold("  Ёлкин-Щукин, Zoë ") == "елкин щукин zoe"
    assert to_latin(fold("Кузнецова Юлия")) == "kuznetsova yuliya"
    assert name_key("Smith", "John") == "smith john"


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("ivanov", "ivanov", 0), ("ivnaov", "ivanov", 1), ("ivonov", "ivanov", 1), ("smirnva", "smirnova", 1)],
)
def test_edit_distance_counts_a_swap_as_one(a, b, distance) -> None:
    assert edit_distance(a, b, 2) == distance


def test_a_query_word_is_looked_for_in_its_latin_spelling() -> None:
    # Every key carries the Latin spelling of the name, so that one spelling finds Cyrillic and Latin names alike.
    assert search_spelling("Ёлкина") == "elkina" and search_spelling("Smith") == "smith"
    assert name_key("Ёлкина").endswith(search_spelling("Ёлкина"))


def test_a_mistyped_whole_word_scores_better_than_a_mistyped_start_of_one() -> None:
    assert match_score("иван", "иванова") == 0  # inside the word
    assert match_score("стеапн", "степан") == 2  # one edit from the whole word
    assert match_score("стеапн", "степанова") == 3  # one edit from its start
    assert match_score("стеапн", "сидоров") is None


# --- the one box -------------------------------------------------------------------------------------------------


def test_names_in_any_case_and_order_cyrillic_and_latin(people) -> None:
    assert search(people, "иванова") == ["Иванова Анна Сергеевна"]
    assert search(people, "анна ИВАН") == ["Иванова Анна Сергеевна"]
    assert search(people, "Ivanov") == ["Иванов Миша", "Иванова Анна Сергеевна"]  # Latin finds Cyrillic
    assert search(people, "Смит") == ["Smith John"]  # and Cyrillic finds Latin
    assert search(people, "petar") == ["Петров Петър"]


def test_accents_do_not_matter(people) -> None:
    PatientFactory.create(organisation=people.org, family_name="Müller", given_name="Zoë")
    assert search(people, "muller zoe") == ["Müller Zoë"]
    assert search(people, "MÜLLER") == ["Müller Zoë"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Ivnaova", ["Иванова Анна Сергеевна"]),  # two letters swapped
        ("Иванвоа", ["Иванова Анна Сергеевна"]),
        ("Smiht", ["Smith John"]),
        ("Smyth John", ["Smith John"]),
        ("Петроф", ["Петров Петър"]),
        ("Pertov", ["Петров Петър"]),
    ],
)
def test_small_typos_are_forgiven(people, typed, expected) -> None:
    assert search(people, typed) == expected


def test_typos_do_not_match_everything(people) -> None:
    assert search(people, "Zhukovskaya") == []
    assert search(people, "Ann") == ["Иванова Анна Сергеевна"]  # short words must match as typed
    assert search(people, "Anx") == []


def test_a_corrected_whole_name_comes_before_longer_names_it_starts(people, monkeypatch) -> None:
    # Many "Степанов…" are one edit from "Стеапн" too (as a start); the "Степан" asked for must not be lost
    # among them (SQLite lists the best FUZZY_RESULTS, PostgreSQL ranks and pages all of them in the database).
    monkeypatch.setattr(selectors, "FUZZY_RESULTS", 3)
    for _ in range(4):
        PatientFactory.create(organisation=people.org, family_name="Степанова", given_name="Десислава")
    PatientFactory.create(organisation=people.org, family_name="Степан", given_name="Десислава")
    found = search(people, "Стеапн Десислава")
    assert found[0] == "Степан Десислава"
    if connection.vendor == "postgresql":
        assert found.count("Степанова Десислава") == 4


def test_exact_matches_win_over_typo_matches(people) -> None:
    PatientFactory.create(organisation=people.org, family_name="Smyth", given_name="Jane")
    assert search(people, "Smyth") == ["Smyth Jane"]


@pytest.mark.parametrize(
    "typed",
    ["888 123", "0888 123 456", "+359 888-123-456", "00359888123456", "(0888) 12"],
)
def test_phone_in_any_format_or_a_fragment(people, typed) -> None:
    assert search(people, typed) == ["Иванова Анна Сергеевна"]


def test_russian_trunk_prefix_and_secondary_phones(people) -> None:
    assert search(people, "8 916 123-45-67") == ["Петров Петър"]
    PatientPhone.objects.create(organisation=people.org, patient=people.john, number="+359877000111")
    assert search(people, "877 000") == ["Smith John"]


def test_email_fragment_and_secondary_emails(people) -> None:
    assert search(people, "anna.ivanova@") == ["Иванова Анна Сергеевна"]
    PatientEmail.objects.create(organisation=people.org, patient=people.john, address="jsmith@work.example")
    assert search(people, "JSmith@Work") == ["Smith John"]


def test_card_number_with_or_without_leading_zeros(people) -> None:
    number = people.john.card_number
    assert search(people, number) == ["Smith John"]
    assert search(people, number.lstrip("0")) == ["Smith John"]


def test_birth_date(people) -> None:
    assert search(people, "12.04.1988") == ["Иванова Анна Сергеевна"]
    assert search(people, "1975-01-30") == ["Smith John"]


def test_name_and_phone_together(people) -> None:
    PatientFactory.create(organisation=people.org, family_name="Иванова", given_name="Мария", phone="+359899000000")
    assert search(people, "иванова 8881") == ["Иванова Анна Сергеевна"]


# --- who sees what -----------------------------------------------------------------------------------------------


def test_staff_see_only_their_clinic(people) -> None:
    assert "Иванова Анна" not in search(people, "Иванова")
    names = [
        str(p) for p in selectors.patient_search(user=people.outsider, organisation=people.other_org, query="Иванова")
    ]
    assert names == ["Иванова Анна"]
    assert search(people, "", user=people.outsider) == []  # not a member of this clinic at all


def test_a_patient_sees_themselves_and_their_wards_only(people) -> None:
    assert search(people, "", user=people.anna_user) == ["Иванов Миша", "Иванова Анна Сергеевна"]
    assert search(people, "Smith", user=people.anna_user) == []


def test_own_patients_are_cached_for_one_request_only(people) -> None:
    """The access checks and selectors of one HTTP request ask once; outside a request (services, tasks, websocket
    consumers holding one user object for hours) a revoked proxy relationship counts at once."""
    link = Relationship.objects.get(patient=people.kid, relative=people.anna)
    expected = {people.anna.pk, people.kid.pk}
    assert selectors.own_patient_ids(people.anna_user) == expected
    ctx = request_context.RequestContext(request_id="r1", ip=None)
    token = request_context.activate(ctx)
    try:
        with CaptureQueriesContext(connection) as first:
            assert selectors.own_patient_ids(people.anna_user) == expected
        with CaptureQueriesContext(connection) as again:
            assert selectors.own_patient_ids(people.anna_user) == expected
    finally:
        request_context.reset(token)
    assert (len(first), len(again)) == (2, 0)
    link.delete()
    assert selectors.own_patient_ids(people.anna_user) == {people.anna.pk}  # no request: looked up again
    token = request_context.activate(request_context.RequestContext(request_id="r1", ip=None))
    try:
        assert selectors.own_patient_ids(people.anna_user) == {people.anna.pk}  # the next request: looked up again
    finally:
        request_context.reset(token)


def test_patient_get_hides_other_clinics_patients(people) -> None:
    with pytest.raises(NotFound):
        selectors.patient_get(user=people.registrar, patient_id=people.stranger.pk, organisation=people.org)
    with pytest.raises(NotFound):
        selectors.patient_get(user=people.anna_user, patient_id=people.john.pk)


def test_only_staff_of_the_clinic_follow_a_patient_live(people) -> None:
    assert selectors.patient_topic_group(people.nurse, people.anna.pk) == f"patient.{people.anna.pk}"
    assert selectors.patient_topic_group(people.outsider, people.anna.pk) is None
    assert selectors.patient_topic_group(people.anna_user, people.anna.pk) is None
    assert selectors.patient_topic_group(people.nurse, 999_999) is None


# --- filters -----------------------------------------------------------------------------------------------------


def test_demographic_and_crm_filters(people) -> None:
    services.patient_status_set(actor=people.registrar, patient=people.petar, status="passive")
    services.patient_tags_set(actor=people.registrar, patient=people.john, names=["dental"])
    services.patient_update(actor=people.registrar, patient=people.anna, changes={"source": "recommendation"})
    tag = people.john.tags.get()
    assert search(people, status="passive") == ["Петров Петър"]
    assert search(people, tag=tag.pk) == ["Smith John"]
    assert search(people, sex="female") == ["Иванова Анна Сергеевна"]
    assert search(people, language="ru") == ["Иванова Анна Сергеевна"]
    assert search(people, source="recommendation") == ["Иванова Анна Сергеевна"]
    assert search(people, "Иван", sex="male") == ["Иванов Миша"]


def test_age_range(people) -> None:
    today = timezone.localdate()
    birthday_today = date(today.year - 30, today.month, min(today.day, 28))
    PatientFactory.create(organisation=people.org, family_name="Thirty", birth_date=birthday_today)
    assert search(people, age_min=30, age_max=30) == ["Thirty Anna"]
    assert "Иванов Миша" in search(people, age_max=17)
    assert "Иванов Миша" not in search(people, age_min=18)


@pytest.fixture
def visits(people):
    """Anna saw Dr Dora for Fillers last month at Sofia; John is booked with another doctor at Plovdiv next week."""
    sofia = LocationFactory.create(organisation=people.org, name="Sofia")
    plovdiv: Location = LocationFactory.create(organisation=people.org, name="Plovdiv")
    dora = people.doctor.memberships.get()
    other = member(people.admin, people.org, Role.DOCTOR)
    fillers = Service.objects.create(organisation=people.org, name="Fillers", duration_minutes=60)
    consultation = Service.objects.create(organisation=people.org, name="Consultation", duration_minutes=30)

    def visit(patient, doctor, location, service, start, status="completed"):
        end = start + timedelta(minutes=30)
        return Appointment.objects.create(
            organisation=people.org,
            location=location,
            practitioner=doctor,
            patient=patient,
            service=service,
            start=start,
            end=end,
            busy_start=start,
            busy_end=end,
            status=status,
        )

    now = timezone.now().replace(microsecond=0)
    visit(people.anna, dora, sofia, fillers, now - timedelta(days=30))
    visit(people.anna, dora, sofia, consultation, now - timedelta(days=3), status="cancelled")
    visit(people.john, other, plovdiv, consultation, now + timedelta(days=7), status="scheduled")
    visit(people.petar, other, plovdiv, fillers, now - timedelta(days=1), status="no_show")
    return {"dora": dora, "other": other, "sofia": sofia, "plovdiv": plovdiv, "fillers": fillers, "now": now}


def test_scheduling_registered_the_visit_filters() -> None:
    assert all(filters.available(name) for name in filters.VISIT_FILTERS)


def test_visit_filters(people, visits) -> None:
    today = timezone.localdate()
    assert search(people, doctor=visits["dora"].pk) == ["Иванова Анна Сергеевна"]
    assert search(people, location=visits["plovdiv"].pk) == ["Smith John"]  # Petar's no-show does not count
    assert search(people, service=visits["fillers"].pk) == ["Иванова Анна Сергеевна"]
    assert search(people, last_visit_from=today - timedelta(days=40), last_visit_to=today - timedelta(days=20)) == [
        "Иванова Анна Сергеевна"
    ]
    assert search(people, last_visit_from=today - timedelta(days=5)) == []  # the cancelled visit is not a visit
    assert search(people, next_visit_from=today, next_visit_to=today + timedelta(days=10)) == ["Smith John"]
    assert search(people, "smith", next_visit_to=today + timedelta(days=3)) == []


# --- bounded queries ---------------------------------------------------------------------------------------------


def _count(callable_) -> int:
    with CaptureQueriesContext(connection) as queries:
        callable_()
    return len(queries)


def test_search_queries_do_not_grow_with_results(people, django_assert_max_num_queries) -> None:
    def page():
        found = selectors.patient_search(user=people.registrar, organisation=people.org, query="")
        return [(p.card_number, [t.name for t in p.tags.all()]) for p in selectors.search_page(found, 1)]

    people.registrar._kabinet_roles = None  # roles are cached per user object: count them in both runs
    small = _count(page)
    for i in range(30):
        patient = PatientFactory.create(organisation=people.org, family_name=f"Many{i}")
        services.patient_tags_set(actor=people.registrar, patient=patient, names=["a", "b"])
    delattr(people.registrar, "_kabinet_roles")
    assert _count(page) == small
    with django_assert_max_num_queries(8):
        page()


def test_typo_search_queries_are_bounded(people, django_assert_max_num_queries) -> None:
    for i in range(40):
        PatientFactory.create(organisation=people.org, family_name=f"Ivanenko{i}")
    # PostgreSQL: one more than SQLite, the dictionary's state (its words are held in memory).
    with django_assert_max_num_queries(9):
        found = list(selectors.patient_search(user=people.registrar, organisation=people.org, query="Ivnaova"))
    assert [str(p) for p in found] == ["Иванова Анна Сергеевна"]


def test_a_word_in_no_name_skips_the_exact_look_up_on_postgresql(people) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps no name-word dictionary")
    # With nothing to find, PostgreSQL would read the whole clinic for `EXISTS (… LIKE …)`; the dictionary says first.
    with CaptureQueriesContext(connection) as captured:
        found = search(people, "Pertov")
    assert found == ["Петров Петър"]
    assert not [q for q in captured.captured_queries if q["sql"].startswith('SELECT 1 AS "a" FROM "patients_patient"')]


# --- the card and the timeline -----------------------------------------------------------------------------------


def test_card_collects_contacts_relatives_and_flags(people) -> None:
    services.patient_update(actor=people.registrar, patient=people.anna, changes={"allergies": "latex", "is_vip": True})
    services.patient_phone_add(actor=people.registrar, patient=people.anna, number="+359 2 981 1234", kind="home")
    card = selectors.patient_card(user=people.registrar, patient_id=people.anna.pk, organisation=people.org)
    assert card.phones == ["+359888123456", "+35929811234"]
    assert card.flags["allergies"] == "latex" and card.flags["vip"] is True
    # No document rules are set up (not checked) and the account owes nothing (no flag).
    assert card.flags["missing_documents"] is None and card.flags["debt"] == ""
    [row] = card.relatives
    assert (row.other, row.kind, row.patient_is_proxy, row.other_is_proxy) == (people.kid, "child", True, False)
    kid_card = selectors.patient_card(user=people.registrar, patient_id=people.kid.pk)
    assert [(r.other, r.kind, r.other_is_proxy) for r in kid_card.relatives] == [(people.anna, "parent", True)]


def test_reading_the_card_or_the_timeline_is_audited(people) -> None:
    selectors.patient_card(user=people.doctor, patient_id=people.john.pk, organisation=people.org)
    list(selectors.timeline(user=people.doctor, patient=people.john))
    events = AuditEvent.objects.filter(action="patient.viewed", patient_id=people.john.pk, actor=people.doctor)
    assert sorted(str((e.after or {}).get("part")) for e in events) == ["card", "timeline"]


def test_the_timeline_is_for_staff_of_the_clinic(people) -> None:
    for user in (people.outsider, people.anna_user):
        with pytest.raises(NotFound):
            selectors.timeline(user=user, patient=people.anna)


def test_timeline_newest_first_and_by_kind(people) -> None:
    services.note_add(actor=people.nurse, patient=people.john, text="Prefers mornings")
    services.timeline_add(
        patient=people.john, kind="payment", title="Paid 60.00", occurred_at=timezone.now() - timedelta(days=400)
    )
    page = selectors.timeline(user=people.nurse, patient=people.john)
    titles = [e.title for e in page]
    assert titles[0] == "Note" and titles[-1] == "Paid 60.00"
    assert [e.title for e in selectors.timeline(user=people.nurse, patient=people.john, kind="payment")] == [
        "Paid 60.00"
    ]


def test_card_and_timeline_queries_do_not_grow_with_history(people) -> None:
    def read() -> None:
        card = selectors.patient_card(user=people.registrar, patient_id=people.anna.pk, organisation=people.org)
        [e.actor for e in selectors.timeline(user=people.registrar, patient=card.patient, audit=False)]

    before = _count(read)
    for i in range(60):
        services.note_add(actor=people.nurse, patient=people.anna, text=f"note {i}")
        services.patient_phone_add(actor=people.registrar, patient=people.anna, number=f"+35988800{i:04d}")
    services.relative_link(actor=people.registrar, patient=people.john, relative=people.anna, kind="spouse")
    assert _count(read) == before


def test_family_reaches_two_steps(people) -> None:
    services.relative_link(actor=people.registrar, patient=people.anna, relative=people.john, kind="spouse")
    assert selectors.family_ids(people.kid) == {people.kid.pk, people.anna.pk, people.john.pk}


def test_last_visit_filter_needs_no_visits_at_all(people) -> None:
    assert search(people, last_visit_from=date(2000, 1, 1)) == []


def test_staff_reading_in_their_clinic_need_no_look_up_of_their_own_records(people) -> None:
    """Staff of the organisation see every patient of it: patients_visible_to asks no own-records query for them
    (a patient, or staff reading without an organisation, still gets theirs)."""
    PatientFactory.create(organisation=people.other_org, user=people.registrar, family_name="Self")
    selectors.patient_get(user=people.registrar, patient_id=people.anna.pk, organisation=people.org)  # roles cached
    with CaptureQueriesContext(connection) as queries:
        found = selectors.patient_get(user=people.registrar, patient_id=people.anna.pk, organisation=people.org)
    assert found == people.anna and len(queries) == 1
    with pytest.raises(NotFound):  # other clinic's patients stay out of reach, the own record there included
        selectors.patient_get(
            user=people.registrar,
            patient_id=PatientFactory.create(organisation=people.other_org).pk,
            organisation=people.org,
        )
    own = selectors.patients_visible_to(people.registrar).filter(family_name="Self")
    assert own.count() == 1  # without an organisation the own records come in
    assert selectors.patient_get(user=people.anna_user, patient_id=people.anna.pk, organisation=people.org)
