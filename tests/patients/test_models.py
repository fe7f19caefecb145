"""Patient rows: card numbers per clinic, search keys, ages, one primary contact, and the data migration."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from kabinet.core.models import Organisation
from kabinet.patients import importing
from kabinet.patients.models import CardNumberSequence, Patient, PatientPhone, Relationship
from tests.factories import OrganisationFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_card_numbers_count_up_per_organisation(org, other_org) -> None:
    first, second = PatientFactory.create(organisation=org), PatientFactory.create(organisation=org)
    elsewhere = PatientFactory.create(organisation=other_org)
    assert (first.card_number, second.card_number) == ("000001", "000002")
    assert elsewhere.card_number == "000001"
    second.save()
    assert second.card_number == "000002"  # saving again keeps the number


def test_card_number_is_unique_within_an_organisation(org) -> None:
    PatientFactory.create(organisation=org, card_number="A-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory.create(organisation=org, card_number="A-1")
    assert PatientFactory.create(organisation=OrganisationFactory.create(), card_number="A-1").pk


def test_card_numbers_can_be_reserved_in_a_block_for_imports(org) -> None:
    PatientFactory.create(organisation=org)
    assert list(CardNumberSequence.reserve(org.pk, 3)) == [2, 3, 4]
    assert PatientFactory.create(organisation=org).card_number == "000005"


def test_search_text_is_folded_and_transliterated(org) -> None:
    patient = PatientFactory.create(organisation=org, family_name="Ёлкина", given_name="Юлия", middle_name="")
    assert patient.search_text == "елкина юлия elkina yuliya"
    latin = PatientFactory.create(organisation=org, family_name="Müller", given_name="Zoë")
    assert latin.search_text == "muller zoe"
    latin.family_name = "Müller-Lüdenscheidt"
    latin.save(update_fields=["family_name"])
    latin.refresh_from_db()
    assert latin.search_text == "muller ludenscheidt zoe"


@pytest.mark.parametrize(
    ("today", "age"),
    [(date(2024, 4, 11), 35), (date(2024, 4, 12), 36), (date(2025, 1, 1), 36)],
)
def test_age_counts_whole_years(org, today, age) -> None:
    assert Patient(birth_date=date(1988, 4, 12)).age(today) == age
    assert Patient().age(today) is None


def test_a_patient_has_at_most_one_primary_phone(org) -> None:
    patient = PatientFactory.create(organisation=org)
    PatientPhone.objects.create(organisation=org, patient=patient, number="+359888000001", is_primary=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientPhone.objects.create(organisation=org, patient=patient, number="+359888000002", is_primary=True)
    PatientPhone.objects.create(organisation=org, patient=patient, number="+359888000002")


def test_relations_have_an_inverse() -> None:
    assert Relationship.INVERSE[Relationship.Kind.PARENT] == Relationship.Kind.CHILD
    assert Relationship.INVERSE[Relationship.Kind.SPOUSE] == Relationship.Kind.SPOUSE


@pytest.mark.django_db(transaction=True)
def test_data_migration_gives_existing_patients_cards_keys_and_contact_rows() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("patients", "0001_initial")])
    old_apps = executor.loader.project_state([("patients", "0001_initial")]).apps
    # core stays migrated to its latest state (nothing in it depends on patients), so its current model is right.
    organisation = Organisation.objects.create(name="Old", slug="old")
    OldPatient = old_apps.get_model("patients", "Patient")
    kept = OldPatient.objects.create(
        organisation_id=organisation.pk, family_name="Ёлкина", given_name="Юлия", phone="+359888123456", email="j@x.org"
    )
    OldPatient.objects.create(organisation_id=organisation.pk, family_name="Smith", given_name="Jo")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    patient = Patient.objects.get(pk=kept.pk)
    assert patient.card_number == "000001"
    assert patient.search_text == "елкина юлия elkina yuliya"
    assert list(patient.phones.values_list("number", "is_primary")) == [("+359888123456", True)]
    assert list(patient.emails.values_list("address", "is_primary")) == [("j@x.org", True)]
    assert Patient.objects.get(family_name="Smith").card_number == "000002"
    new = Patient.objects.create(organisation_id=organisation.pk, family_name="New", given_name="One")
    assert new.card_number == "000003"  # the sequence continues after the migrated numbers


def _pending_list_limits() -> dict[str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, o.option_value FROM pg_class c"
            " LEFT JOIN pg_options_to_table(c.reloptions) o ON o.option_name = 'gin_pending_list_limit'"
            " WHERE c.relname = ANY(%s)",
            [list(importing.SEARCH_INDEXES)],
        )
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_search_indexes_keep_a_short_pending_list_on_postgresql() -> None:
    """Every search reads a GIN index's pending list from end to end: 256 kB at most instead of 4 MB."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no GIN indexes")
    assert _pending_list_limits() == dict.fromkeys(importing.SEARCH_INDEXES, "256")

    executor = MigrationExecutor(connection)
    executor.migrate([("patients", "0009_search_words_index_postgresql")])
    assert _pending_list_limits() == dict.fromkeys(importing.SEARCH_INDEXES, None)  # reversible: the default
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert _pending_list_limits() == dict.fromkeys(importing.SEARCH_INDEXES, "256")
