"""Previewing and importing documents: extraction runs off the event loop; re-importing the
same text changes nothing; a new text of a known document is a revision."""

from __future__ import annotations

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.documents import importer
from app.extraction import extract_text
from app.extraction.models import Extraction
from app.extraction.reader import read_document
from app.models import Document


def _read(data: bytes, filename: str | None) -> tuple[str, Extraction]:
    decoded = read_document(data, filename)
    return decoded.text, extract_text(decoded.text, fmt=decoded.format, encoding=decoded.encoding)


async def preview(data: bytes, filename: str | None) -> Extraction:
    return (await to_thread.run_sync(_read, data, filename))[1]


async def import_document(session: AsyncSession, principal: Principal, data: bytes,
                          filename: str | None) -> tuple[int, bool]:
    """(document id, whether anything was created or changed)."""
    text, extraction = await to_thread.run_sync(_read, data, filename)
    digest = importer.content_hash(text)
    same = (await session.execute(select(Document.id).where(Document.content_hash == digest))).scalar()
    if same is not None:
        return same, False
    result = await importer.store(session, principal, extraction, text, digest)
    return result.document_id, True
