"""Keyset pagination: every list answers {"items": [...], "next_cursor": …} and takes
`limit` and `cursor`. A cursor is the sort key of the last item, opaque to clients."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from app.errors import InvalidInput

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="page size (1-500)")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode(cursor: str | None, size: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise InvalidInput("The cursor is not valid: pass next_cursor from the previous page unchanged.")
    return values


def next_cursor(rows: list[Any], limit: int, key) -> str | None:
    """`rows` fetched with limit + 1: a cursor when there is a further page."""
    if len(rows) <= limit:
        return None
    return encode(key(rows[limit - 1]))
