"""Shared by the verify tests: change the database around the app, as an insider with the file
(or the PostgreSQL server's credentials) would."""

from __future__ import annotations

import sqlite3

import pytest

from teller_guard import db


def tamper(app, sql, *params):
    """Run one statement on the instance's database directly (no app, no ledger event)."""
    target = app.config["DATABASE"]
    if db.is_postgresql(target):
        connection = db.connect(target)  # autocommit: the statement is committed at once
        try:
            connection.execute(sql, params)
        finally:
            connection.conn.close()
        return
    connection = sqlite3.connect(target)
    connection.execute(sql, params)
    connection.commit()
    connection.close()


def read_one(app, sql, *params):
    """The first row of a query, on its own connection (the tests hold none open)."""
    connection = db.connect(app.config["DATABASE"])
    try:
        return connection.execute(sql, params).fetchone()
    finally:
        connection.conn.close()


def sqlite_only(backend: str, reason: str) -> None:
    """Skip the PostgreSQL run of a test that is about the SQLite file itself."""
    if backend == "postgresql":
        pytest.skip(f"SQLite only: {reason}")
