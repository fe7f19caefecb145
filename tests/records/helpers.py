"""Small helpers the records tests share."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from kabinet.records.models import Document, DocumentVersion


def drawn(*, width: int = 600, height: int = 200, strokes: bool = True, background: tuple = (0, 0, 0, 0)) -> bytes:
    """What a canvas sends: an RGBA PNG, transparent (or filled) with a scribble in the middle."""
    image = Image.new("RGBA", (width, height), background)
    if strokes:
        ImageDraw.Draw(image).line([(150, 120), (220, 60), (300, 130), (380, 70), (450, 110)], fill="#123", width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def current(document: Document) -> DocumentVersion:
    """The document's latest version, which every stored document has."""
    document.refresh_from_db()
    assert document.current_version is not None
    return document.current_version
