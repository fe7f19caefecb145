"""Signatures drawn on the screen: the canvas picture is checked and cleaned, a new version of a template-made
document is rendered with it (read back with poppler), audited and on the timeline; the signing page; who may."""

from __future__ import annotations

import base64
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image, ImageDraw

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed
from kabinet.patients.models import TimelineEntry
from kabinet.records import services, signatures
from kabinet.records.models import Document, DocumentKind
from tests.records import corpus
from tests.records.helpers import current, drawn

pytestmark = pytest.mark.django_db


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def pdf_image_count(pdf: bytes) -> int:
    listing = subprocess.run(["pdfimages", "-list", "-"], input=pdf, capture_output=True, check=False)
    if listing.returncode != 0:  # older poppler reads no stdin: go through a file
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            listing = subprocess.run(["pdfimages", "-list", handle.name], capture_output=True, check=True)
    rows = [line.split() for line in listing.stdout.decode().splitlines()[2:]]  # after two header lines
    return sum(1 for row in rows if row[2] == "image")  # not its "smask" (the transparency)


def stored_files(settings) -> list[str]:
    return sorted(str(path) for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


def _read(name: str | None) -> bytes:
    assert name
    with default_storage.open(name) as handle:
        return handle.read()


def _consent(rec, actor=None):
    return services.document_create_from_template(
        actor=actor or rec.doctor,
        patient=rec.patient,
        template=rec.consent,
        fields={"procedure": "Fillers", "risks": "Bruising"},
    )


# --- the picture ------------------------------------------------------------------------------------------------


def test_a_drawn_signature_is_cropped_to_its_strokes_in_black_on_transparent() -> None:
    cleaned = Image.open(io.BytesIO(signatures.clean_signature(drawn())))
    assert cleaned.format == "PNG" and cleaned.mode == "RGBA"
    # strokes span x 150..450, y 60..130 (+ the pen width), plus an 8 px margin each side
    assert 300 <= cleaned.width <= 330 and 70 <= cleaned.height <= 100
    pixels: list[Any] = list(cleaned.get_flattened_data())
    assert pixels[0][3] == 0
    assert {pixel[:3] for pixel in pixels if pixel[3]} == {(0, 0, 0)}


def test_a_white_canvas_background_is_not_ink() -> None:
    cleaned = Image.open(io.BytesIO(signatures.clean_signature(drawn(background=(255, 255, 255, 255)))))
    assert cleaned.width <= 330


@pytest.mark.parametrize(
    "picture",
    [
        pytest.param(drawn(strokes=False), id="blank"),
        pytest.param(drawn(strokes=False, background=(255, 255, 255, 255)), id="white"),
    ],
)
def test_an_empty_box_is_refused(picture: bytes) -> None:
    with pytest.raises(Invalid) as refused:
        signatures.clean_signature(picture)
    assert refused.value.errors == {"signature": ["Sign in the box first."]}


def test_a_dot_is_not_a_signature() -> None:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((300, 100, 304, 104), fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    with pytest.raises(Invalid):
        signatures.clean_signature(out.getvalue())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(drawn()[:-20], id="truncated"),
        pytest.param(corpus.jpeg(), id="jpeg"),
        pytest.param(b"<svg onload=alert(1)>", id="svg"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\0" * (signatures.MAX_BYTES + 1), id="too-large"),
    ],
)
def test_anything_but_a_whole_png_is_refused(data: bytes) -> None:
    with pytest.raises(Invalid) as refused:
        signatures.clean_signature(data)
    assert list(refused.value.errors) == ["signature"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Sign in the box first."),
        ("data:image/svg+xml;base64,PHN2Zz4=", "The signature could not be read. Clear the box and sign again."),
        ("data:image/png;base64,!!!", "The signature could not be read. Clear the box and sign again."),
    ],
)
def test_a_bad_data_url_gets_a_clear_error(value: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        signatures.decode_data_url(value)
    assert refused.value.errors == {"signature": [message]}


def test_a_data_url_decodes_to_the_png() -> None:
    assert signatures.decode_data_url(data_url(drawn())) == drawn()


# --- signing a document -----------------------------------------------------------------------------------------


def test_signing_renders_a_new_version_with_the_signature_printed_and_kept(rec) -> None:
    document = _consent(rec)
    unsigned = _read(current(document).file.name)
    assert pdf_image_count(unsigned) == 0

    version = services.document_sign(actor=rec.registrar, document=document, image=drawn(), signer="")

    assert version.number == 2 and current(document) == version
    assert version.fields == {"procedure": "Fillers", "risks": "Bruising", "agreed": False}
    assert version.signed_by == str(rec.patient) and version.signed_at is not None
    assert _read(version.signature.name) == signatures.clean_signature(drawn())
    pdf = _read(version.file.name)
    assert pdf_image_count(pdf) == 1
    text = pdf_text(pdf)
    assert str(rec.patient) in text and "Fillers" in text
    # the document's author stays on the doctor's signature line, not the registrar who held the tablet
    assert "Dana" in text
    event = AuditEvent.objects.get(object_type="records.document", object_id=str(document.pk), action="document.signed")
    assert event.before is not None and event.after is not None
    assert event.actor_id == rec.registrar.pk and event.after["signed_by"] == str(rec.patient)
    assert event.before["version"] == 1 and event.after["version"] == 2
    entries = TimelineEntry.objects.filter(patient=rec.patient, ref_type="records.document", ref_id=str(document.pk))
    assert entries.count() == 2 and "Consent for fillers" in entries.latest("id").title


def test_a_representative_signs_under_their_own_name(rec) -> None:
    version = services.document_sign(
        actor=rec.registrar, document=_consent(rec), image=drawn(), signer="  Maria   Petrova (mother) "
    )
    assert version.signed_by == "Maria Petrova (mother)"
    assert "Maria Petrova (mother)" in pdf_text(_read(version.file.name))


def test_sending_the_same_picture_again_makes_no_second_version(rec) -> None:
    document = _consent(rec)
    first = services.document_sign(actor=rec.registrar, document=document, image=drawn())
    again = services.document_sign(actor=rec.registrar, document=document, image=drawn())
    assert again.pk == first.pk and document.versions.count() == 2


def test_editing_a_signed_document_makes_an_unsigned_version(rec) -> None:
    document = _consent(rec)
    services.document_sign(actor=rec.registrar, document=document, image=drawn())
    edited = services.document_revise(actor=rec.doctor, document=document, fields={"procedure": "Botox"})
    assert edited.number == 3 and edited.signed_at is None and not edited.signature
    assert pdf_image_count(_read(edited.file.name)) == 0


def test_uploaded_documents_are_signed_on_paper_not_on_the_screen(rec) -> None:
    document = services.document_upload(
        actor=rec.registrar,
        patient=rec.patient,
        kind=DocumentKind.INFORMED_CONSENT,
        title="Signed consent",
        upload=corpus.pdf(),
    )
    with pytest.raises(Invalid) as refused:
        services.document_sign(actor=rec.registrar, document=document, image=drawn())
    assert "scan" in refused.value.errors["signature"][0]
    assert document.versions.count() == 1


def test_an_erroneous_document_cannot_be_signed(rec) -> None:
    document = _consent(rec)
    services.document_mark_erroneous(actor=rec.doctor, document=document, reason="wrong patient")
    with pytest.raises(Conflict):
        services.document_sign(actor=rec.registrar, document=document, image=drawn())


@pytest.mark.parametrize("who", ["operator", "patient_user", "outsider"])
def test_who_may_not_sign(rec, who: str, settings) -> None:
    document = _consent(rec)
    files_before = stored_files(settings)
    with pytest.raises(NotAllowed):
        services.document_sign(actor=getattr(rec, who), document=document, image=drawn())
    assert document.versions.count() == 1
    assert stored_files(settings) == files_before


def test_a_refused_picture_stores_nothing(rec, settings) -> None:
    document = _consent(rec)
    files_before = stored_files(settings)
    with pytest.raises(Invalid):
        services.document_sign(actor=rec.registrar, document=document, image=drawn(strokes=False))
    assert stored_files(settings) == files_before
    assert document.versions.count() == 1


# --- the page ---------------------------------------------------------------------------------------------------


def test_the_signing_page_saves_a_signature_and_goes_back_to_the_document(rec, client) -> None:
    document = _consent(rec)
    client.force_login(rec.registrar)
    url = reverse("records:sign", args=[document.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'id="sign-pad"' in page.content and str(rec.patient).encode() in page.content

    response = client.post(url, {"signer": "", "signature": data_url(drawn())})
    assert response.status_code == 302 and response["Location"] == reverse("records:detail", args=[document.pk])
    assert current(document).signed_at is not None
    detail = client.get(response["Location"])
    assert b"data-signed" in detail.content and b"Sign again on the screen" in detail.content


def test_signing_on_the_page_completes_the_mandatory_consent_and_an_edit_undoes_it(rec, gdpr_rule, client) -> None:
    from kabinet.records import selectors

    document = _consent(rec)
    card = reverse("patients:card", args=[rec.patient.pk]) + "?tab=consents"
    client.force_login(rec.registrar)
    html = client.get(card).content.decode()
    assert 'data-state="signature_missing"' in html and "1 signature missing" in html
    url = reverse("records:sign", args=[document.pk])
    assert url in html  # the consents tab links to signing this very document
    assert client.post(url, {"signer": "", "signature": data_url(drawn())}).status_code == 302
    html = client.get(card).content.decode()
    assert 'data-state="valid"' in html and "Documents complete" in html
    services.document_revise(actor=rec.doctor, document=document, fields={"procedure": "Botox"})
    rec.patient.refresh_from_db()
    (check,) = selectors.consent_checks(patient=rec.patient)
    assert (check.state, check.document) == ("signature_missing", document)


def test_the_signing_page_shows_the_error_and_keeps_the_document(rec, client) -> None:
    document = _consent(rec)
    client.force_login(rec.registrar)
    response = client.post(
        reverse("records:sign", args=[document.pk]), {"signer": "", "signature": data_url(drawn(strokes=False))}
    )
    assert response.status_code == 422
    assert "Sign in the box first." in response.content.decode()
    assert document.versions.count() == 1


@pytest.mark.parametrize(("language", "message"), [("ru", "Сначала распишитесь"), ("bg", "Първо се подпишете")])
def test_the_signing_page_speaks_the_users_language(rec, client, language: str, message: str) -> None:
    document = _consent(rec)
    rec.registrar.language = language
    rec.registrar.save(update_fields=["language"])
    client.force_login(rec.registrar)
    response = client.post(reverse("records:sign", args=[document.pk]), {"signature": ""})
    assert response.status_code == 422
    assert message in response.content.decode()


def test_the_sign_button_is_only_on_template_documents_for_those_who_may(rec, client) -> None:
    document = _consent(rec)
    scan = services.document_upload(
        actor=rec.registrar,
        patient=rec.patient,
        kind=DocumentKind.INFORMED_CONSENT,
        title="Signed consent",
        upload=corpus.pdf(),
    )
    sign = reverse("records:sign", args=[document.pk]).encode()
    client.force_login(rec.registrar)
    assert sign in client.get(reverse("records:detail", args=[document.pk])).content
    assert (
        reverse("records:sign", args=[scan.pk]).encode()
        not in client.get(reverse("records:detail", args=[scan.pk])).content
    )
    assert client.get(reverse("records:sign", args=[scan.pk])).status_code == 403
    client.force_login(rec.operator)
    assert client.get(reverse("records:sign", args=[document.pk])).status_code in (403, 404)
    client.force_login(rec.outsider)
    assert client.get(reverse("records:sign", args=[document.pk])).status_code == 404
    assert Document.objects.get(pk=document.pk).versions.count() == 1
