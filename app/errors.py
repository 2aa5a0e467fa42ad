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

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
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


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class InvalidTransition(Conflict):
    """The object is not in a state that allows this step; `current` says which it is in."""

    code = "invalid_transition"
    title = "Not allowed in the current state"


class PeriodClosed(Conflict):
    code = "period_closed"
    title = "The reporting period is closed"


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    title = "A request with this Idempotency-Key is still being processed"


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for a different request"


class UnknownUnit(InvalidInput):
    code = "unknown_unit"
    title = "Unknown unit"


class AmbiguousUnit(InvalidInput):
    code = "ambiguous_unit"
    title = "The unit name matches more than one unit"


class PreconditionFailed(DomainError):
    status_code = 412
    code = "precondition_failed"
    title = "The resource has changed since you read it"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    title = "Request body too large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "database_unavailable"
    title = "The database is unavailable"
