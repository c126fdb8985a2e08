"""The PostgreSQL backend: a psycopg 3 connection that looks like the SQLite one to the storage
layer.

Storage functions write SQL with `?` placeholders and call `db.execute(sql, params)`; here `?`
becomes psycopg's `%s` (and a literal `%` becomes `%%`), once per statement text. Transactions
are explicit (autocommit mode, BEGIN … COMMIT from storage.transaction), as on SQLite. Where
the two dialects differ the storage function asks `db.dialect` and says both forms side by side.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

import psycopg
from psycopg import pq
from psycopg.adapt import Dumper, Loader

DIALECT = "postgresql"

_PLACEHOLDER_OR_LITERAL = re.compile(r"'(?:[^']|'')*'|\?|%")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """`?` outside string literals -> `%s`; every `%` -> `%%` (psycopg reads the whole text)."""
    def replace(match: re.Match) -> str:
        found = match.group(0)
        if found == "?":
            return "%s"
        if found == "%":
            return "%%"
        return found.replace("%", "%%")

    return _PLACEHOLDER_OR_LITERAL.sub(replace, sql)


class _BoolAsInt(Dumper):
    """The app stores flags as 0/1 integers on both backends (SQLite has no boolean)."""

    oid = psycopg.adapters.types["int4"].oid

    def dump(self, obj):
        return b"1" if obj else b"0"


class _NumericAsNumber(Loader):
    """numeric arrives only from sum() over integer columns (the app stores money as integer
    fen): an int, as SQLite gives it; a float for anything with a fraction (avg)."""

    def load(self, data):
        text = bytes(data).decode()
        return int(text) if text.lstrip("-").isdigit() else float(text)


def is_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://",
                                                          "postgresql+psycopg://"))


def plain_url(url: str) -> str:
    """The URL as libpq takes it (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(plain_url(url))
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    kept = [pair for pair in parts.query.split("&") if pair and not pair.startswith("password=")]
    query = f"?{'&'.join(kept)}" if kept else ""
    # Not geturl(): it drops the empty host of postgresql:///db?host=/socket/dir (one slash).
    return f"{parts.scheme}://{netloc}{parts.path}{query}"


class _Connection:
    """What callers read of `db.conn` on SQLite: in_transaction, execute, close."""

    def __init__(self, raw: psycopg.Connection):
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, params=()):
        return self.raw.execute(translate(sql), params or None)

    def close(self) -> None:
        self.raw.close()


class PostgresDatabase:
    dialect = DIALECT

    def __init__(self, url: str, **options):
        self.url = plain_url(url)
        raw = psycopg.connect(self.url, autocommit=True, **options)
        raw.adapters.register_dumper(bool, _BoolAsInt)
        raw.adapters.register_loader("numeric", _NumericAsNumber)
        self.conn = _Connection(raw)
        self.real_path = None
        self.write_queue = None

    def execute(self, sql: str, params=()):
        return self.conn.raw.execute(translate(sql), params or None)

    def executemany(self, sql: str, rows):
        cursor = self.conn.raw.cursor()
        cursor.executemany(translate(sql), rows)
        return cursor

    def begin_write(self) -> None:
        self.conn.raw.execute("BEGIN")

    @property
    def broken(self) -> bool:
        return self.conn.raw.closed or self.conn.raw.broken



def connect(url: str) -> PostgresDatabase:
    return PostgresDatabase(url)
