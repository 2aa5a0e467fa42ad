"""What the robustness tests share: the whole database as plain rows, to prove a refused
request changed nothing, and the checks every refusal must pass."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table registers on the metadata)
from app.db import Database

PROBLEM = "application/problem+json"


async def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    found = {}
    async with database.session() as s:
        for table in SQLModel.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            found[table.name] = [tuple(r) for r in (await s.execute(select(table).order_by(*order))).all()]
    return found


def assert_same(before: dict, after: dict) -> None:
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"a refused request changed {changed}: " + "; ".join(
        f"{n}: {len(before[n])} -> {len(after[n])} rows" for n in changed)


def refused(response, *codes: str, status: int | None = None) -> dict:
    """A clear refusal: 4xx, problem+json, a stable code (one of `codes` when given), a detail."""
    where = f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
    assert 400 <= response.status_code < 500, where
    assert status is None or response.status_code == status, where
    assert response.headers["content-type"].startswith(PROBLEM), where
    body = response.json()
    assert body["status"] == response.status_code and body["code"] and body["detail"], where
    assert not codes or body["code"] in codes, where
    return body
