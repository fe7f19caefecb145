"""Real bytes for the file checks, made in the test run: valid files of each accepted kind and the dangerous ones."""

from __future__ import annotations

import io
import zipfile

from PIL import Image

GPS = {1: "N", 2: (42.0, 41.0, 50.0), 3: "E", 4: (23.0, 19.0, 20.0)}  # Sofia


def _image(fmt: str, *, gps: bool = False, mode: str = "RGB", **options: object) -> bytes:
    image = Image.new(mode, (64, 48), "teal")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 1  # Orientation
    if gps:
        exif[0x8825] = GPS
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), **options)
    return out.getvalue()


def jpeg(*, gps: bool = False) -> bytes:
    return _image("JPEG", gps=gps, quality=90)


def png(*, gps: bool = False) -> bytes:
    return _image("PNG", gps=gps)


def webp(*, gps: bool = False) -> bytes:
    return _image("WEBP", gps=gps, quality=80)


def heic(*, gps: bool = False) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _image("HEIF", gps=gps, quality=80)


def pdf() -> bytes:
    """A real one-page PDF (Pillow writes a complete file with xref and trailer)."""
    out = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(out, "PDF")
    return out.getvalue()


def pdf_with(body: bytes) -> bytes:
    """A small hand-written PDF whose catalog carries `body` (an action, a script…)."""
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + body + b" >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def pdf_javascript() -> bytes:
    return pdf_with(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>")


def pdf_javascript_escaped() -> bytes:
    return pdf_with(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>")


def pdf_script_polyglot() -> bytes:
    """A PDF that a browser sniffing the bytes would also run as HTML."""
    real = pdf()
    return real[:-6] + b"\n% <script>alert(document.cookie)</script>\n" + real[-6:]


def pdf_javascript_in_object_stream() -> bytes:
    import zlib

    objects = zlib.compress(b"3 0 << /S /JavaScript /JS (app.alert(1)) >>")
    return (
        b"%PDF-1.5\n1 0 obj\n<< /Type /Catalog /OpenAction 3 0 R >>\nendobj\n"
        b"4 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
        + str(len(objects)).encode()
        + b" >>\nstream\n"
        + objects
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def truncated_jpeg() -> bytes:
    data = Image.new("RGB", (400, 300), "orange")
    out = io.BytesIO()
    data.save(out, "JPEG", quality=95)
    return out.getvalue()[: len(out.getvalue()) // 2]


def exe() -> bytes:
    """The start of a Windows program (MZ header, DOS stub message, PE signature)."""
    stub = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"
    return stub + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21This program cannot be run in DOS mode.\r\r\n$" + b"PE\x00\x00"


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 57


def svg_with_script() -> bytes:
    return b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def html() -> bytes:
    return b"<!DOCTYPE html>\n<html><body><script>fetch('/api/v1/patients')</script></body></html>"


def jpeg_with_html_comment() -> bytes:
    """A JPEG whose comment segment makes the first bytes look like a web page to a sniffing browser."""
    image = Image.new("RGB", (32, 32), "red")
    out = io.BytesIO()
    image.save(out, "JPEG", comment=b"<html><body onload=alert(1)>")
    return out.getvalue()


def jpeg_with_zip_appended() -> bytes:
    return jpeg() + zip_archive()


def jpeg_with_pdf_header() -> bytes:
    """A JPEG/PDF polyglot: PDF readers accept %PDF- anywhere in the first kilobyte."""
    image = Image.new("RGB", (32, 32), "red")
    out = io.BytesIO()
    image.save(out, "JPEG", comment=b"%PDF-1.4\n1 0 obj << >> endobj")
    return out.getvalue()


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("invoice.pdf.exe", exe())
    return out.getvalue()


def _office(content_types: bytes, parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="xml" ContentType="application/xml"/>'
)


def docx() -> bytes:
    return _office(
        _TYPES + b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.wordprocessingml.document.main+xml"/></Types>',
        {"word/document.xml": b"<w:document/>"},
    )


def xlsx() -> bytes:
    return _office(
        _TYPES + b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        {"xl/workbook.xml": b"<workbook/>"},
    )


def docm() -> bytes:
    """A Word file with macros (what a .docm is), renamed by the sender to .docx."""
    return _office(
        _TYPES + b'<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.'
        b'macroEnabled.main+xml"/><Override PartName="/word/vbaProject.bin" ContentType="application/'
        b'vnd.ms-office.vbaProject"/></Types>',
        {"word/document.xml": b"<w:document/>", "word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"},
    )


def big(size: int) -> bytes:
    """`size` bytes that start like a PDF (the size check must refuse them before anything else)."""
    return b"%PDF-1.4\n" + b"0" * (size - 9)
