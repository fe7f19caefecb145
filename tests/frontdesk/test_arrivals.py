"""Arrival: the time is recorded, lateness tells the doctor or asks to reschedule (the clinic's thresholds), and the
answer prompts to re-check personal data and to collect missing mandatory documents and signatures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.frontdesk.models import Arrival, FrontDeskPolicy
from kabinet.frontdesk.services.arrivals import appointment_arrive
from kabinet.notifications.models import Message
from kabinet.patients.models import TimelineEntry
from kabinet.records import services as records
from kabinet.records.models import DocumentKind, DocumentTemplate, MandatoryRule
from kabinet.scheduling.models import Appointment
from kabinet.scheduling.services import appointment_move
from tests.frontdesk.conftest import Desk
from tests.records.helpers import drawn

pytestmark = pytest.mark.django_db
Status = Appointment.Status


def codes(result: object) -> list[str]:
    return [p.code for p in result.prompts]  # type: ignore[attr-defined]


def test_an_arrival_on_time_marks_the_visit_arrived_and_records_the_time(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    result = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(9, 55))
    visit.refresh_from_db()
    arrival = Arrival.objects.get()
    assert visit.status == Status.ARRIVED
    assert (arrival.arrived_at, arrival.late_minutes, arrival.lateness) == (desk.clinic.at(9, 55), -5, "on_time")
    assert arrival.recorded_by == desk.registrar
    assert codes(result) == []
    assert not Message.objects.filter(event="frontdesk.patient_late").exists()
    assert AuditEvent.objects.filter(action="appointment.arrival_recorded", patient_id=desk.petya.pk).exists()
    assert TimelineEntry.objects.filter(patient=desk.petya, title="Arrived for Consultation").exists()


def test_a_few_minutes_late_tells_the_doctor_in_the_app(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    result = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(10, 7))
    visit.refresh_from_db()
    assert visit.status == Status.ARRIVED
    assert codes(result) == ["late"]
    assert "7 minutes late" in result.prompts[0].text
    notice = Message.objects.get(event="frontdesk.patient_late")
    assert (notice.channel, notice.user, notice.patient) == ("inapp", desk.doctor_user, None)
    assert "Patient Petya" in notice.subject and "7 min late" in notice.subject
    arrival = Arrival.objects.get()
    assert (arrival.late_minutes, arrival.lateness, arrival.doctor_notified) == (7, "late", True)
    assert TimelineEntry.objects.filter(patient=desk.petya, title="Arrived 7 minutes late for Consultation").exists()


def test_fifteen_minutes_late_asks_to_reschedule_and_keeps_the_visit_as_it_is(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    result = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(10, 15))
    visit.refresh_from_db()
    assert visit.status == Status.SCHEDULED
    assert codes(result) == ["reschedule"]
    assert result.suggestions and all(s.practitioner_id == desk.clinic.doctor.pk for s in result.suggestions)
    assert not Message.objects.filter(event="frontdesk.patient_late").exists()

    # The doctor agrees to see the patient anyway.
    result = appointment_arrive(actor=desk.registrar, appointment=visit, seen_late=True, now=desk.clinic.at(10, 17))
    visit.refresh_from_db()
    arrival = Arrival.objects.get()
    assert visit.status == Status.ARRIVED
    assert (arrival.arrived_at, arrival.late_minutes, arrival.seen_late) == (desk.clinic.at(10, 15), 15, True)
    assert codes(result) == ["late"]
    assert Message.objects.filter(event="frontdesk.patient_late", user=desk.doctor_user).count() == 1


def test_rescheduling_a_late_patient_forgets_the_pending_arrival(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(10, 20))
    appointment_move(actor=desk.registrar, appointment=visit, start=desk.clinic.at(13))
    assert not Arrival.objects.exists()


def test_thresholds_are_the_clinics(desk: Desk) -> None:
    FrontDeskPolicy.objects.create(organisation=desk.org, late_notify_from_minutes=5, late_reschedule_from_minutes=10)
    early, late, very = desk.book(desk.petya, 9), desk.book(desk.anna, 10), desk.book(desk.ivan, 12)
    assert codes(appointment_arrive(actor=desk.registrar, appointment=early, now=desk.clinic.at(9, 4))) == []
    assert codes(appointment_arrive(actor=desk.registrar, appointment=late, now=desk.clinic.at(10, 5))) == ["late"]
    assert codes(appointment_arrive(actor=desk.registrar, appointment=very, now=desk.clinic.at(12, 10))) == [
        "reschedule"
    ]


def test_marking_twice_answers_with_the_first_arrival(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(10, 3))
    again = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(10, 30))
    assert again.arrival.arrived_at == desk.clinic.at(10, 3)
    assert Arrival.objects.count() == 1
    assert Message.objects.filter(event="frontdesk.patient_late").count() == 1


def test_a_cancelled_visit_cannot_be_marked_arrived_and_patients_may_not_mark_it(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    with pytest.raises(NotAllowed):
        appointment_arrive(actor=desk.clinic.patient_user, appointment=visit)
    with pytest.raises(NotAllowed):
        appointment_arrive(actor=desk.outsider, appointment=visit)
    Appointment.objects.filter(pk=visit.pk).update(status=Status.CANCELLED)
    with pytest.raises(Invalid) as caught:
        appointment_arrive(actor=desk.registrar, appointment=visit)
    assert caught.value.code == "not_arrivable"


def test_a_last_visit_long_ago_prompts_to_recheck_the_personal_data(desk: Desk) -> None:
    visit = desk.book(desk.petya, 10)
    long_ago = desk.clinic.at(10) - timedelta(days=220)
    Appointment.objects.create(
        organisation=desk.org,
        location=desk.clinic.location,
        practitioner=desk.clinic.doctor,
        patient=desk.petya,
        service=desk.clinic.service,
        start=long_ago,
        end=long_ago + timedelta(minutes=30),
        busy_start=long_ago,
        busy_end=long_ago + timedelta(minutes=30),
        status=Status.COMPLETED,
    )
    result = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(9, 58))
    assert codes(result) == ["recheck_details"]
    assert "more than 6 months ago" in result.prompts[0].text


def test_missing_mandatory_documents_are_listed(desk: Desk) -> None:
    MandatoryRule.objects.create(
        organisation=desk.org, name="GDPR consent", kind=DocumentKind.INFORMED_CONSENT, validity_days=365
    )
    visit = desk.book(desk.petya, 10)
    result = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(9, 58))
    assert codes(result) == ["missing_documents"]
    assert result.prompts[0].items == ["GDPR consent"]


def test_each_missing_document_links_to_where_it_is_filled_in_and_signed_or_uploaded(desk: Desk, client) -> None:
    template = DocumentTemplate.objects.create(
        organisation=desk.org, kind=DocumentKind.INFORMED_CONSENT, name="Consent for fillers", body="<p>I agree.</p>"
    )
    MandatoryRule.objects.create(organisation=desk.org, name="Fillers consent", kind=template.kind, template=template)
    MandatoryRule.objects.create(organisation=desk.org, name="Contract", kind=DocumentKind.CONTRACT)
    visit = desk.book(desk.petya, 10)
    result = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(9, 58))
    prompt = result.prompts[0]
    assert sorted(prompt.items) == ["Contract", "Fillers consent"]
    links = {link.label: link.url for link in prompt.links}
    new = reverse("records:new", args=[desk.petya.pk])
    upload = reverse("records:upload", args=[desk.petya.pk])
    assert links == {
        "Fill in and sign: Fillers consent": f"{new}?template={template.pk}",
        "Upload the signed scan: Fillers consent": f"{upload}?kind={template.kind}&template={template.pk}",
        "Upload the signed scan: Contract": f"{upload}?kind={DocumentKind.CONTRACT}",
    }
    client.force_login(desk.registrar)
    page = client.get(links["Fill in and sign: Fillers consent"])
    assert page.status_code == 200 and "Consent for fillers" in page.content.decode()
    assert client.get(links["Upload the signed scan: Contract"]).status_code == 200


def test_a_consent_made_but_not_signed_asks_for_the_signature_with_a_link_to_sign_it(
    desk: Desk, client, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    template = DocumentTemplate.objects.create(
        organisation=desk.org, kind=DocumentKind.INFORMED_CONSENT, name="Consent for fillers", body="<p>I agree.</p>"
    )
    MandatoryRule.objects.create(organisation=desk.org, name="Fillers consent", kind=template.kind, template=template)
    MandatoryRule.objects.create(organisation=desk.org, name="Contract", kind=DocumentKind.CONTRACT)
    consent = records.document_create_from_template(
        actor=desk.registrar, patient=desk.petya, template=template, fields={}
    )
    visit = desk.book(desk.petya, 10)
    result = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(9, 58))
    assert codes(result) == ["missing_documents", "missing_signatures"]
    missing, unsigned = result.prompts
    assert missing.items == ["Contract"] and unsigned.items == ["Fillers consent"]
    assert "sign" in unsigned.text
    upload = reverse("records:upload", args=[desk.petya.pk])
    links = {link.label: link.url for link in unsigned.links}
    assert links == {
        "Sign on the screen: Fillers consent": reverse("records:sign", args=[consent.pk]),
        "Upload the signed scan: Fillers consent": f"{upload}?kind={template.kind}&template={template.pk}",
    }
    client.force_login(desk.registrar)
    page = client.get(links["Sign on the screen: Fillers consent"])
    assert page.status_code == 200 and 'id="sign-pad"' in page.content.decode()
    # signed on the screen: asked no more (a repeated arrival answers with the prompts of now)
    records.document_sign(actor=desk.registrar, document=consent, image=drawn())
    desk.petya.refresh_from_db()
    visit.refresh_from_db()
    again = appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(9, 59))
    assert codes(again) == ["missing_documents"] and again.prompts[0].items == ["Contract"]
    # edited after signing: an unsigned version, so the signature is asked for again
    records.document_revise(actor=desk.registrar, document=consent, fields={}, title="Consent for fillers (2)")
    visit.refresh_from_db()
    assert codes(appointment_arrive(actor=desk.registrar, appointment=visit, now=desk.clinic.at(10))) == [
        "missing_documents",
        "missing_signatures",
    ]
