"""Checks every uploaded file before it is stored: kind by magic bytes, size, no active content, no GPS in photos.

`check_upload()` is the one public entry point; every upload path (staff pages, the portal, the API) calls it
and stores only what it returns. Files are dangerous input, so the rules are narrow on purpose:

- accepted by their first bytes, never by name or declared type: PDF, JPEG, PNG, WEBP, HEIC; for staff also DOCX
  and XLSX (a zip whose [Content_Types].xml declares the main part, with no macros, ActiveX or embedded programs);
- at most settings.RECORDS_MAX_UPLOAD_BYTES;
- refused: programs, archives, HTML/SVG/XML, old binary Office files, polyglots (markup or a script tag anywhere
  in the head, `<script` anywhere, another format's signature near the start, a zip directory at the end), PDFs
  with JavaScript, launch actions, embedded files or forms that submit, encrypted PDFs (they cannot be checked),
  damaged or truncated files;
- images are decoded and written again by Pillow, which drops whatever follows the picture, comments and XMP, and
  the GPS block of the EXIF data (the rest of EXIF, e.g. orientation, stays); HEIC becomes JPEG, which every
  browser shows.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any, NoReturn

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from kabinet.core.exceptions import DomainError, Invalid

GPS_IFD_TAG = 0x8825  # 34853, GPSInfo
HEAD = 4096  # where browsers and other readers look for a format's signature or markup
TAIL = 65_536 + 22  # the zip end-of-central-directory record must lie within the last 64 KiB + 22 bytes
PDF_NAME_BUDGET = 64 * 1024 * 1024  # bytes of PDF object streams we are willing to inflate, all together
OFFICE_UNPACKED_LIMIT = 200 * 1024 * 1024
OFFICE_MAX_ENTRIES = 5000

PDF_ACTIVE_NAMES = frozenset(
    {b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA", b"SubmitForm"}
    | {b"ImportData"}
)
OFFICE_TYPES = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
}
OFFICE_FORBIDDEN_MARKERS = (b"macroenabled", b"vbaproject", b"activex", b"oleobject", b"vnd.ms-office.vba")
OFFICE_FORBIDDEN_SUFFIXES = (".bin", ".exe", ".dll", ".js", ".vbs", ".ps1", ".bat", ".cmd", ".scr", ".jar", ".hta")
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}

# Searched in the first bytes of every file (what a browser would sniff) and in a PDF's dictionaries and object
# streams; never in binary data as a whole, where a short tag would turn up by chance.
_MARKUP = re.compile(
    rb"<\s*(?:script|html|svg|iframe|object|embed|body|head|meta|!doctype|\?php)[\s>/]|javascript:", re.I
)
_SCRIPT_ANYWHERE = re.compile(rb"<\s*script[\s>/]", re.I)
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
_PDF_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")

_EXECUTABLE_SIGNATURES = (
    b"MZ",  # Windows PE
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal / Java class
    b"#!",  # scripts
    b"\x00asm",  # WebAssembly
)
_ARCHIVE_SIGNATURES = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
    b"MSCF",  # cabinet
    b"\x28\xb5\x2f\xfd",  # zstd
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc/.xls/.msi: macros and programs live here


class FileRefused(Invalid):
    """The file is not accepted (422); `code` says why, `errors["file"]` says what to do instead."""

    code = "file_refused"

    def __init__(self, message: Any, *, code: str = "file_refused") -> None:
        super().__init__(message, code=code, errors={"file": [str(message)]})


class FileTooLarge(DomainError):
    status = 413
    code = "file_too_large"

    def __init__(self, limit: int) -> None:
        message = _("The file is larger than %(limit)s. Upload a smaller file or scan at a lower resolution.") % {
            "limit": filesizeformat(limit)
        }
        super().__init__(message, errors={"file": [message]})


@dataclass(frozen=True)
class CheckedFile:
    """What may be stored: the (possibly rewritten) bytes and what they are."""

    content: bytes
    content_type: str
    extension: str
    original_name: str
    sha256: str
    converted_from: str = ""  # e.g. "image/heic" when a HEIC photo became JPEG
    location_removed: bool = False  # the photo carried GPS coordinates, which were removed

    @property
    def size(self) -> int:
        return len(self.content)


def max_upload_bytes() -> int:
    return int(settings.RECORDS_MAX_UPLOAD_BYTES)


def check_upload(upload: Any, *, name: str = "", allow_office: bool = False) -> CheckedFile:
    """Read an uploaded file (a Django UploadedFile, a binary file object or bytes) and return what may be stored,
    or raise FileTooLarge (413) / FileRefused (422) with a message in the current language.

    `allow_office` admits DOCX and XLSX (staff scans and contracts); patients upload PDFs and photos only."""
    limit = max_upload_bytes()
    data = _read_limited(upload, limit)
    original_name = _clean_name(name or getattr(upload, "name", "") or "")
    if not data:
        raise FileRefused(_("The file is empty. Choose the file again."), code="file_empty")
    kind = _sniff(data)
    if kind is None:
        _refuse_unknown(data, allow_office)
    if kind == "zip":
        if not allow_office:
            raise FileRefused(_("Archives are not accepted. Upload the files inside it one by one."), code="archive")
        return _checked_office(data, original_name)
    _refuse_polyglot(data, kind)
    if kind == "pdf":
        _check_pdf(data)
        return _result(data, "application/pdf", "pdf", original_name)
    return _checked_image(data, kind, original_name)


# --- reading and sniffing --------------------------------------------------------------------------------------


def _read_limited(upload: Any, limit: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        if len(upload) > limit:
            raise FileTooLarge(limit)
        return bytes(upload)
    size = getattr(upload, "size", None)
    if isinstance(size, int) and size > limit:
        raise FileTooLarge(limit)
    if hasattr(upload, "seek"):
        upload.seek(0)
    chunks: list[bytes] = []
    total = 0
    stream: IO[bytes] = upload
    while True:
        chunk = stream.read(min(1024 * 1024, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise FileTooLarge(limit)
    return b"".join(chunks)


def _clean_name(name: str) -> str:
    """Only for showing: the last path part, printable, at most 255 characters. Never used to store or serve."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable() and ch not in '"<>')[:255]


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return "heic"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    return None


def _refuse_unknown(data: bytes, allow_office: bool) -> NoReturn:
    head = data[:HEAD]
    stripped = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    if any(data.startswith(sig) for sig in _EXECUTABLE_SIGNATURES):
        raise FileRefused(_("Programs and scripts are not accepted. Upload a PDF or a photo."), code="executable")
    if any(data.startswith(sig) for sig in _ARCHIVE_SIGNATURES) or head[257:262] == b"ustar":
        raise FileRefused(_("Archives are not accepted. Upload the files inside it one by one."), code="archive")
    if data.startswith(_OLE2):
        raise FileRefused(
            _("Old Office files (.doc, .xls) can carry macros. Save the file as .docx, .xlsx or PDF and try again."),
            code="office_legacy",
        )
    if stripped.startswith(b"<") or _MARKUP.search(head):
        raise FileRefused(
            _("Web pages, SVG and XML files are not accepted: they can run scripts. Upload a PDF or a photo."),
            code="markup",
        )
    if allow_office:
        message = _(
            "This kind of file is not accepted. Upload a PDF, a photo (JPEG, PNG, WEBP, HEIC) or a .docx/.xlsx."
        )
    else:
        message = _("This kind of file is not accepted. Upload a PDF or a photo (JPEG, PNG, WEBP or HEIC).")
    raise FileRefused(message, code="type_not_accepted")


def _active_content() -> FileRefused:
    return FileRefused(
        _(
            "The file contains active content (a script or an embedded program) and was refused. Save it again as a "
            "plain PDF or photo, or upload a scan."
        ),
        code="active_content",
    )


def _damaged() -> FileRefused:
    return FileRefused(_("The file is damaged or incomplete. Upload it again or choose another file."), code="damaged")


def _refuse_polyglot(data: bytes, kind: str) -> None:
    """A file that is also something else: markup a browser would sniff, a script tag, another format near the
    start, or a zip directory at the end (zip readers start from the end, so a picture can also be an archive)."""
    head = data[:HEAD]
    if _MARKUP.search(head) or _SCRIPT_ANYWHERE.search(data):
        raise _active_content()
    if b"\x7fELF" in head or b"This program cannot be run in DOS mode" in head or b"PK\x03\x04" in head:
        raise _active_content()
    if kind != "pdf" and b"%PDF-" in data[:1024]:  # PDF readers accept the signature anywhere in the first 1 KiB
        raise _active_content()
    if b"PK\x05\x06" in data[-TAIL:]:
        raise _active_content()


# --- PDF ---------------------------------------------------------------------------------------------------------


def _pdf_names(chunk: bytes) -> set[bytes]:
    """Every /Name in the chunk with #xx escapes decoded (/J#61vaScript is /JavaScript)."""
    names = set()
    for match in _PDF_NAME.finditer(chunk):
        raw = match.group(1)
        if b"#" in raw:
            raw = _PDF_HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
        names.add(raw)
    return names


def _pdf_parts(data: bytes) -> tuple[bytes, list[tuple[set[bytes], bytes]]]:
    """The file without stream bodies (dictionaries, strings, the trailer: where actions are declared), and each
    stream as (names of its dictionary, raw body). Stream bodies are left out of the name search because binary
    image data would match short names like /JS by chance."""
    structure: list[bytes] = []
    streams: list[tuple[set[bytes], bytes]] = []
    position = 0
    for match in _PDF_STREAM.finditer(data):
        if match.start() < position:
            continue  # the word "stream" inside a body we already skipped
        dictionary = data[max(position, match.start() - 2048) : match.start()]
        if b"<<" in dictionary:
            dictionary = dictionary[dictionary.rfind(b"<<") :]
        end = data.find(b"endstream", match.end())
        end = len(data) if end == -1 else end
        structure.append(data[position : match.start()])
        streams.append((_pdf_names(dictionary), data[match.end() : end]))
        position = end
    structure.append(data[position:])
    return b"".join(structure), streams


def _too_complex() -> FileRefused:
    return FileRefused(
        _("The PDF is too complex to check. Print it to a new PDF or upload a scan."), code="too_complex"
    )


def _object_streams(streams: list[tuple[set[bytes], bytes]]) -> list[bytes]:
    """Inflated object streams (/Type /ObjStm): dictionaries with /JS can hide there from a plain byte search.
    Only Flate (or no filter) is read; any other filter or a predictor on an object stream is refused, since
    names could hide behind it."""
    found: list[bytes] = []
    budget = PDF_NAME_BUDGET
    for names, raw in streams:
        if b"ObjStm" not in names:
            continue
        filters = names & {b"ASCIIHexDecode", b"ASCII85Decode", b"LZWDecode", b"RunLengthDecode", b"Crypt", b"AHx"}
        if filters or b"Predictor" in names or b"A85" in names or b"LZW" in names:
            raise _too_complex()
        if b"FlateDecode" not in names and b"Fl" not in names:
            found.append(raw)
            continue
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(raw, budget + 1)
        except zlib.error as exc:
            raise _damaged() from exc
        if len(inflated) > budget or inflater.unconsumed_tail:
            raise _too_complex()
        budget -= len(inflated)
        found.append(inflated)
    return found


def _check_pdf(data: bytes) -> None:
    if b"%%EOF" not in data[-1024:]:
        raise _damaged()
    structure, streams = _pdf_parts(data)
    if _MARKUP.search(structure):
        raise _active_content()
    names = _pdf_names(structure)
    if b"Encrypt" in names:
        raise FileRefused(
            _("Password-protected or encrypted PDFs cannot be checked. Upload a copy without a password or a scan."),
            code="encrypted",
        )
    for inflated in _object_streams(streams):
        names |= _pdf_names(inflated)
        if _MARKUP.search(inflated):
            raise _active_content()
    if names & PDF_ACTIVE_NAMES:
        raise _active_content()


# --- images ------------------------------------------------------------------------------------------------------

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}


def _jpeg_end(data: bytes) -> int | None:
    """Where the main picture's end-of-image marker ends, walking the segments and the scans' coded data (in which
    0xFF is always followed by 0x00 or a restart marker); None when the picture stops before it. Data after the
    marker (phones append videos or second pictures) does not matter: the picture is written again anyway."""
    position, size = 2, len(data)
    while position + 2 <= size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:
            return position + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 2
            continue
        if position + 4 > size:
            return None
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if end > size or end < position + 4:
            return None
        position = end
        if marker != 0xDA:
            continue
        while True:  # the scan's coded data runs to the next real marker
            position = data.find(b"\xff", position)
            if position == -1 or position + 1 >= size:
                return None
            following = data[position + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                position += 2
            elif following == 0xFF:
                position += 1
            else:
                break
    return None


def _complete(data: bytes, kind: str) -> bool:
    """The file's own structure says it is whole. Checked here rather than left to Pillow, because Pillow pads a
    truncated picture silently once anything in the process sets ImageFile.LOAD_TRUNCATED_IMAGES — and WeasyPrint
    sets it when it is imported."""
    if kind == "jpeg":
        return _jpeg_end(data) is not None
    if kind == "png":
        position = 8
        while position + 12 <= len(data):
            length = int.from_bytes(data[position : position + 4], "big")
            end = position + 12 + length
            if end > len(data):
                return False
            chunk_type = data[position + 4 : position + 8]
            crc = int.from_bytes(data[end - 4 : end], "big")
            if zlib.crc32(data[position + 4 : end - 4]) != crc:
                return False
            if chunk_type == b"IEND":
                return True
            position = end
        return False
    if kind == "webp":
        return int.from_bytes(data[4:8], "little") + 8 <= len(data)
    # HEIC: ISO base media boxes must tile the file.
    position = 0
    while position < len(data):
        if position + 8 > len(data):
            return False
        size = int.from_bytes(data[position : position + 4], "big")
        if size == 1:
            if position + 16 > len(data):
                return False
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        elif size == 0:
            return True  # the last box runs to the end of the file
        if size < 8 or position + size > len(data):
            return False
        position += size
    return True


def _checked_image(data: bytes, kind: str, original_name: str) -> CheckedFile:
    from PIL import Image

    if not _complete(data, kind):
        raise _damaged()
    if kind == "heic":
        try:
            import pillow_heif
        except ImportError:  # pragma: no cover - pillow-heif is a pinned dependency
            raise FileRefused(_("HEIC photos cannot be read here. Upload a JPEG instead."), code="heic") from None
        pillow_heif.register_heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
            image.load()  # decodes every pixel: a truncated file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise FileRefused(_("The picture is too large. Upload a smaller photo."), code="too_many_pixels") from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError… for damaged data
        raise _damaged() from exc
    exif = image.getexif()
    had_location = GPS_IFD_TAG in exif
    exif.pop(GPS_IFD_TAG, None)
    exif_bytes = exif.tobytes() if len(exif) else b""
    icc = image.info.get("icc_profile")
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile"):
        image.info.pop(key, None)
    out = io.BytesIO()
    options: dict[str, Any] = {"exif": exif_bytes} if exif_bytes else {}
    if icc:
        options["icc_profile"] = icc
    try:
        if kind == "jpeg":
            image.save(out, "JPEG", quality="keep", subsampling="keep", **options)
            content_type, extension = "image/jpeg", "jpg"
        elif kind == "png":
            if "transparency" in image.info:
                options["transparency"] = image.info["transparency"]
            image.save(out, "PNG", **options)
            content_type, extension = "image/png", "png"
        elif kind == "webp":
            image.save(out, "WEBP", quality=90, **options)
            content_type, extension = "image/webp", "webp"
        else:  # HEIC → JPEG: every browser shows it
            rgb = image.convert("RGB") if image.mode not in ("RGB", "L") else image
            rgb.save(out, "JPEG", quality=90, **options)
            content_type, extension = "image/jpeg", "jpg"
    except Exception as exc:
        raise _damaged() from exc
    return _result(
        out.getvalue(),
        content_type,
        extension,
        original_name,
        converted_from="image/heic" if kind == "heic" else "",
        location_removed=had_location,
    )


# --- DOCX / XLSX ------------------------------------------------------------------------------------------------


def _checked_office(data: bytes, original_name: str) -> CheckedFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _damaged() from exc
    not_office = FileRefused(
        _("Archives are not accepted. Upload the files inside it one by one."),
        code="archive",
    )
    names = {info.filename for info in entries}
    if "[Content_Types].xml" not in names:
        raise not_office
    if len(entries) > OFFICE_MAX_ENTRIES or sum(info.file_size for info in entries) > OFFICE_UNPACKED_LIMIT:
        raise FileRefused(_("The file is too complex to check. Save it as PDF and try again."), code="too_complex")
    macros = FileRefused(
        _(
            "Office files with macros or embedded programs are not accepted. "
            "Save it as .docx/.xlsx without macros, or as PDF."
        ),
        code="macros",
    )
    for info in entries:
        lowered = info.filename.lower()
        if info.flag_bits & 0x1:
            raise FileRefused(
                _("Password-protected files cannot be checked. Upload a copy without a password."), code="encrypted"
            )
        if lowered.endswith(OFFICE_FORBIDDEN_SUFFIXES) or any(m.decode() in lowered for m in OFFICE_FORBIDDEN_MARKERS):
            raise macros
    try:
        with archive.open("[Content_Types].xml") as handle:
            content_types = handle.read(1024 * 1024 + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, zlib.error) as exc:
        raise _damaged() from exc
    lowered_types = content_types.lower()
    if any(marker in lowered_types for marker in OFFICE_FORBIDDEN_MARKERS):
        raise macros
    for main_part, (content_type, extension) in OFFICE_TYPES.items():
        if main_part in content_types:
            return _result(data, content_type, extension, original_name)
    raise not_office


def _result(content: bytes, content_type: str, extension: str, original_name: str, **extra: Any) -> CheckedFile:
    return CheckedFile(
        content=content,
        content_type=content_type,
        extension=extension,
        original_name=original_name,
        sha256=hashlib.sha256(content).hexdigest(),
        **extra,
    )
