"""JSON built by the database, in one dialect-neutral spelling.

A view made of a row and its children costs one round trip when the children come back as a
JSON array inside the row. PostgreSQL and SQLite both build JSON, under different names:
json_build_object / json_agg against json_object / json_group_array.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, func, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction


class json_object(GenericFunction):  # noqa: N801 (a SQL function's name)
    type = JSON()
    inherit_cache = True


class json_array_agg(GenericFunction):  # noqa: N801
    type = JSON()
    inherit_cache = True


class json_value(GenericFunction):  # noqa: N801
    """A JSON column placed inside built JSON as JSON, not as a string of it."""

    type = JSON()
    inherit_cache = True


@compiles(json_object, "postgresql")
def _pg_object(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "sqlite")
def _sqlite_object(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_array_agg, "postgresql")
def _pg_agg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"coalesce(json_agg({compiler.process(element.clauses, **kw)}), '[]'::json)"


@compiles(json_array_agg, "sqlite")
def _sqlite_agg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"coalesce(json_group_array({compiler.process(element.clauses, **kw)}), json('[]'))"


@compiles(json_value, "postgresql")
def _pg_value(element: Any, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(json_value, "sqlite")
def _sqlite_value(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json({compiler.process(element.clauses, **kw)})"


def fields(**columns: Any) -> json_object:
    """json_object('a', a, 'b', b, …) from keyword arguments, in their order."""
    args: list[Any] = []
    for name, column in columns.items():
        # Keys are this module's callers' constants, inlined: PostgreSQL cannot type a bound key.
        args += [literal_column(f"'{name}'"), column]
    return json_object(*args)


def rows(select: Any, outer: Any, **columns: Any) -> Any:
    """A scalar subquery: the JSON array of `columns` over the rows of `select`, correlated to
    the `outer` table of the enclosing query."""
    return select.with_only_columns(json_array_agg(fields(**columns))).correlate(outer).scalar_subquery()


__all__ = ["fields", "func", "json_array_agg", "json_object", "json_value", "rows"]
