"""Document use cases: templates to PDF, uploads (staff and patients), versions with a diff, entered in error, soft
delete with reason and permission, sharing, history from the audit log, timeline entries — and who is refused."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.patients.models import TimelineEntry
from kabinet.records import selectors, services
from kabinet.records.files import FileRefused
from kabinet.records.models import Document, DocumentKind, DocumentShare
from kabinet.scheduling.services import appointment_book
from tests.records import corpus
from tests.records.helpers import current

pytestmark = pytest.mark.django_db


def _consent(rec, actor=None, **fields):
    return services.document_create_from_template(
        actor=actor or rec.doctor,
        patient=rec.patient,
        template=rec.consent,
        fields={"procedure": "Fillers", "risks": "Bruising", **fields},
    )


def _events(document) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="records.document", object_id=str(document.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_a_document_from_a_template_is_a_pdf_version_with_its_fields(rec) -> None:
    document = _consent(rec)
    version = document.current_version
    assert document.kind == DocumentKind.INFORMED_CONSENT and document.origin == Document.Origin.TEMPLATE
    assert document.title == "Consent for fillers" and document.template == rec.consent
    assert version.number == 1 and version.content_type == "application/pdf"
    assert version.fields == {"procedure": "Fillers", "risks": "Bruising", "agreed": False}
    with default_storage.open(version.file.name) as handle:
        assert handle.read(5) == b"%PDF-"
    assert version.file.name.startswith(f"records/{rec.org.pk}/") and "Consent" not in version.file.name
    assert _events(document) == ["document.created"]
    entry = TimelineEntry.objects.get(patient=rec.patient, ref_type="records.document", ref_id=str(document.pk))
    assert entry.kind == TimelineEntry.Kind.DOCUMENT and "Consent for fillers" in entry.title


def test_required_template_fields_are_checked(rec) -> None:
    with pytest.raises(Invalid) as invalid:
        services.document_create_from_template(actor=rec.doctor, patient=rec.patient, template=rec.consent, fields={})
    assert "procedure" in invalid.value.errors
    assert not Document.objects.exists()


def test_registrars_make_consents_but_not_clinical_documents(rec) -> None:
    assert _consent(rec, actor=rec.registrar).author == rec.registrar
    with pytest.raises(NotAllowed):
        services.document_create_from_template(
            actor=rec.registrar, patient=rec.patient, template=rec.note, fields={"diagnosis": "L70"}
        )
    with pytest.raises(NotAllowed):
        _consent(rec, actor=rec.operator)
    with pytest.raises(NotAllowed):
        _consent(rec, actor=rec.outsider)
    with pytest.raises(NotAllowed):
        _consent(rec, actor=rec.patient_user)


def test_editing_makes_a_new_version_and_the_diff_names_each_field(rec) -> None:
    document = _consent(rec)
    version = services.document_revise(
        actor=rec.doctor, document=document, fields={"procedure": "Botox", "risks": "Bruising", "agreed": True}
    )
    assert version.number == 2
    document.refresh_from_db()
    assert document.current_version == version
    detail = selectors.document_detail(user=rec.doctor, document_id=document.pk)
    newest, oldest = detail.versions
    assert oldest.version.number == 1 and oldest.changes == []
    assert [(c.label, c.before, c.after) for c in newest.changes] == [
        ("Procedure", "Fillers", "Botox"),
        ("Patient agrees", "no", "yes"),
    ]
    assert default_storage.exists(str(oldest.version.file.name))  # the old version stays readable
    assert selectors.document_version(user=rec.doctor, document_id=document.pk, number=1).number == 1
    assert [row.action for row in detail.history] == ["document.created", "document.version_added"]
    titles = TimelineEntry.objects.filter(patient=rec.patient, kind="document").values_list("title", flat=True)
    assert any("New version" in t for t in titles)


def test_an_edit_that_changes_nothing_is_refused(rec) -> None:
    document = _consent(rec)
    with pytest.raises(Invalid):
        services.document_revise(
            actor=rec.doctor, document=document, fields={"procedure": "Fillers", "risks": "Bruising"}
        )


def test_a_new_file_as_a_version_shows_the_file_change(rec) -> None:
    document = services.document_upload(
        actor=rec.registrar, patient=rec.patient, kind=DocumentKind.CONTRACT, title="Contract", upload=corpus.pdf()
    )
    services.document_revise(actor=rec.registrar, document=document, upload=corpus.docx(), note="signed copy")
    detail = selectors.document_detail(user=rec.registrar, document_id=document.pk)
    change = detail.versions[0].changes[0]
    assert change.label == "file" and "pdf" in change.before and "docx" in change.after
    assert detail.versions[0].version.note == "signed copy"


def test_marking_erroneous_needs_a_reason_keeps_the_document_and_is_in_the_history(rec) -> None:
    document = _consent(rec, actor=rec.nurse)
    with pytest.raises(Invalid):
        services.document_mark_erroneous(actor=rec.doctor, document=document, reason="  ")
    with pytest.raises(NotAllowed):
        services.document_mark_erroneous(actor=rec.registrar, document=document, reason="wrong patient")
    services.document_mark_erroneous(actor=rec.nurse, document=document, reason="wrong patient")  # the author
    document.refresh_from_db()
    assert document.status == Document.Status.ERRONEOUS and document.status_reason == "wrong patient"
    assert document in selectors.patient_documents(user=rec.doctor, patient=rec.patient)  # still listed
    with pytest.raises(Conflict):
        services.document_revise(actor=rec.doctor, document=document, fields={"procedure": "X"})
    event = AuditEvent.objects.get(action="document.marked_erroneous")
    assert event.after == {"status": "erroneous", "reason": "wrong patient"} and event.patient_id == rec.patient.pk
    detail = selectors.document_detail(user=rec.admin, document_id=document.pk)
    assert detail.history[-1].detail == "wrong patient"
    assert TimelineEntry.objects.filter(patient=rec.patient, body="wrong patient").exists()


def test_soft_delete_needs_a_reason_and_an_administrator_or_the_doctor_who_wrote_it(rec) -> None:
    by_doctor = _consent(rec, actor=rec.doctor)
    by_nurse = _consent(rec, actor=rec.nurse)
    for actor in (rec.nurse, rec.registrar, rec.other_doctor, rec.outsider, rec.patient_user):
        with pytest.raises(NotAllowed):
            services.document_delete(actor=actor, document=by_doctor, reason="duplicate")
    with pytest.raises(NotAllowed):
        services.document_delete(actor=rec.nurse, document=by_nurse, reason="duplicate")  # authors who are not doctors
    with pytest.raises(Invalid):
        services.document_delete(actor=rec.doctor, document=by_doctor, reason="")
    services.document_delete(actor=rec.doctor, document=by_doctor, reason="duplicate")
    services.document_delete(actor=rec.admin, document=by_nurse, reason="scanned twice")
    by_doctor.refresh_from_db()
    assert by_doctor.status == Document.Status.DELETED and by_doctor.status_reason == "duplicate"
    assert selectors.patient_documents(user=rec.admin, patient=rec.patient) == []
    assert default_storage.exists(by_doctor.current_version.file.name)  # soft: the file and rows stay
    assert _events(by_doctor) == ["document.created", "document.deleted"]
    with pytest.raises(Conflict):
        services.document_delete(actor=rec.admin, document=by_doctor, reason="again")


def test_staff_upload_and_scans_of_a_template_printout(rec) -> None:
    document = services.document_upload(
        actor=rec.registrar,
        patient=rec.patient,
        kind=DocumentKind.INFORMED_CONSENT,
        title="",
        upload=corpus.jpeg(gps=True),
        template=rec.consent,
    )
    assert document.origin == Document.Origin.UPLOAD and document.template == rec.consent
    assert current(document).content_type == "image/jpeg"
    with pytest.raises(Invalid):
        services.document_upload(
            actor=rec.registrar,
            patient=rec.patient,
            kind=DocumentKind.CONTRACT,
            title="",
            upload=corpus.pdf(),
            template=rec.consent,  # a consent template for a contract
        )


def test_a_refused_file_stores_nothing(rec) -> None:
    with pytest.raises(FileRefused):
        services.document_upload(
            actor=rec.doctor, patient=rec.patient, kind=DocumentKind.LAB_RESULT, title="x", upload=corpus.html()
        )
    assert not Document.objects.exists()


def _book(rec, day_hour=10):
    return appointment_book(
        actor=rec.registrar,
        patient=rec.patient,
        practitioner=rec.doctor_member,
        service=rec.clinic.service,
        start=rec.clinic.at(day_hour),
        location=rec.clinic.location,
    )


def test_a_patient_upload_goes_to_the_treating_doctors_only(rec) -> None:
    _book(rec)
    document = services.document_upload_by_patient(
        actor=rec.patient_user, patient=rec.patient, kind=DocumentKind.PHOTO, title="Rash", upload=corpus.jpeg(gps=True)
    )
    assert document.restricted and document.origin == Document.Origin.PATIENT
    assert list(document.shares.values_list("member_id", "via")) == [(rec.doctor_member.pk, "recipient")]
    visible = lambda user: document.pk in {d.pk for d in selectors.documents_visible_to(user)}  # noqa: E731
    assert visible(rec.doctor) and visible(rec.admin) and visible(rec.patient_user)
    assert not visible(rec.other_doctor) and not visible(rec.nurse) and not visible(rec.registrar)
    assert selectors.inbox(user=rec.doctor, organisation=rec.org).get() == document
    entry = TimelineEntry.objects.get(patient=rec.patient, ref_type="records.document", ref_id=str(document.pk))
    assert "Rash" in entry.title


def test_the_doctor_shares_a_patient_upload_with_a_colleague(rec) -> None:
    _book(rec)
    document = services.document_upload_by_patient(
        actor=rec.patient_user,
        patient=rec.patient,
        kind=DocumentKind.LAB_RESULT,
        title="Blood test",
        upload=corpus.pdf(),
    )
    with pytest.raises(NotAllowed):
        services.document_share(actor=rec.nurse, document=document, member=rec.other_doctor_member)
    share = services.document_share(actor=rec.doctor, document=document, member=rec.other_doctor_member)
    assert share.via == DocumentShare.Via.SHARE and share.shared_by == rec.doctor
    assert document in selectors.documents_visible_to(rec.other_doctor)
    with pytest.raises(Conflict):
        services.document_share(actor=rec.doctor, document=document, member=rec.other_doctor_member)
    event = AuditEvent.objects.get(action="document.shared")
    assert event.object_id == str(document.pk) and (event.after or {}).get("member") == rec.other_doctor_member.pk


def test_a_proxy_parent_uploads_for_the_ward_but_a_relative_without_proxy_cannot(rec) -> None:
    document = services.document_upload_by_patient(
        actor=rec.patient_user, patient=rec.ward, kind=DocumentKind.OTHER, title="School note", upload=corpus.png()
    )
    assert document.patient == rec.ward and document.author == rec.patient_user
    for user, patient in (
        (rec.relative_user, rec.patient),
        (rec.other_patient_user, rec.patient),
        (rec.stranger_user, rec.patient),
    ):
        with pytest.raises(NotAllowed):
            services.document_upload_by_patient(
                actor=user, patient=patient, kind=DocumentKind.PHOTO, title="x", upload=corpus.jpeg()
            )


def test_patients_upload_only_pdfs_and_photos_of_their_kinds(rec) -> None:
    with pytest.raises(FileRefused):
        services.document_upload_by_patient(
            actor=rec.patient_user, patient=rec.patient, kind=DocumentKind.OTHER, title="x", upload=corpus.docx()
        )
    with pytest.raises(Invalid):
        services.document_upload_by_patient(
            actor=rec.patient_user, patient=rec.patient, kind=DocumentKind.CONTRACT, title="x", upload=corpus.pdf()
        )


def test_who_sees_which_documents(rec) -> None:
    note = services.document_create_from_template(
        actor=rec.doctor, patient=rec.patient, template=rec.note, fields={"diagnosis": "L70"}
    )
    consent = _consent(rec)
    ids = lambda user: {d.pk for d in selectors.documents_visible_to(user)}  # noqa: E731
    assert ids(rec.doctor) == ids(rec.nurse) == ids(rec.admin) == {note.pk, consent.pk}
    assert ids(rec.registrar) == ids(rec.operator) == {consent.pk}  # desk roles: administrative documents only
    assert ids(rec.patient_user) == {note.pk, consent.pk}  # the patient's own
    assert ids(rec.relative_user) == ids(rec.other_patient_user) == ids(rec.outsider) == ids(rec.stranger_user) == set()


def test_reading_a_document_or_its_file_is_audited(rec) -> None:
    document = _consent(rec)
    selectors.document_detail(user=rec.nurse, document_id=document.pk)
    selectors.document_version(user=rec.patient_user, document_id=document.pk)
    views = AuditEvent.objects.filter(action="document.viewed", object_id=str(document.pk)).order_by("id")
    assert [(e.actor_id, e.after) for e in views] == [
        (rec.nurse.pk, {"part": "detail"}),
        (rec.patient_user.pk, {"part": "file", "version": 1}),
    ]
    assert all(e.patient_id == rec.patient.pk for e in views)


def test_a_concurrent_edit_gets_a_conflict_and_leaves_no_file_behind(rec, monkeypatch) -> None:
    document = _consent(rec)
    real_store = services._store
    stored: list[str] = []

    def store_while_someone_else_saves(organisation_id: int, content: bytes, extension: str) -> str:
        name = real_store(organisation_id, content, extension)
        stored.append(name)
        if len(stored) == 1:  # the first editor's file is stored; now a colleague saves their version first
            services.document_revise(actor=rec.nurse, document=document, fields={"procedure": "Peel"})
        return name

    monkeypatch.setattr(services, "_store", store_while_someone_else_saves)
    with pytest.raises(Conflict):
        services.document_revise(actor=rec.doctor, document=document, fields={"procedure": "Botox"})
    assert current(document).fields["procedure"] == "Peel" and current(document).number == 2
    assert not default_storage.exists(stored[0]) and default_storage.exists(stored[1])
