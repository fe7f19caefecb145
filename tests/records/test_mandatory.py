"""Mandatory documents: rules per clinic, location and service with a validity period; the card's checklist and
flag; the list of patients with visits in the next days who miss something."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kabinet.records import selectors, services
from kabinet.records.models import Document, DocumentKind, MandatoryRule
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_book, appointment_cancel
from tests.factories import LocationFactory, PatientFactory
from tests.records import corpus

pytestmark = pytest.mark.django_db


def _book(rec, patient, *, hour=10, service=None):
    return appointment_book(
        actor=rec.registrar,
        patient=patient,
        practitioner=rec.doctor_member,
        service=service or rec.clinic.service,
        start=rec.clinic.at(hour),
        location=rec.clinic.location,
    )


def _consent(rec, patient, days_ago=0, template=None):
    document = services.document_upload(
        actor=rec.registrar,
        patient=patient,
        kind=DocumentKind.INFORMED_CONSENT,
        title="Signed consent",
        upload=corpus.pdf(),
        document_date=timezone.localdate() - timedelta(days=days_ago),
        template=template,
    )
    return document


def _states(patient) -> dict[str, tuple[str, bool]]:
    if hasattr(patient, "_records_consents"):
        del patient._records_consents
    return {c.rule.name: (c.state, c.required) for c in selectors.consent_checks(patient=patient)}


def test_without_rules_nothing_is_checked(rec) -> None:
    assert selectors.consent_checks(patient=rec.patient) == []
    assert selectors.missing_count(rec.patient) is None


def test_a_general_rule_is_missing_then_valid_then_expired(rec, gdpr_rule) -> None:
    assert _states(rec.patient) == {"GDPR consent": ("missing", True)}
    document = _consent(rec, rec.patient, days_ago=10)
    assert _states(rec.patient) == {"GDPR consent": ("valid", True)}
    check = selectors.consent_checks(patient=rec.patient, on=timezone.localdate())[0]
    assert check.document == document and check.valid_until == document.document_date + timedelta(days=364)
    Document.objects.filter(pk=document.pk).update(document_date=timezone.localdate() - timedelta(days=400))
    assert _states(rec.patient) == {"GDPR consent": ("expired", True)}
    gdpr_rule.validity_days = None  # forever
    gdpr_rule.save()
    assert _states(rec.patient) == {"GDPR consent": ("valid", True)}


def test_erroneous_and_deleted_documents_do_not_count(rec, gdpr_rule) -> None:
    document = _consent(rec, rec.patient)
    services.document_mark_erroneous(actor=rec.admin, document=document, reason="wrong patient")
    assert _states(rec.patient) == {"GDPR consent": ("missing", True)}


def test_a_rule_naming_a_template_needs_that_template(rec) -> None:
    MandatoryRule.objects.create(
        organisation=rec.org, name="Fillers consent", kind=DocumentKind.INFORMED_CONSENT, template=rec.consent
    )
    _consent(rec, rec.patient)  # a consent, but not a printout of this template
    assert _states(rec.patient)["Fillers consent"][0] == "missing"
    _consent(rec, rec.patient, template=rec.consent)  # a signed printout of the template
    assert _states(rec.patient)["Fillers consent"][0] == "valid"


def test_service_and_location_rules_apply_only_with_a_matching_visit(rec) -> None:
    fillers = MandatoryRule.objects.create(
        organisation=rec.org,
        name="Fillers consent",
        kind=DocumentKind.INFORMED_CONSENT,
        service_id=rec.clinic.long_service.pk,
    )
    elsewhere = LocationFactory.create(organisation=rec.org, name="Plovdiv")
    MandatoryRule.objects.create(
        organisation=rec.org, name="Plovdiv contract", kind=DocumentKind.CONTRACT, location=elsewhere
    )
    assert _states(rec.patient) == {"Fillers consent": ("missing", False), "Plovdiv contract": ("missing", False)}
    assert selectors.missing_count(rec.patient) == 0
    appointment = _book(rec, rec.patient, service=rec.clinic.long_service)
    rec.patient.refresh_from_db()
    assert _states(rec.patient)["Fillers consent"] == ("missing", True)
    assert selectors.missing_count(rec.patient) == 1
    checks = selectors.consent_checks(patient=rec.patient)
    assert [v.service_id for v in next(c for c in checks if c.rule == fillers).visits] == [rec.clinic.long_service.pk]
    appointment_cancel(actor=rec.registrar, appointment=appointment, reason_id=rec.clinic.cancel_reason.pk)
    assert _states(rec.patient)["Fillers consent"] == ("missing", False)


def test_the_missing_list_shows_patients_with_visits_in_the_next_days_who_lack_something(rec, gdpr_rule) -> None:
    fillers = MandatoryRule.objects.create(
        organisation=rec.org, name="Fillers consent", kind=DocumentKind.CONTRACT, service_id=rec.clinic.long_service.pk
    )
    complete = PatientFactory.create(organisation=rec.org, family_name="Complete")
    _consent(rec, complete)
    expiring = PatientFactory.create(organisation=rec.org, family_name="Expiring")
    _consent(rec, expiring, days_ago=364)  # valid today, expired on the day of the visit
    nobody = PatientFactory.create(organisation=rec.org, family_name="Nothing")
    _book(rec, rec.patient, hour=9, service=rec.clinic.long_service)
    _book(rec, complete, hour=11)
    _book(rec, expiring, hour=12)
    _book(rec, nobody, hour=13)
    rows = selectors.missing_documents(user=rec.registrar, organisation=rec.org)
    assert [(r.patient.family_name, [c.rule.name for c in r.missing]) for r in rows] == [
        ("Patient", ["Fillers consent", "GDPR consent"]),
        ("Expiring", ["GDPR consent"]),
        ("Nothing", ["GDPR consent"]),
    ]
    assert rows[1].missing[0].state == "expired"
    assert rows[0].visit_at.hour == 9  # the location's local time
    assert fillers.pk in {c.rule.pk for c in rows[0].missing}
    assert Appointment.objects.filter(start__lt=timezone.now() + timedelta(days=1)).count() == 0
    assert selectors.missing_documents(user=rec.registrar, organisation=rec.org, days=1) == []  # visits are in 2 days


def test_the_missing_list_is_for_staff_and_its_query_count_is_bounded(
    rec, gdpr_rule, django_assert_max_num_queries
) -> None:
    from kabinet.core.exceptions import NotAllowed

    with pytest.raises(NotAllowed):
        selectors.missing_documents(user=rec.patient_user, organisation=rec.org)
    for hour in (9, 10, 11, 12, 13):
        _book(rec, PatientFactory.create(organisation=rec.org), hour=hour)
    with django_assert_max_num_queries(8):
        rows = selectors.missing_documents(user=rec.registrar, organisation=rec.org)
    assert len(rows) == 5
