"""Database access outside a request (CLI, background sender), with the app's keys."""

from __future__ import annotations

from contextlib import contextmanager

from . import db


@contextmanager
def app_db(app):
    database = db.connect(app.config["DATABASE"])
    try:
        yield database, app.extensions["teller_guard"]["ledger_key"]
    finally:
        database.conn.close()
