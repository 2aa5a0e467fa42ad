"""`python -m app.serve`: migrate the database to head, import the seed documents, serve.

Migrations run before any event loop exists: migrations/env.py drives the async engine with
asyncio.run, which cannot nest inside a running loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import uvicorn
from alembic import command
from alembic.config import Config

from app.config import ROOT, Settings, get_settings
from app.db import Database
from app.seed import import_seeds

log = logging.getLogger("duban.serve")


class _RedactTokens(logging.Filter):
    """Calendar apps pass their token in the query (?token=); access logs must not keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(re.sub(r"([?&]token=)[^&\s]+", r"\1[redacted]", a)
                                if isinstance(a, str) else a for a in record.args)
        return True


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    command.upgrade(config, "head")


async def seed(settings: Settings) -> list[tuple[str, int, bool]]:
    db = Database.from_settings(settings)
    try:
        return await import_seeds(db, Path(settings.seed_dir))
    finally:
        await db.dispose()


def prepare(settings: Settings) -> list[tuple[str, int, bool]]:
    """Everything before serving; the seed import only when settings.import_seed."""
    migrate(settings.database_url)
    log.info("database migrated to head")
    return asyncio.run(seed(settings)) if settings.import_seed else []


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    settings = get_settings()
    prepare(settings)
    if not settings.duban_admin_token:
        log.warning("DUBAN_ADMIN_TOKEN is not set: no one can act as the office. Start with "
                    "DUBAN_ADMIN_TOKEN=<16+ characters> to mint tokens and import documents.")
    logging.getLogger("uvicorn.access").addFilter(_RedactTokens())
    # One worker: SQLite takes one writer at a time, and the seed import above is per process.
    # loop/http "auto" pick uvloop and httptools when they are installed.
    uvicorn.run("app.main:create_app", factory=True, host=settings.duban_host,
                port=settings.duban_port, workers=1, loop="auto", http="auto")


if __name__ == "__main__":
    main()
