"""Mandatory documents: rules per clinic, location and service with a validity period; consents and contracts
count only once signed (on the screen, or an uploaded scan); the card's checklist and flags; the list of patients
with visits in the next days who miss something."""

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
from tests.records.helpers import drawn

pytestmark = pytest.mark.django_db


def _book(rec, patient, *, hour=10, minute=0, service=None):
    return appointment_book(
        actor=rec.registrar,
        patient=patient,
        practitioner=rec.doctor_member,
        service=service or rec.clinic.service,
        start=rec.clinic.at(hour, minute),
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


def _made(rec, patient, template=None, days_ago=0, actor=None):
    """A document made from a template (a consent by default): not signed yet."""
    return services.document_create_from_template(
        actor=actor or rec.registrar,
        patient=patient,
        template=template or rec.consent,
        fields={"procedure": "Fillers"},
        document_date=timezone.localdate() - timedelta(days=days_ago),
    )


def _check(patient, name):
    if hasattr(patient, "_records_consents"):
        del patient._records_consents
    return next(c for c in selectors.consent_checks(patient=patient) if c.rule.name == name)


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
    deleted = _consent(rec, rec.patient)
    assert _states(rec.patient) == {"GDPR consent": ("valid", True)}
    services.document_delete(actor=rec.admin, document=deleted, reason="duplicate")
    assert _states(rec.patient) == {"GDPR consent": ("missing", True)}


def test_erroneous_and_deleted_signed_documents_do_not_count_either(rec, gdpr_rule) -> None:
    for change in (services.document_mark_erroneous, services.document_delete):
        document = _made(rec, rec.patient)
        services.document_sign(actor=rec.registrar, document=document, image=drawn())
        assert _states(rec.patient) == {"GDPR consent": ("valid", True)}
        change(actor=rec.admin, document=document, reason="wrong patient")
        assert _states(rec.patient) == {"GDPR consent": ("missing", True)}


def test_a_consent_made_from_a_template_counts_only_once_signed_on_the_screen(rec) -> None:
    MandatoryRule.objects.create(
        organisation=rec.org, name="Fillers consent", kind=DocumentKind.INFORMED_CONSENT, template=rec.consent
    )
    document = _made(rec, rec.patient)
    check = _check(rec.patient, "Fillers consent")
    assert (check.state, check.ok, check.document) == ("signature_missing", False, document)
    assert check.signature_missing and not check.document_missing
    assert selectors.missing_count(rec.patient) == 0 and selectors.unsigned_count(rec.patient) == 1
    services.document_sign(actor=rec.registrar, document=document, image=drawn())
    check = _check(rec.patient, "Fillers consent")
    assert (check.state, check.document) == ("valid", document)
    assert selectors.missing_count(rec.patient) == 0 and selectors.unsigned_count(rec.patient) == 0
    # editing the signed consent makes an unsigned version: the signature is missing again
    services.document_revise(actor=rec.registrar, document=document, fields={"procedure": "Botox"})
    assert _check(rec.patient, "Fillers consent").state == "signature_missing"
    assert selectors.unsigned_count(rec.patient) == 1


def test_an_uploaded_scan_counts_as_signed(rec, gdpr_rule) -> None:
    _made(rec, rec.patient)
    assert _states(rec.patient) == {"GDPR consent": ("signature_missing", True)}
    scan = _consent(rec, rec.patient, template=rec.consent)
    check = _check(rec.patient, "GDPR consent")
    assert (check.state, check.document) == ("valid", scan)


def test_contracts_need_a_signature_and_other_kinds_do_not(rec) -> None:
    from kabinet.records.models import DocumentTemplate

    contract = DocumentTemplate.objects.create(
        organisation=rec.org, kind=DocumentKind.CONTRACT, name="Contract", body="<p>{{ patient.full_name }}</p>"
    )
    form = DocumentTemplate.objects.create(
        organisation=rec.org, kind=DocumentKind.OTHER, name="Questionnaire", body="<p>{{ patient.full_name }}</p>"
    )
    MandatoryRule.objects.create(organisation=rec.org, name="Contract", kind=DocumentKind.CONTRACT)
    MandatoryRule.objects.create(organisation=rec.org, name="Questionnaire", kind=DocumentKind.OTHER)
    MandatoryRule.objects.create(organisation=rec.org, name="Visit note", kind=DocumentKind.VISIT_NOTE)
    _made(rec, rec.patient, template=contract)
    _made(rec, rec.patient, template=form)
    services.document_create_from_template(
        actor=rec.doctor, patient=rec.patient, template=rec.note, fields={"diagnosis": "Healthy"}
    )
    assert _states(rec.patient) == {
        "Contract": ("signature_missing", True),
        "Questionnaire": ("valid", True),
        "Visit note": ("valid", True),
    }


def test_a_fresh_unsigned_consent_is_what_is_left_when_the_signed_one_expired(rec, gdpr_rule) -> None:
    old = _consent(rec, rec.patient, days_ago=400)  # signed on paper, expired
    assert _states(rec.patient) == {"GDPR consent": ("expired", True)}
    fresh = _made(rec, rec.patient)
    check = _check(rec.patient, "GDPR consent")
    assert (check.state, check.document) == ("signature_missing", fresh)
    Document.objects.filter(pk=fresh.pk).update(document_date=timezone.localdate() - timedelta(days=500))
    check = _check(rec.patient, "GDPR consent")
    assert (check.state, check.document) == ("expired", old)  # signing an expired one would not help
    Document.objects.filter(pk=old.pk).delete()
    assert _check(rec.patient, "GDPR consent").state == "expired"


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
    unsigned = PatientFactory.create(organisation=rec.org, family_name="Unsigned")
    consent = _made(rec, unsigned)
    _book(rec, unsigned, hour=10, minute=30)
    rows = selectors.missing_documents(user=rec.registrar, organisation=rec.org)
    assert [(r.patient.family_name, [c.rule.name for c in r.missing]) for r in rows] == [
        ("Patient", ["Fillers consent", "GDPR consent"]),
        ("Unsigned", ["GDPR consent"]),
        ("Expiring", ["GDPR consent"]),
        ("Nothing", ["GDPR consent"]),
    ]
    assert (rows[1].missing[0].state, rows[1].missing[0].document) == ("signature_missing", consent)
    assert rows[2].missing[0].state == "expired"
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
        patient = PatientFactory.create(organisation=rec.org)
        _book(rec, patient, hour=hour)
        if hour % 2:  # unsigned consents: their current versions come with the documents, not one query each
            _made(rec, patient)
    with django_assert_max_num_queries(8):
        rows = selectors.missing_documents(user=rec.registrar, organisation=rec.org)
    assert len(rows) == 5
    assert sorted(r.missing[0].state for r in rows) == ["missing", "missing", *["signature_missing"] * 3]
