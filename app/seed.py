"""The documents in seed/ imported at start: idempotently, one transaction per file, as the
system. A file the engine cannot read is logged and skipped, so one bad file does not keep
the service from starting."""

from __future__ import annotations

import logging
from pathlib import Path

from app.db import Database
from app.documents import service
from app.errors import DomainError

log = logging.getLogger("duban.seed")
SUFFIXES = (".txt", ".html", ".htm", ".docx")


async def import_seeds(db: Database, folder: Path) -> list[tuple[str, int, bool]]:
    """(file name, document id, whether the import changed anything) per file imported."""
    done: list[tuple[str, int, bool]] = []
    if not folder.is_dir():
        log.warning("seed folder %s does not exist; nothing imported", folder)
        return done
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES):
        async with db.session() as session:
            try:
                result = await service.import_document(session, None, path.read_bytes(), path.name)
            except DomainError as exc:
                await session.rollback()
                log.warning("seed %s skipped: %s: %s", path.name, exc.code, exc.detail)
                continue
            await session.commit()
        changed = result.created or result.changes is not None
        state = "imported" if result.created else "revised" if changed else "unchanged"
        log.info("seed %s: document %d %s (version %d, %d tasks, %d clauses, %d obligations)",
                 path.name, result.id, state, result.version, result.tasks, result.clauses,
                 result.obligations)
        done.append((path.name, result.id, changed))
    return done
