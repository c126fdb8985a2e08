"""Shared by the verify tests: change the database around the app, as an insider with the file would."""

from __future__ import annotations

import sqlite3


def tamper(app, sql, *params):
    """Run one statement on the instance's database file directly (no app, no ledger event)."""
    connection = sqlite3.connect(app.config["DATABASE"])
    connection.execute(sql, params)
    connection.commit()
    connection.close()
