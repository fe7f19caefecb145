"""The patient pages: the search list (full page and htmx partial), the card with its tabs, and its forms."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kabinet.audit.models import AuditEvent
from kabinet.patients import services
from kabinet.patients.models import PatientNote, Relationship

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(people, login_client):
    return login_client(people.registrar)


def card_url(patient, **query) -> str:
    url = reverse("patients:card", args=[patient.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_list_page_has_the_search_box_filters_and_the_nav_link(desk, people) -> None:
    html = desk.get(reverse("patients:list")).content.decode()
    assert 'href="/patients/"' in html and 'name="q"' in html
    assert 'name="doctor"' in html and 'name="next_visit_from"' in html  # scheduling registered its filters
    for patient in (people.anna, people.john, people.petar, people.kid):
        assert str(patient) in html
    assert "Иванова Анна" not in html.replace("Иванова Анна Сергеевна", "")  # not the other clinic's patient


def test_htmx_search_returns_only_the_results(desk, people) -> None:
    response = desk.get(reverse("patients:list"), {"q": "888 123"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert "Иванова Анна Сергеевна" in html and "Smith" not in html
    assert "1 patient" in html


def test_empty_states(desk, people, login_client, other_org, make_user) -> None:
    html = desk.get(reverse("patients:list"), {"q": "Nobody-like-this"}).content.decode()
    assert "No patient matches" in html
    empty_clinic_admin = make_user("admin", organisation=other_org)
    people.stranger.delete()
    html = login_client(empty_clinic_admin).get(reverse("patients:list")).content.decode()
    assert "No patients yet" in html


def test_invalid_filters_show_an_error_and_search_without_them(desk, people) -> None:
    response = desk.get(reverse("patients:list"), {"q": "Smith", "age_min": "-3"})
    assert response.status_code == 200
    assert "Smith John" in response.content.decode()


def test_list_pages(desk, people) -> None:
    from tests.factories import PatientFactory

    for i in range(30):
        PatientFactory.create(organisation=people.org, family_name=f"Zeta{i:02d}")
    first = desk.get(reverse("patients:list")).content.decode()
    assert "Page 1 of 2" in first and "page=2" in first
    second = desk.get(reverse("patients:list"), {"page": 2}).content.decode()
    assert "Zeta29" in second


def test_the_card_shows_what_a_registrar_needs(desk, people) -> None:
    services.patient_update(
        actor=people.registrar, patient=people.anna, changes={"allergies": "Lidocaine", "is_vip": True}
    )
    services.patient_tags_set(actor=people.registrar, patient=people.anna, names=["dental"])
    html = desk.get(card_url(people.anna)).content.decode()
    assert "Иванова Анна Сергеевна" in html
    assert people.anna.card_number in html
    assert "years" in html and "+359888123456" in html and "anna.ivanova@example.org" in html
    assert "Lidocaine" in html and "VIP" in html and "dental" in html
    assert "Documents: not checked" in html and "Debt:" not in html and "Balance: not available" not in html
    for tab in ("Timeline", "Relatives", "Notes", "Details"):
        assert f">{tab}" in html
    assert "Иванов Миша" in html  # the relatives tab
    assert "Card created" in html  # the timeline
    assert AuditEvent.objects.filter(action="patient.viewed", patient_id=people.anna.pk, after={"part": "card"})


def test_the_card_is_refused_to_other_clinics_and_patients(people, login_client) -> None:
    assert login_client(people.outsider).get(card_url(people.anna)).status_code == 404  # never says it exists
    assert login_client(people.registrar).get(card_url(people.stranger)).status_code == 404
    assert login_client(people.anna_user).get(card_url(people.anna)).status_code == 403
    assert login_client(people.registrar).get(card_url(people.anna)).status_code == 200


def test_card_query_count_does_not_depend_on_the_timeline(desk, people) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(card_url(people.anna)).status_code == 200
        return len(queries)

    count()  # warm-up: session, caches
    few = count()
    for i in range(40):
        services.note_add(actor=people.nurse, patient=people.anna, text=f"note {i}")
        services.timeline_add(patient=people.anna, kind="sms", title=f"SMS {i}", actor=people.nurse)
    assert count() == few


def test_adding_a_note_shows_it_in_the_notes_and_the_timeline(desk, people) -> None:
    response = desk.post(
        reverse("patients:note_add", args=[people.john.pk]), {"text": "Prefers calls after 17:00", "scope": "patient"}
    )
    assert response.status_code == 302 and response["Location"].endswith("tab=notes")
    note = PatientNote.objects.get(patient=people.john)
    assert note.author == people.registrar
    page = desk.get(response["Location"]).content.decode()
    assert "The note was added." in page and "Prefers calls after 17:00" in page
    timeline = desk.get(reverse("patients:timeline", args=[people.john.pk]), headers={"HX-Request": "true"})
    assert "Prefers calls after 17:00" in timeline.content.decode()


def test_an_empty_note_is_refused_on_the_page(desk, people) -> None:
    response = desk.post(reverse("patients:note_add", args=[people.john.pk]), {"text": " ", "scope": "patient"})
    assert response.status_code == 422
    assert (
        "This field is required." in response.content.decode() or "Write the note first." in response.content.decode()
    )
    assert not PatientNote.objects.exists()


def test_timeline_partial_filters_by_kind_and_is_audited(desk, people) -> None:
    services.note_add(actor=people.nurse, patient=people.john, text="A note")
    html = desk.get(reverse("patients:timeline", args=[people.john.pk]), {"kind": "status"}).content.decode()
    assert "No entries of this kind." in html
    html = desk.get(reverse("patients:timeline", args=[people.john.pk]), {"kind": "note"}).content.decode()
    assert "A note" in html and "Card created" not in html
    assert AuditEvent.objects.filter(action="patient.viewed", patient_id=people.john.pk, after={"part": "timeline"})


def test_details_form_saves_and_shows_phone_errors(desk, people) -> None:
    url = reverse("patients:details", args=[people.john.pk])
    data = {
        "family_name": "Smith",
        "given_name": "John",
        "sex": "male",
        "phone": "12",
        "language": "en",
        "address": "1 High St",
    }
    bad = desk.post(url, data)
    assert bad.status_code == 422
    assert "country code" in bad.content.decode()
    good = desk.post(url, {**data, "phone": "+44 7911 123999", "is_vip": "on"})
    assert good.status_code == 302
    people.john.refresh_from_db()
    assert (people.john.phone, people.john.address, people.john.is_vip) == ("+447911123999", "1 High St", True)


def test_status_tags_and_contacts_forms(desk, people) -> None:
    john = people.john
    refused = desk.post(reverse("patients:status", args=[john.pk]), {"status": "refusal", "reason": ""})
    assert refused.status_code == 422 and "Enter the reason for the refusal." in refused.content.decode()
    assert (
        desk.post(reverse("patients:status", args=[john.pk]), {"status": "refusal", "reason": "Moved"}).status_code
        == 302
    )
    assert desk.post(reverse("patients:tags", args=[john.pk]), {"tags": "dental, VIP"}).status_code == 302
    assert (
        desk.post(
            reverse("patients:phone_add", args=[john.pk]), {"number": "+359 2 981 1234", "kind": "home"}
        ).status_code
        == 302
    )
    assert desk.post(reverse("patients:email_add", args=[john.pk]), {"address": "J@X.ORG"}).status_code == 302
    john.refresh_from_db()
    assert (john.status, john.status_reason, john.email) == ("refusal", "Moved", "j@x.org")
    assert sorted(john.tags.values_list("name", flat=True)) == ["VIP", "dental"]
    home = john.phones.get(kind="home")
    assert desk.post(reverse("patients:phone_remove", args=[john.pk, home.pk])).status_code == 302
    assert not john.phones.filter(kind="home").exists()
    email = john.emails.get()
    assert desk.post(reverse("patients:email_remove", args=[john.pk, email.pk])).status_code == 302
    john.refresh_from_db()
    assert john.email == ""


def test_linking_a_relative_from_the_card(desk, people) -> None:
    candidates = desk.get(
        reverse("patients:relative_candidates", args=[people.john.pk]), {"relative_query": "Петров"}
    ).content.decode()
    assert f'value="{people.petar.pk}"' in candidates and "Smith" not in candidates
    foreign = desk.get(
        reverse("patients:relative_candidates", args=[people.john.pk]), {"relative_query": "888123999"}
    ).content.decode()
    assert "No patient found" in foreign  # another clinic's patient is never offered
    response = desk.post(
        reverse("patients:relative_add", args=[people.john.pk]),
        {"relative": people.petar.pk, "kind": "spouse"},
    )
    assert response.status_code == 302
    link = Relationship.objects.get(patient=people.john)
    assert (link.relative, link.is_proxy) == (people.petar, False)
    stolen = desk.post(
        reverse("patients:relative_add", args=[people.john.pk]), {"relative": people.stranger.pk, "kind": "spouse"}
    )
    assert stolen.status_code == 422 and "Choose the relative from the search results." in stolen.content.decode()
    elsewhere = desk.post(reverse("patients:relative_remove", args=[people.anna.pk, link.pk]))
    assert elsewhere.status_code == 404  # the link is not Anna's to remove
    removed = desk.post(reverse("patients:relative_remove", args=[people.petar.pk, link.pk]))  # from either card
    assert removed.status_code == 302 and not Relationship.objects.filter(pk=link.pk).exists()


def test_nurses_may_not_link_relatives_from_the_card(people, login_client) -> None:
    nurse = login_client(people.nurse)
    assert "Link a relative" not in nurse.get(card_url(people.john, tab="relatives")).content.decode()
    response = nurse.post(
        reverse("patients:relative_add", args=[people.john.pk]), {"relative": people.petar.pk, "kind": "spouse"}
    )
    assert response.status_code == 403
    assert not Relationship.objects.filter(patient=people.john).exists()
