"""What a screening request needs besides its form: keys, rules, branch settings and the
cross-session signals. Shared by the web pages and the JSON API."""

from __future__ import annotations

import time

from flask import current_app, g

from .. import bank_settings, settings
from ..db import get_db
from ..risk import default_rules
from ..web import ledger_key, pii_key
from . import service

SETTINGS_RECHECK_SECONDS = 2.0


def keys() -> service.Keys:
    return service.Keys(ledger=ledger_key(), pii=pii_key())


def rules():
    """The packaged rules, or those create_app loaded with the branch override."""
    return current_app.extensions["teller_guard"]["rules"] or default_rules()


def branch_id() -> int:
    """The signed-in user's branch (head-office accounts, which have none: branch 1's
    settings until a page names the branch it works on)."""
    user = g.get("user")
    found = getattr(user, "branch_id", None)
    return found if found is not None else settings.DEFAULT_BRANCH_ID


def branch(of_branch: int | None = None):
    """The settings of branch `of_branch` (default: the signed-in user's), read again after a
    save (on PostgreSQL: a save in any process, which the request's connection hears of before
    its first query returns) and at least every
    SETTINGS_RECHECK_SECONDS (SQLite: a change made by another process, e.g. a CLI command,
    shows within that). Reading them on every request was a query of its own on the API's hot
    path."""
    wanted = branch_id() if of_branch is None else of_branch
    cache = current_app.extensions["teller_guard"].setdefault("branches", {})
    db = get_db()
    settings.watch_other_processes(db)
    cached = cache.get(wanted)  # (changes seen, when read, settings)
    now = time.monotonic()
    if cached is None or cached[0] != settings.changes_seen() or \
            now - cached[1] > SETTINGS_RECHECK_SECONDS:
        cached = cache[wanted] = (settings.changes_seen(), now, settings.load(db, wanted))
    return cached[2]


def bank() -> bank_settings.BankSettings:
    """The bank-wide thresholds in force (全行设置 over app.config), cached like branch()."""
    cache = current_app.extensions["teller_guard"]
    db = get_db()
    settings.watch_other_processes(db)
    cached = cache.get("bank_settings")  # (changes seen, when read, settings)
    now = time.monotonic()
    if cached is None or cached[0] != settings.changes_seen() or \
            now - cached[1] > SETTINGS_RECHECK_SECONDS:
        cached = cache["bank_settings"] = (settings.changes_seen(), now,
                                           bank_settings.load(db, current_app.config))
    return cached[2]


def cross_session(payee_hash: str, customer_hash: str | None, branch_id: int | None,
                  exclude_session_id: int | None = None) -> dict:
    """The engine's cross-session facts for these parties (watchlist, repeats, other branches)
    of a screening at `branch_id`."""
    return collected(payee_hash, customer_hash, branch_id, exclude_session_id).facts()


def collected(payee_hash: str, customer_hash: str | None, branch_id: int | None,
              exclude_session_id: int | None = None):
    from ..watchlist import signals as watchlist_signals

    return watchlist_signals.collect(
        get_db(), payee_hash, customer_hash, service.now_local(), bank(),
        branch_id=branch_id, exclude_session_id=exclude_session_id)


def signals(row: dict) -> dict:
    """Cross-session facts for the engine plus what the teller may see of them."""
    found = collected(row["payee_hash"], row["customer_hash"], row["branch_id"],
                      exclude_session_id=row["id"])
    return {"facts": found.facts(), "payee": found.payee,
            "history": found.history if row["customer_hash"] else None,
            "payee_branches": found.payee_branches,
            "customer_branches": found.customer_branches}
