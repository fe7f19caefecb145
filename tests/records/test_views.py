"""The document pages: the card's Documents and Consents tabs and flag, make from a template, upload, the document
page with versions and history, edit, entered in error, delete, share, files; the missing list; the portal page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kabinet.audit.models import AuditEvent
from kabinet.records import services
from kabinet.records.models import Document, DocumentKind
from kabinet.scheduling.services import appointment_book
from tests.records import corpus
from tests.records.helpers import current, drawn

pytestmark = pytest.mark.django_db


def card(patient, tab="documents") -> str:
    return reverse("patients:card", args=[patient.pk]) + f"?tab={tab}"


def _consent(rec, actor=None):
    return services.document_create_from_template(
        actor=actor or rec.doctor, patient=rec.patient, template=rec.consent, fields={"procedure": "Fillers"}
    )


def test_the_card_has_documents_and_consents_tabs_and_the_missing_flag(rec, gdpr_rule, login_client) -> None:
    desk = login_client(rec.registrar)
    html = desk.get(card(rec.patient)).content.decode()
    assert 'data-tab="documents"' in html and 'data-tab="consents"' in html
    assert "1 document missing" in html and "No documents yet" in html
    assert f'data-rule="{gdpr_rule.pk}" data-state="missing"' in html
    document = _consent(rec)  # made from the template, not signed yet: the signature is what is missing
    html = desk.get(card(rec.patient)).content.decode()
    assert "1 signature missing" in html and 'data-flag="missing-signatures"' in html
    assert "document missing" not in html and "Documents complete" not in html
    assert f'data-rule="{gdpr_rule.pk}" data-state="signature_missing"' in html and "signature missing" in html
    assert f'href="{reverse("records:sign", args=[document.pk])}" data-sign' in html
    services.document_sign(actor=rec.registrar, document=document, image=drawn())
    html = desk.get(card(rec.patient)).content.decode()
    assert "Documents complete" in html and "Consent for fillers" in html and "signature missing" not in html
    assert 'data-state="valid"' in html


def test_the_card_counts_missing_documents_and_signatures_apart(rec, gdpr_rule, login_client) -> None:
    from kabinet.records.models import MandatoryRule

    MandatoryRule.objects.create(organisation=rec.org, name="Contract", kind=DocumentKind.CONTRACT)
    _consent(rec)
    html = login_client(rec.registrar).get(card(rec.patient, "consents")).content.decode()
    assert "1 document missing" in html and "1 signature missing" in html
    assert 'data-state="missing"' in html and 'data-state="signature_missing"' in html


def test_the_card_says_not_checked_without_rules(rec, login_client) -> None:
    html = login_client(rec.registrar).get(card(rec.patient)).content.decode()
    assert "Documents: not checked" in html and "has not set up mandatory documents" in html


def test_card_query_count_does_not_grow_with_documents(rec, gdpr_rule, login_client) -> None:
    desk = login_client(rec.doctor)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(card(rec.patient)).status_code == 200
        return len(queries)

    _consent(rec)
    count()
    few = count()
    for _ in range(5):
        _consent(rec)
        services.document_upload(
            actor=rec.doctor, patient=rec.patient, kind=DocumentKind.PHOTO, title="p", upload=corpus.png()
        )
    assert count() == few


def test_staff_make_a_document_from_a_template_on_the_page(rec, login_client) -> None:
    nurse = login_client(rec.nurse)
    choose = nurse.get(reverse("records:new", args=[rec.patient.pk])).content.decode()
    assert "Consent for fillers" in choose and "Visit note" in choose
    url = reverse("records:new", args=[rec.patient.pk]) + f"?template={rec.consent.pk}"
    form = nurse.get(url).content.decode()
    assert 'name="f_procedure"' in form and "Russian" in form  # made in the patient's language
    missing = nurse.post(url, {"template": rec.consent.pk, "title": "", "f_procedure": ""})
    assert missing.status_code == 422
    done = nurse.post(url, {"template": rec.consent.pk, "title": "Consent", "f_procedure": "Lips", "f_agreed": "on"})
    document = Document.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("records:detail", args=[document.pk])
    assert current(document).fields["agreed"] is True


def test_registrars_see_no_clinical_templates(rec, login_client) -> None:
    html = login_client(rec.registrar).get(reverse("records:new", args=[rec.patient.pk])).content.decode()
    assert "Consent for fillers" in html and "Visit note" not in html


def test_upload_page_accepts_a_scan_and_explains_a_refusal(rec, login_client) -> None:
    desk = login_client(rec.registrar)
    url = reverse("records:upload", args=[rec.patient.pk])
    refused = desk.post(url, {"kind": "contract", "file": SimpleUploadedFile("c.pdf", corpus.html())})
    assert refused.status_code == 422 and "Web pages" in refused.content.decode()
    done = desk.post(url, {"kind": "contract", "title": "Contract", "file": SimpleUploadedFile("c.pdf", corpus.pdf())})
    assert done.status_code == 302
    assert Document.objects.get().title == "Contract"
    clinical = desk.post(url, {"kind": "visit_note", "file": SimpleUploadedFile("c.pdf", corpus.pdf())})
    assert clinical.status_code == 422  # not a choice for a registrar


def test_the_document_page_shows_versions_diff_history_and_the_viewer(rec, login_client) -> None:
    document = _consent(rec)
    services.document_revise(actor=rec.doctor, document=document, fields={"procedure": "Botox"})
    html = login_client(rec.doctor).get(reverse("records:detail", args=[document.pk])).content.decode()
    assert "Version 2" in html and "Version 1" in html
    assert "Procedure: <del>Fillers</del> → <ins>Botox</ins>" in html
    assert 'data-action="document.created"' in html and 'data-action="document.version_added"' in html
    assert reverse("records:inline", args=[document.pk]) in html  # the PDF viewer
    assert "Download PDF" in html and "Print" in html and "Mark as entered in error" in html


def test_edit_page_makes_a_new_version(rec, login_client) -> None:
    document = _consent(rec)
    doctor = login_client(rec.doctor)
    url = reverse("records:edit", args=[document.pk])
    assert 'value="Fillers"' in doctor.get(url).content.decode()
    assert doctor.post(url, {"title": document.title, "f_procedure": "Threads"}).status_code == 302
    document.refresh_from_db()
    assert current(document).number == 2 and current(document).fields["procedure"] == "Threads"
    upload = services.document_upload(
        actor=rec.doctor, patient=rec.patient, kind=DocumentKind.STUDY, title="MRI", upload=corpus.pdf()
    )
    response = doctor.post(
        reverse("records:edit", args=[upload.pk]),
        {"file": SimpleUploadedFile("mri.png", corpus.png()), "note": "better scan"},
    )
    assert response.status_code == 302
    upload.refresh_from_db()
    assert current(upload).content_type == "image/png"


def test_mark_erroneous_and_delete_on_the_page(rec, login_client) -> None:
    document = _consent(rec)
    doctor = login_client(rec.doctor)
    no_reason = doctor.post(reverse("records:erroneous", args=[document.pk]), {"erroneous-reason": ""})
    assert no_reason.status_code == 422
    doctor.post(reverse("records:erroneous", args=[document.pk]), {"erroneous-reason": "wrong patient"})
    html = doctor.get(card(rec.patient)).content.decode()
    assert 'class="document-erroneous"' in html and "wrong patient" in html  # listed, struck through
    assert (
        login_client(rec.nurse).post(reverse("records:delete", args=[document.pk]), {"delete-reason": "x"}).status_code
        == 403
    )
    response = doctor.post(reverse("records:delete", args=[document.pk]), {"delete-reason": "duplicate"})
    assert response.status_code == 302
    assert f'data-document="{document.pk}"' not in doctor.get(card(rec.patient)).content.decode()
    assert doctor.get(reverse("records:detail", args=[document.pk])).status_code == 404


def test_share_a_patient_upload_on_the_page(rec, login_client) -> None:
    appointment_book(
        actor=rec.registrar,
        patient=rec.patient,
        practitioner=rec.doctor_member,
        service=rec.clinic.service,
        start=rec.clinic.at(10),
        location=rec.clinic.location,
    )
    document = services.document_upload_by_patient(
        actor=rec.patient_user, patient=rec.patient, kind=DocumentKind.PHOTO, title="Rash", upload=corpus.jpeg()
    )
    doctor = login_client(rec.doctor)
    assert "Rash" in doctor.get(reverse("records:inbox")).content.decode()
    colleague = login_client(rec.other_doctor)
    assert colleague.get(reverse("records:detail", args=[document.pk])).status_code == 404
    doctor.post(reverse("records:share", args=[document.pk]), {"member": rec.other_doctor_member.pk})
    assert colleague.get(reverse("records:detail", args=[document.pk])).status_code == 200
    assert "Rash" in colleague.get(reverse("records:inbox")).content.decode()


def test_files_download_as_attachments_and_open_inline_only_for_pdfs_and_images(rec, login_client) -> None:
    pdf = _consent(rec)
    docx = services.document_upload(
        actor=rec.registrar,
        patient=rec.patient,
        kind=DocumentKind.CONTRACT,
        title='Contract "A"/B',
        upload=corpus.docx(),
    )
    client = login_client(rec.patient_user)
    download = client.get(reverse("records:file", args=[docx.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="Contract A B-v1.docx"'
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    assert download["X-Content-Type-Options"] == "nosniff" and "sandbox" in download["Content-Security-Policy"]
    inline = client.get(reverse("records:inline", args=[pdf.pk]))
    assert inline.status_code == 200 and inline["Content-Disposition"].startswith("inline;")
    assert inline["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get(reverse("records:inline", args=[docx.pk])).status_code == 404
    for user in (rec.other_patient_user, rec.relative_user, rec.outsider):
        assert login_client(user).get(reverse("records:file", args=[pdf.pk])).status_code == 404
    assert client.get(reverse("records:file", args=[pdf.pk]) + "?version=abc").status_code == 404
    assert AuditEvent.objects.filter(action="document.viewed", actor=rec.patient_user).count() == 3


def test_pages_are_refused_to_patients_and_other_clinics(rec, login_client) -> None:
    document = _consent(rec)
    assert login_client(rec.patient_user).get(reverse("records:detail", args=[document.pk])).status_code == 403
    assert login_client(rec.outsider).get(reverse("records:detail", args=[document.pk])).status_code == 404
    assert login_client(rec.outsider).get(reverse("records:new", args=[rec.patient.pk])).status_code == 404
    assert login_client(rec.operator).get(reverse("records:upload", args=[rec.patient.pk])).status_code == 403
    assert login_client(rec.patient_user).get(reverse("records:missing")).status_code == 403


def test_the_missing_page(rec, gdpr_rule, login_client) -> None:
    desk = login_client(rec.registrar)
    assert "has the documents they need" in desk.get(reverse("records:missing")).content.decode()
    appointment_book(
        actor=rec.registrar,
        patient=rec.patient,
        practitioner=rec.doctor_member,
        service=rec.clinic.service,
        start=rec.clinic.at(10),
        location=rec.clinic.location,
    )
    html = desk.get(reverse("records:missing"), {"days": 7}).content.decode()
    assert "Patient Petya" in html and "GDPR consent" in html and "Consultation" in html
    assert f'data-rule="{gdpr_rule.pk}" data-state="missing"' in html
    document = _consent(rec)  # not signed: listed as such, with the way to sign that document
    html = desk.get(reverse("records:missing"), {"days": 7}).content.decode()
    assert f'data-rule="{gdpr_rule.pk}" data-state="signature_missing"' in html and "signature missing" in html
    sign = reverse("records:sign", args=[document.pk])
    upload = reverse("records:upload", args=[rec.patient.pk]) + "?kind=informed_consent"
    assert sign in html and upload in html
    assert sign not in login_client(rec.operator).get(reverse("records:missing")).content.decode()  # may not sign
    services.document_sign(actor=rec.registrar, document=document, image=drawn())
    assert "has the documents they need" in desk.get(reverse("records:missing")).content.decode()
    assert desk.get(reverse("records:missing"), {"days": 500}).status_code == 200  # an invalid number: the default


def test_the_portal_lists_own_and_wards_documents_and_takes_a_photo(rec, login_client) -> None:
    mine = _consent(rec)
    wards = services.document_upload(
        actor=rec.doctor, patient=rec.ward, kind=DocumentKind.LAB_RESULT, title="Ward result", upload=corpus.pdf()
    )
    services.document_upload(
        actor=rec.doctor,
        patient=rec.other_patient,
        kind=DocumentKind.LAB_RESULT,
        title="Not yours",
        upload=corpus.pdf(),
    )
    client = login_client(rec.patient_user)
    html = client.get(reverse("portal:documents")).content.decode()
    assert mine.title in html and "Ward result" in html and "Not yours" not in html
    assert reverse("records:file", args=[wards.pk]) in html
    response = client.post(
        reverse("portal:documents"),
        {"patient": rec.ward.pk, "kind": "photo", "title": "", "file": SimpleUploadedFile("IMG_1.HEIC", corpus.heic())},
    )
    assert response.status_code == 302
    photo = Document.objects.get(kind="photo")
    assert photo.patient == rec.ward and photo.restricted and current(photo).content_type == "image/jpeg"
    refused = client.post(
        reverse("portal:documents"),
        {"patient": rec.patient.pk, "kind": "photo", "file": SimpleUploadedFile("a.jpg", corpus.exe())},
    )
    assert refused.status_code == 422 and "Programs" in refused.content.decode()
    stranger = client.post(
        reverse("portal:documents"),
        {"patient": rec.other_patient.pk, "kind": "photo", "file": SimpleUploadedFile("a.jpg", corpus.jpeg())},
    )
    assert stranger.status_code == 422  # not one of the choices
    assert Document.objects.filter(patient=rec.other_patient, kind="photo").count() == 0
