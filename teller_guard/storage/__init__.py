"""The storage layer: every SQL statement of the app lives in this package.

Views, services, the CLI and printing call functions named after what they do
(``storage.sessions.start``, ``storage.review.queue_page`` …); they never write SQL. One row type
(a plain ``dict`` keyed by column name), one way to write (``transaction``), one place for the
schema (``teller_guard/migrations.py``). ``tests/test_storage_boundary.py`` fails when SQL
appears anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["query", "query_one", "row_of", "rows_of", "transaction"]

Row = dict[str, Any]


def transaction(db):
    """The one way to write: db.write_transaction (BEGIN IMMEDIATE, committed at the end)."""
    from ..db import write_transaction  # here: verify's worker processes import storage without Flask

    return write_transaction(db)


def rows_of(cursor) -> list[Row]:
    """Every row of a cursor as a dict keyed by column name."""
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, found, strict=True)) for found in cursor.fetchall()]


def row_of(cursor) -> Row | None:
    """The first row of a cursor as a dict, or None."""
    found = cursor.fetchone()
    if found is None:
        return None
    return dict(zip((column[0] for column in cursor.description), found, strict=True))


def query(db, sql: str, params: Sequence[Any] | dict[str, Any] | Iterable[Any] = ()) -> list[Row]:
    return rows_of(db.execute(sql, params))


def query_one(db, sql: str, params: Sequence[Any] | dict[str, Any] | Iterable[Any] = ()) -> Row | None:
    return row_of(db.execute(sql, params))
