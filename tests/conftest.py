"""The test harness: the real app over httpx, on real migrations, on a fresh database per test.

DUBAN_TEST_DATABASE selects the backend (`make test` runs the suite once with each):
- sqlite: a migrated template file, copied for every test;
- postgresql: a throwaway cluster started for the run; every test gets its own database
  cloned from a migrated template (CREATE DATABASE … TEMPLATE).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.helpers import ADMIN_TOKEN, Api
from tests.pgcluster import Cluster

BACKEND = os.environ.get("DUBAN_TEST_DATABASE", "sqlite")
ROOT = Path(__file__).resolve().parents[1]


def migrate(url: str, revision: str = "head") -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    command.upgrade(config, revision)


@contextmanager
def migrated_cluster(cluster: Cluster, template: str) -> Iterator[Cluster]:
    """`cluster` started, holding the database `template` at head, stopped on the way out."""
    cluster.start()
    try:
        asyncio.run(_admin_sql(cluster, f'CREATE DATABASE "{template}"'))
        migrate(f"{cluster.dsn_base}/{template}")
        yield cluster
    finally:
        cluster.stop()


@asynccontextmanager
async def scratch_database(cluster: Cluster, prefix: str, template: str | None = None
                           ) -> AsyncIterator[str]:
    """A database of its own on `cluster` (a clone of `template`, else empty), dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin_sql(cluster, f'CREATE DATABASE "{name}"'
                     + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield f"{cluster.dsn_base}/{name}"
    finally:
        await _admin_sql(cluster, f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory):
    if BACKEND == "postgresql":
        with migrated_cluster(Cluster(), "duban_template") as cluster:
            yield cluster
    else:
        template = tmp_path_factory.mktemp("sqlite") / "template.db"
        migrate(f"sqlite+aiosqlite:///{template}")
        yield template


async def _admin_sql(cluster: Cluster, sql: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user=cluster.user,
                                 database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def database_url(backend, tmp_path: Path) -> AsyncIterator[str]:
    if isinstance(backend, Cluster):
        async with scratch_database(backend, "t", "duban_template") as url:
            yield url
    else:
        path = tmp_path / "test.db"
        shutil.copyfile(backend, path)
        yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, duban_admin_token=ADMIN_TOKEN, import_seed=False)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_settings(settings)
    yield db
    await db.dispose()


@pytest.fixture
def app(settings: Settings, database: Database):
    return create_app(settings, database)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)
