"""How files of messages leave the server, with the same headers as records.serving (which serves document
versions): the type detected on upload, `nosniff`, a sandboxing Content-Security-Policy, no shared caching. The
caller has checked that the user may read the conversation."""

from __future__ import annotations

from django.http import FileResponse, Http404

from kabinet.consultations.models import ConsultationMessage
from kabinet.records.serving import INLINE_TYPES as DOCUMENT_INLINE_TYPES
from kabinet.records.serving import SAFE_TYPES as DOCUMENT_TYPES

AUDIO_TYPES = {"audio/webm", "audio/ogg", "audio/mp4"}
SAFE_TYPES = DOCUMENT_TYPES | AUDIO_TYPES
INLINE_TYPES = DOCUMENT_INLINE_TYPES | AUDIO_TYPES
EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "application/pdf": "pdf"}


def download_name(message: ConsultationMessage) -> str:
    name = message.file.name or ""
    extension = name.rsplit(".", 1)[-1] if "." in name else "bin"
    kind = "voice" if message.kind == ConsultationMessage.Kind.VOICE else "attachment"
    return f"{kind}-{message.pk}.{extension}"


def file_response(message: ConsultationMessage, *, inline: bool = False) -> FileResponse:
    if not message.file:
        raise Http404
    content_type = message.content_type if message.content_type in SAFE_TYPES else "application/octet-stream"
    if inline and content_type not in INLINE_TYPES:
        raise Http404
    try:
        handle = message.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle, as_attachment=not inline, filename=download_name(message), content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if inline and content_type == "application/pdf":
        response["Content-Security-Policy"] = "frame-ancestors 'self'"
    elif inline:
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    else:
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
