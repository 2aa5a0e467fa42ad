"""The one error hierarchy. Each error carries its HTTP status and a stable machine `code`.

Framework-free on purpose: the extraction engine raises these too, and the web layer renders
them as RFC 9457 problem+json in one handler.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"
    title = "Invalid input"


class UnreadableDocument(InvalidInput):
    code = "unreadable_document"
    title = "The document cannot be read"


class EmptyDocument(UnreadableDocument):
    code = "empty_document"
    title = "The document is empty"


class BinaryDocument(UnreadableDocument):
    code = "binary_document"
    title = "The document is binary, not text, HTML or .docx"


class UnknownEncoding(UnreadableDocument):
    code = "unknown_encoding"
    title = "The document's text encoding is not recognised"
