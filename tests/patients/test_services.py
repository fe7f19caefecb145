"""Patient use cases: who may change what, what is audited, what lands in the timeline, and the live update."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.patients import selectors, services
from kabinet.patients.models import Patient, PatientEmail, PatientNote, Relationship, Tag, TimelineEntry
from kabinet.patients.selectors import own_patient_ids, patient_group

pytestmark = pytest.mark.django_db


def _events(action: str, patient: Patient) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, patient_id=patient.pk).order_by("id"))


def test_create_stores_e164_the_primary_contacts_a_card_number_and_a_timeline_entry(people) -> None:
    anna = people.anna
    assert anna.phone == "+359888123456"
    assert anna.email == "anna.ivanova@example.org"
    assert anna.card_number
    assert list(anna.phones.values_list("number", "is_primary")) == [("+359888123456", True)]
    assert list(anna.emails.values_list("address", "is_primary")) == [("anna.ivanova@example.org", True)]
    assert _events("patient.created", anna)
    assert anna.timeline.filter(kind=TimelineEntry.Kind.PROFILE).exists()


def test_update_audits_only_the_changed_fields_before_and_after(people) -> None:
    anna = services.patient_update(
        actor=people.nurse,
        patient=people.anna,
        changes={"address": " ul. Rakovski 1 ", "allergies": "penicillin", "given_name": "Анна"},
    )
    assert (anna.address, anna.allergies) == ("ul. Rakovski 1", "penicillin")
    [event] = _events("patient.updated", anna)
    assert event.before == {"address": "", "allergies": ""}
    assert event.after == {"address": "ul. Rakovski 1", "allergies": "penicillin"}
    entry = anna.timeline.filter(title="Details changed").get()
    assert entry.actor == people.nurse and entry.data == {"fields": ["address", "allergies"]}


def test_update_with_nothing_new_writes_nothing(people) -> None:
    services.patient_update(actor=people.registrar, patient=people.anna, changes={"given_name": "Анна"})
    assert not _events("patient.updated", people.anna)


def test_changing_the_phone_replaces_the_primary_number(people) -> None:
    anna = services.patient_update(actor=people.registrar, patient=people.anna, changes={"phone": "0044 7911 123999"})
    assert anna.phone == "+447911123999"
    assert list(anna.phones.values_list("number", "is_primary")) == [("+447911123999", True)]
    assert anna.search_text  # saved through the model, so derived columns stay right


def test_invalid_phone_and_email_are_refused_and_nothing_changes(people) -> None:
    with pytest.raises(Invalid) as caught:
        services.patient_update(
            actor=people.registrar, patient=people.anna, changes={"phone": "12", "email": "not-an-email"}
        )
    assert set(caught.value.errors) == {"phone", "email"}
    people.anna.refresh_from_db()
    assert people.anna.phone == "+359888123456"


def test_unknown_fields_and_empty_names_are_refused(people) -> None:
    with pytest.raises(Invalid) as caught:
        services.patient_update(actor=people.registrar, patient=people.anna, changes={"organisation": 2})
    assert "organisation" in caught.value.errors
    with pytest.raises(Invalid) as caught:
        services.patient_update(actor=people.registrar, patient=people.anna, changes={"family_name": "  "})
    assert "family_name" in caught.value.errors


def test_staff_of_another_clinic_and_patients_may_not_edit(people) -> None:
    for intruder in (people.outsider, people.anna_user):
        with pytest.raises(NotAllowed):
            services.patient_update(actor=intruder, patient=people.anna, changes={"address": "x"})
        with pytest.raises(NotAllowed):
            services.note_add(actor=intruder, patient=people.anna, text="x")


def test_phones_first_is_primary_duplicates_conflict_and_removing_the_primary_promotes_the_next(people) -> None:
    john = people.john
    home = services.patient_phone_add(actor=people.operator, patient=john, number="+44 20 7946 0958", kind="home")
    assert not home.is_primary
    with pytest.raises(Conflict):
        services.patient_phone_add(actor=people.operator, patient=john, number="+447911123456")
    primary = john.phones.get(is_primary=True)
    services.patient_phone_remove(actor=people.operator, phone=primary)
    john.refresh_from_db()
    assert john.phone == "+442079460958"
    assert list(john.phones.values_list("number", "is_primary")) == [("+442079460958", True)]
    assert _events("patient.phone_added", john) and _events("patient.phone_removed", john)


def test_a_phone_added_as_primary_becomes_the_patients_phone(people) -> None:
    services.patient_phone_add(actor=people.registrar, patient=people.john, number="+359 87 765 4321", primary=True)
    people.john.refresh_from_db()
    assert people.john.phone == "+359877654321"
    assert people.john.phones.filter(is_primary=True).count() == 1


def test_phones_of_patients_created_outside_the_services_are_kept(org, registrar) -> None:
    """Portal sign-up and the demo seed fill only Patient.phone; the first edit brings the rows in line."""
    patient = Patient.objects.create(organisation=org, family_name="A", given_name="B", phone="+359888111222")
    services.patient_phone_add(actor=registrar, patient=patient, number="+359888111333")
    assert dict(patient.phones.values_list("number", "is_primary")) == {"+359888111222": True, "+359888111333": False}


def test_emails_are_lower_case_and_removing_the_primary_promotes_the_next(people) -> None:
    services.patient_email_add(actor=people.registrar, patient=people.anna, address="Work@Example.COM")
    with pytest.raises(Invalid):
        services.patient_email_add(actor=people.registrar, patient=people.anna, address="nope")
    services.patient_email_remove(actor=people.registrar, email=people.anna.emails.get(is_primary=True))
    people.anna.refresh_from_db()
    assert people.anna.email == "work@example.com"
    assert list(PatientEmail.objects.filter(patient=people.anna).values_list("address", flat=True)) == [
        "work@example.com"
    ]


def test_tags_are_replaced_and_reuse_the_organisations_tags_whatever_the_case(people) -> None:
    services.patient_tags_set(actor=people.coordinator, patient=people.anna, names=["VIP programme", "dental"])
    tags = services.patient_tags_set(actor=people.coordinator, patient=people.john, names=["vip PROGRAMME", " "])
    assert [t.name for t in tags] == ["VIP programme"]
    assert Tag.objects.filter(organisation=people.org).count() == 2
    services.patient_tags_set(actor=people.coordinator, patient=people.anna, names=["dental"])
    assert list(people.anna.tags.values_list("name", flat=True)) == ["dental"]
    [_first, second] = _events("patient.tags_set", people.anna)
    assert second.before == {"tags": ["VIP programme", "dental"]} and second.after == {"tags": ["dental"]}


def test_refusal_needs_a_reason_and_lands_in_the_timeline(people) -> None:
    with pytest.raises(Invalid) as caught:
        services.patient_status_set(actor=people.coordinator, patient=people.john, status="refusal")
    assert "reason" in caught.value.errors
    john = services.patient_status_set(
        actor=people.coordinator, patient=people.john, status="refusal", reason="Too expensive"
    )
    assert (john.status, john.status_reason) == ("refusal", "Too expensive")
    assert john.status_changed_at is not None
    entry = john.timeline.get(kind=TimelineEntry.Kind.STATUS)
    assert entry.title == "Status: refusal" and entry.body == "Too expensive"
    [event] = _events("patient.status_changed", john)
    assert event.before == {"status": "active", "status_reason": ""}
    john = services.patient_status_set(actor=people.registrar, patient=john, status="active")
    assert john.status_reason == ""


def test_doctors_and_nurses_do_not_change_the_crm_status(people) -> None:
    for user in (people.doctor, people.nurse):
        with pytest.raises(NotAllowed):
            services.patient_status_set(actor=user, patient=people.john, status="passive")
    with pytest.raises(Invalid):
        services.patient_status_set(actor=people.registrar, patient=people.john, status="gone")


def test_linking_a_proxy_relative_lets_their_portal_account_act_for_the_ward(people) -> None:
    assert people.john.pk not in own_patient_ids(people.anna_user)
    link = services.relative_link(
        actor=people.registrar, patient=people.john, relative=people.anna, kind="parent", is_proxy=True
    )
    assert people.john.pk in own_patient_ids(people.anna_user)
    assert _events("patient.relative_linked", people.john)
    assert people.john.timeline.filter(kind="family").exists() and people.anna.timeline.filter(kind="family").exists()
    with pytest.raises(Conflict):
        services.relative_link(actor=people.registrar, patient=people.john, relative=people.anna, kind="other")
    services.relative_unlink(actor=people.registrar, relationship=link)
    assert people.john.pk not in own_patient_ids(people.anna_user)
    [unlinked] = _events("patient.relative_unlinked", people.john)
    assert unlinked.before == {"relative": people.anna.pk, "kind": "parent", "is_proxy": True}


def test_only_registrars_and_admins_link_relatives_and_only_within_the_clinic(people) -> None:
    for user in (people.nurse, people.doctor, people.operator, people.outsider):
        with pytest.raises(NotAllowed):
            services.relative_link(actor=user, patient=people.john, relative=people.petar, kind="spouse")
    with pytest.raises(Invalid):
        services.relative_link(actor=people.registrar, patient=people.john, relative=people.stranger, kind="spouse")
    with pytest.raises(Invalid):
        services.relative_link(actor=people.admin, patient=people.john, relative=people.john, kind="spouse")
    assert not Relationship.objects.filter(patient=people.john).exists()


def test_family_notes_show_on_every_relatives_card(people) -> None:
    services.note_add(actor=people.doctor, patient=people.kid, text="Family moves to Plovdiv in May", scope="family")
    services.note_add(actor=people.doctor, patient=people.kid, text="Afraid of needles")
    anna_notes = [n.text for n in selectors.patient_card(user=people.registrar, patient_id=people.anna.pk).notes]
    kid_notes = [n.text for n in selectors.patient_card(user=people.registrar, patient_id=people.kid.pk).notes]
    assert anna_notes == ["Family moves to Plovdiv in May"]
    assert kid_notes == ["Afraid of needles", "Family moves to Plovdiv in May"]
    assert people.kid.timeline.filter(kind="note").count() == 2
    with pytest.raises(Invalid):
        services.note_add(actor=people.doctor, patient=people.kid, text="   ")
    assert PatientNote.objects.count() == 2


def test_timeline_add_rejects_unknown_kinds(people) -> None:
    with pytest.raises(ValueError, match="unknown timeline kind"):
        services.timeline_add(patient=people.anna, kind="horoscope", title="x")


@pytest.mark.django_db(transaction=True)
def test_timeline_add_tells_the_patients_topic_after_commit(people) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(patient_group(people.anna.pk), channel)
    entry = services.timeline_add(
        patient=people.anna,
        kind="appointment",
        title="Visit booked: Consultation",
        actor=people.registrar,
        ref_type="scheduling.appointment",
        ref_id=42,
        data={"status": "scheduled"},
    )
    message = async_to_sync(layer.receive)(channel)
    assert message["event"] == "patient.timeline"
    assert message["data"] == {"patient": people.anna.pk, "entry": entry.pk, "kind": "appointment"}
    assert (entry.ref_type, entry.ref_id, entry.organisation_id) == ("scheduling.appointment", "42", people.org.pk)


def test_a_number_without_the_country_code_is_refused_with_a_hint_not_stored(people) -> None:
    with pytest.raises(Invalid) as caught:
        services.patient_phone_add(actor=people.registrar, patient=people.petar, number="(916) 765-43-21")
    assert "country code" in caught.value.errors["number"][0]
    assert people.petar.phones.count() == 1
