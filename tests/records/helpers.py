"""Small helpers the records tests share."""

from __future__ import annotations

from kabinet.records.models import Document, DocumentVersion


def current(document: Document) -> DocumentVersion:
    """The document's latest version, which every stored document has."""
    document.refresh_from_db()
    assert document.current_version is not None
    return document.current_version
