"""Where a passage opens: the document's page anchored at it, and the original file.

The page (`/knowledge/docs/{id}?version=N#p-{passage}`) shows the version's passages with
their pages and sections and scrolls to the one cited; the source (`…/source`) is the file as
uploaded, and for a PDF `#page=N` makes the browser's viewer open the page the passage is on.
"""

from __future__ import annotations

__all__ = ["passage_url", "source_url"]


def passage_url(document_id: int, version: int, passage_id: int) -> str:
    """The knowledge page of a document's version, anchored at the passage."""
    return f"/knowledge/docs/{document_id}?version={version}#p-{passage_id}"


def source_url(document_id: int, version: int, page: int | None = None) -> str:
    """The original file of a version (API), at its page when it is a PDF passage's."""
    url = f"/knowledge/documents/{document_id}/versions/{version}/source"
    return f"{url}#page={page}" if page is not None else url
