"""How stored files leave the server: callers have already checked permission and audited the read (selectors).

Downloads are attachments with the type we detected on upload (never the uploader's), `nosniff`, a sandboxing
Content-Security-Policy and no caching by shared caches. The viewer's inline variant exists only for PDFs and
images, and may be framed only by our own pages.
"""

from __future__ import annotations

import re

from django.http import FileResponse, Http404

from kabinet.records.models import DocumentVersion

SAFE_TYPES = {
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/webp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/webp"}
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def download_name(version: DocumentVersion) -> str:
    """`<title>-v<n>.<ext>`: the title without characters a file system or a header would trip on."""
    title = " ".join(_UNSAFE_NAME.sub(" ", version.document.title).split()).strip(" .") or "document"
    return f"{title[:120]}-v{version.number}.{version.extension or 'bin'}"


def file_response(version: DocumentVersion, *, inline: bool = False) -> FileResponse:
    content_type = version.content_type if version.content_type in SAFE_TYPES else "application/octet-stream"
    if inline and content_type not in INLINE_TYPES:
        raise Http404
    try:
        handle = version.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle, as_attachment=not inline, filename=download_name(version), content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if inline and content_type == "application/pdf":
        # Chrome's PDF viewer runs neither in a sandboxed document nor under object-src 'none'; the PDF was checked
        # for scripts and actions on upload, and the viewer runs PDF scripts in its own sandbox anyway.
        response["Content-Security-Policy"] = "frame-ancestors 'self'"
    elif inline:
        response["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
        )
    else:
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
