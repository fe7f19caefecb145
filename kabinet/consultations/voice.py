"""Checks a voice message recorded in the browser (MediaRecorder) before it is stored.

Kept apart from records.files.check_upload on purpose: documents never admit audio, and audio gets its own limits.

- accepted by the container's first bytes only: WebM (Chrome, Edge, Firefox), Ogg (Firefox) and MP4/M4A audio
  (Safari); never by name or declared type;
- at most settings.CONSULTATIONS_VOICE_MAX_BYTES;
- the duration comes from the recording page (the container often does not carry one while recording): it must be
  positive, at most settings.CONSULTATIONS_VOICE_MAX_SECONDS, and plausible for the file's size;
- refused: markup or a script tag in the head (a browser could sniff it as a page) and a zip directory at the end.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import IO, Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from kabinet.core.exceptions import Invalid
from kabinet.records.files import CheckedFile, FileRefused, FileTooLarge

HEAD = 4096
TAIL = 65_536 + 22
MAX_BYTES_PER_SECOND = 80_000  # 640 kbit/s: well above any speech codec MediaRecorder uses
CONTAINER_OVERHEAD = 64 * 1024
MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"iso5", b"iso6", b"dash"}
_MARKUP = re.compile(rb"<\s*(?:script|html|svg|iframe|object|embed|body|head|meta|!doctype|\?php)[\s>/]", re.I)


def max_bytes() -> int:
    return int(settings.CONSULTATIONS_VOICE_MAX_BYTES)


def max_seconds() -> int:
    return int(settings.CONSULTATIONS_VOICE_MAX_SECONDS)


def _read_limited(upload: Any, limit: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if isinstance(size, int) and size > limit:
            raise FileTooLarge(limit)
        if hasattr(upload, "seek"):
            upload.seek(0)
        stream: IO[bytes] = upload
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(limit)
    return data


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an audio container we accept, by its first bytes."""
    if data.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in data[:64]:
        return "audio/webm", "webm"
    if data.startswith(b"OggS") and (b"OpusHead" in data[:128] or b"\x01vorbis" in data[:128]):
        return "audio/ogg", "ogg"
    if data[4:8] == b"ftyp" and data[8:12] in MP4_AUDIO_BRANDS:
        return "audio/mp4", "m4a"
    return None


def clean_duration(raw: Any) -> int:
    """Whole seconds (at least 1), or Invalid when missing, not a number or over the limit."""
    limit = max_seconds()
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise Invalid(
            errors={"duration": [_("The length of the recording is missing.")]}, code="voice_duration"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise Invalid(errors={"duration": [_("The recording is empty. Record it again.")]}, code="voice_duration")
    if value > limit:
        message = _("Voice messages may be at most %(minutes)s minutes long. Record a shorter one.") % {
            "minutes": f"{limit / 60:g}"
        }
        raise Invalid(errors={"duration": [message]}, code="voice_too_long")
    return max(1, math.ceil(value))


def check_voice(upload: Any, *, duration: Any, name: str = "") -> tuple[CheckedFile, int]:
    """The checked recording and its duration in seconds, or FileTooLarge (413) / FileRefused or Invalid (422)."""
    seconds = clean_duration(duration)
    limit = max_bytes()
    data = _read_limited(upload, limit)
    if not data:
        raise FileRefused(_("The recording is empty. Record it again."), code="file_empty")
    kind = sniff(data)
    if kind is None:
        raise FileRefused(
            _("This is not a voice recording we can play (WebM, Ogg or M4A). Record it again in the browser."),
            code="voice_type_not_accepted",
        )
    if _MARKUP.search(data[:HEAD]) or b"PK\x05\x06" in data[-TAIL:]:
        raise FileRefused(
            _("The recording contains something else besides sound and was refused."), code="active_content"
        )
    if len(data) > CONTAINER_OVERHEAD + seconds * MAX_BYTES_PER_SECOND:
        raise Invalid(
            errors={"duration": [_("The length of the recording does not match the file. Record it again.")]},
            code="voice_duration",
        )
    content_type, extension = kind
    original = (name or getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1]
    checked = CheckedFile(
        content=data,
        content_type=content_type,
        extension=extension,
        original_name="".join(ch for ch in original if ch.isprintable() and ch not in '"<>')[:255],
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return checked, seconds


def limits_text() -> str:
    return _("up to %(minutes)s min, %(size)s") % {
        "minutes": f"{max_seconds() / 60:g}",
        "size": filesizeformat(max_bytes()),
    }
