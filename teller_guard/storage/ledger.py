"""The ledger's SQL: append rows and move the sealed head, read the head and a session's events.

The hash chain itself (canonical encoding, HMAC, the head's seal) is audit.py's; this module
only stores and reads what it computes.
"""

from __future__ import annotations

from . import Row, query


def events_of(db, session_id: int) -> list[Row]:
    """A session's events in order: id, actor_id, and at, kind and data as bytes (a row
    rewritten around the app may hold bytes that are not UTF-8, which would end the query with
    a decoding error; review.queries.shown decodes them for display)."""
    return query(
        db, "SELECT id, CAST(at AS BLOB) AS at, actor_id, CAST(kind AS BLOB) AS kind, "
            "CAST(data AS BLOB) AS data FROM ledger WHERE session_id = ? ORDER BY id", [session_id])
