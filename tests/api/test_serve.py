"""Starting the service: migrations on an empty database, the seed import, settings."""

import logging
import shutil
import sqlite3

import pytest
from sqlalchemy import func, select

from app import serve
from app.config import Settings
from app.models import Assignment, AuditEntry, Document, Milestone, Task, Unit
from app.seed import import_seeds
from tests.helpers import SEED

TABLES = (Document, Task, Milestone, Assignment, Unit, AuditEntry)


async def counts(database) -> list[int]:
    async with database.session() as session:
        return [(await session.execute(select(func.count()).select_from(t))).scalar_one() for t in TABLES]


@pytest.fixture
def seed_folder(tmp_path):
    folder = tmp_path / "seed"
    folder.mkdir()
    for prefix in ("001", "003"):
        shutil.copy(next(SEED.glob(f"{prefix}*")), folder)
    (folder / "005_scan.txt").write_bytes(b"%PDF-1.5\n binary scan")
    (folder / "notes.md").write_text("not a document")
    return folder


class TestMigrations:
    def test_an_empty_sqlite_file_is_migrated_to_head(self, tmp_path):
        path = tmp_path / "fresh" / "duban.db"
        serve.migrate(f"sqlite+aiosqlite:///{path}")
        serve.migrate(f"sqlite+aiosqlite:///{path}")  # at head already: nothing to do
        with sqlite3.connect(path) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = db.execute("SELECT version_num FROM alembic_version").fetchall()
        assert {"document", "task", "assignment", "report", "audit_log", "apitoken"} <= tables
        assert len(version) == 1

    def test_prepare_migrates_and_imports_the_seeds_once(self, tmp_path, seed_folder, caplog):
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
                            seed_dir=seed_folder, import_seed=True)
        with caplog.at_level(logging.INFO, logger="duban"):
            first = serve.prepare(settings)
            again = serve.prepare(settings)
        assert [(name[:3], changed) for name, _, changed in first] == [("001", True), ("003", True)]
        assert [(name[:3], changed) for name, _, changed in again] == [("001", False), ("003", False)]
        lines = [r.getMessage() for r in caplog.records if r.name == "duban.seed"]
        assert sum("imported" in line for line in lines) == 2
        assert sum("unchanged" in line for line in lines) == 2
        assert sum("005_scan.txt skipped: binary_document" in line for line in lines) == 2

    def test_no_seed_import_when_switched_off(self, tmp_path, seed_folder):
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
                            seed_dir=seed_folder, import_seed=False)
        assert serve.prepare(settings) == []
        with sqlite3.connect(tmp_path / "app.db") as db:
            assert db.execute("SELECT count(*) FROM document").fetchone() == (0,)


class TestSeedImport:
    async def test_importing_the_seeds_twice_changes_nothing(self, database):
        first = await import_seeds(database, SEED)
        assert [changed for _, _, changed in first] == [True] * 5
        before = await counts(database)
        again = await import_seeds(database, SEED)
        assert [(name, i) for name, i, _ in again] == [(name, i) for name, i, _ in first]
        assert [changed for _, _, changed in again] == [False] * 5
        assert await counts(database) == before

    async def test_seed_imports_are_recorded_as_the_system(self, database, seed_folder):
        await import_seeds(database, seed_folder)
        async with database.session() as session:
            actors = (await session.execute(select(AuditEntry.actor, AuditEntry.action))).all()
        assert sorted(actors) == [("system", "document.imported")] * 2

    async def test_a_missing_folder_imports_nothing(self, database, tmp_path):
        assert await import_seeds(database, tmp_path / "nowhere") == []


class TestSettings:
    def test_host_and_port_come_from_the_environment(self, monkeypatch):
        assert (Settings().duban_host, Settings().duban_port) == ("127.0.0.1", 8000)
        monkeypatch.setenv("DUBAN_HOST", "0.0.0.0")
        monkeypatch.setenv("DUBAN_PORT", "9000")
        assert (Settings().duban_host, Settings().duban_port) == ("0.0.0.0", 9000)
