"""The file checks on a corpus of real bytes: what is accepted, what is refused and why, and GPS removed from photos."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kabinet.records.files import GPS_IFD_TAG, FileRefused, FileTooLarge, check_upload
from tests.records import corpus


def _gps(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD_TAG))


@pytest.mark.parametrize(
    ("make", "content_type", "extension"),
    [
        (corpus.pdf, "application/pdf", "pdf"),
        (corpus.jpeg, "image/jpeg", "jpg"),
        (corpus.png, "image/png", "png"),
        (corpus.webp, "image/webp", "webp"),
        (corpus.heic, "image/jpeg", "jpg"),  # HEIC is turned into JPEG, which every browser shows
    ],
)
def test_accepted_kinds_are_told_by_their_bytes_not_their_name(
    make: Callable[[], bytes], content_type: str, extension: str
) -> None:
    checked = check_upload(SimpleUploadedFile("whatever.txt", make(), content_type="text/plain"))
    assert (checked.content_type, checked.extension) == (content_type, extension)
    assert checked.original_name == "whatever.txt"
    assert checked.size == len(checked.content) > 0 and len(checked.sha256) == 64


@pytest.mark.parametrize("make", [corpus.jpeg, corpus.png, corpus.webp, corpus.heic])
def test_gps_is_removed_from_photos_and_the_rest_of_exif_stays(make: Callable[..., bytes]) -> None:
    original = make(gps=True)
    if make is not corpus.heic:
        assert _gps(original), "the corpus photo must carry GPS to prove anything"
    checked = check_upload(original, name="IMG_0001.jpg")
    assert _gps(checked.content) == {}
    exif = Image.open(io.BytesIO(checked.content)).getexif()
    assert exif.get(0x010F) == "PhoneMaker" and exif.get(0x0112) == 1
    if make is not corpus.heic:
        assert checked.location_removed


def test_a_photo_without_gps_is_not_reported_as_stripped() -> None:
    assert not check_upload(corpus.jpeg()).location_removed


def test_heic_becomes_jpeg() -> None:
    checked = check_upload(corpus.heic(), name="IMG_1234.HEIC")
    assert checked.converted_from == "image/heic"
    assert Image.open(io.BytesIO(checked.content)).format == "JPEG"


@pytest.mark.parametrize(("make", "content_type"), [(corpus.docx, "wordprocessingml"), (corpus.xlsx, "spreadsheetml")])
def test_staff_may_upload_docx_and_xlsx(make: Callable[[], bytes], content_type: str) -> None:
    checked = check_upload(make(), name="contract.docx", allow_office=True)
    assert content_type in checked.content_type
    with pytest.raises(FileRefused) as refused:
        check_upload(make(), name="contract.docx")  # patients: no office files
    assert refused.value.code == "archive"


REFUSED = [
    ("exe renamed .jpg", corpus.exe, "photo.jpg", "executable"),
    ("ELF program", corpus.elf, "scan.pdf", "executable"),
    ("SVG with a script", corpus.svg_with_script, "logo.svg", "markup"),
    ("HTML renamed .pdf", corpus.html, "result.pdf", "markup"),
    ("PDF with a <script> polyglot", corpus.pdf_script_polyglot, "result.pdf", "active_content"),
    ("PDF with JavaScript", corpus.pdf_javascript, "result.pdf", "active_content"),
    ("PDF with escaped /J#61vaScript", corpus.pdf_javascript_escaped, "result.pdf", "active_content"),
    ("PDF with JavaScript in an object stream", corpus.pdf_javascript_in_object_stream, "r.pdf", "active_content"),
    (
        "PDF that launches a program",
        lambda: corpus.pdf_with(b"/OpenAction << /S /Launch /F (cmd.exe) >>"),
        "a.pdf",
        "active_content",
    ),
    (
        "PDF with an embedded file",
        lambda: corpus.pdf_with(b"/Names << /EmbeddedFiles 9 0 R >>"),
        "a.pdf",
        "active_content",
    ),
    ("encrypted PDF", lambda: corpus.pdf_with(b"/Encrypt 5 0 R"), "a.pdf", "encrypted"),
    ("JPEG starting like a web page", corpus.jpeg_with_html_comment, "a.jpg", "active_content"),
    ("JPEG that is also a zip", corpus.jpeg_with_zip_appended, "a.jpg", "active_content"),
    ("JPEG that is also a PDF", corpus.jpeg_with_pdf_header, "a.jpg", "active_content"),
    ("zip archive", corpus.zip_archive, "photos.zip", "archive"),
    ("Word file with macros renamed .docx", corpus.docm, "contract.docx", "macros"),
    ("truncated JPEG", corpus.truncated_jpeg, "broken.jpg", "damaged"),
    ("truncated PDF", lambda: corpus.pdf()[:-200], "broken.pdf", "damaged"),
    ("plain text", lambda: b"just some notes", "notes.pdf", "type_not_accepted"),
    ("empty file", lambda: b"", "empty.pdf", "file_empty"),
    ("old Word file", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "a.doc", "office_legacy"),
    ("gzip archive", lambda: b"\x1f\x8b\x08\x00" + b"\x00" * 20, "a.pdf", "archive"),
]


@pytest.mark.parametrize(("what", "make", "name", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_dangerous_files_are_refused_with_a_reason(what: str, make: Callable[[], bytes], name: str, code: str) -> None:
    with pytest.raises(FileRefused) as refused:
        check_upload(SimpleUploadedFile(name, make()), allow_office=True)
    assert refused.value.code == code, what
    assert refused.value.status == 422
    assert refused.value.errors["file"] and str(refused.value.message)


def test_a_21_mb_file_is_too_large(settings) -> None:
    assert settings.RECORDS_MAX_UPLOAD_BYTES == 20 * 1024 * 1024
    with pytest.raises(FileTooLarge) as too_large:
        check_upload(SimpleUploadedFile("big.pdf", corpus.big(21 * 1024 * 1024)))
    assert too_large.value.status == 413 and "20" in str(too_large.value.message)


def test_the_limit_comes_from_the_setting_and_streams_are_read_only_up_to_it(settings) -> None:
    settings.RECORDS_MAX_UPLOAD_BYTES = 1000
    stream = io.BytesIO(corpus.big(5000))
    with pytest.raises(FileTooLarge):
        check_upload(stream)
    assert stream.tell() <= 1001 + 1024 * 1024  # never read past the limit's chunk
    check_upload(corpus.pdf_with(b""))  # small enough


def test_uploaded_names_are_cleaned_for_display_only() -> None:
    checked = check_upload(corpus.pdf(), name='..\\..\\etc/"passwd<script>.pdf')
    assert checked.original_name == "passwdscript.pdf"


@pytest.mark.parametrize("make", [corpus.jpeg, corpus.png, corpus.webp, corpus.heic])
def test_truncated_photos_are_refused_even_when_pillow_is_told_to_pad_them(make, monkeypatch) -> None:
    """WeasyPrint sets ImageFile.LOAD_TRUNCATED_IMAGES when imported; the check must not depend on it."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    whole = make(gps=True)
    check_upload(whole)
    with pytest.raises(FileRefused) as refused:
        check_upload(whole[: len(whole) * 2 // 3])
    assert refused.value.code == "damaged"


def test_a_phone_photo_with_a_video_appended_is_accepted_and_the_video_dropped() -> None:
    """Motion photos are a JPEG followed by an MP4; the picture is whole, what follows it is not kept."""
    import random

    photo = corpus.jpeg(gps=True)
    video = b"\x00\x00\x00\x18ftypmp42" + random.Random(1).randbytes(200_000)
    checked = check_upload(photo + video)
    assert checked.content_type == "image/jpeg" and video[:12] not in checked.content
    assert _gps(checked.content) == {}
