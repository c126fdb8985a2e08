"""涉诈收款账户雷达 (issue 16, item 5): payees paid at two or more branches of the bank within a
few days, for head office to judge and, in one step, put on the watchlist.

No Flask here. Payees are shown masked and named by their keyed hash only inside POST bodies;
the account number itself was never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .. import audit, clock, storage
from ..storage import branches as branch_store
from ..storage import watchlist as watchlist_store

MIN_BRANCHES = 2
LIMIT = 100
SOURCE = "本行发现"
IMPORT_KIND = "radar"  # watchlist.imported `kind` of an entry added from here
HASH_PATTERN = re.compile(r"[0-9a-f]{64}")


class RadarError(ValueError):
    """A payee that cannot be listed from the radar; the message is Chinese."""


@dataclass(frozen=True)
class RadarPayee:
    payee_hash: str  # keyed hash: the form's value, never shown
    payee_masked: str
    branches: tuple[str, ...]  # names, sorted
    customers: int
    sessions: int
    high: int  # 高/极高 screenings
    amount_fen: int
    first_seen: str
    last_seen: str
    listed: bool  # already on the watchlist

    @property
    def branch_count(self) -> int:
        return len(self.branches)


def window(now: datetime, days: int) -> tuple[str, str]:
    return clock.stamp(now - timedelta(days=days)), clock.stamp(now)


def payees(db, now: datetime, days: int, limit: int = LIMIT) -> list[RadarPayee]:
    """Payees at MIN_BRANCHES or more branches in [now - days, now], most branches first, then
    customers, 高/极高 screenings and amount (discarded screenings never count)."""
    low, high = window(now, days)
    rows = watchlist_store.payees_across_branches(db, low, high, MIN_BRANCHES, limit)
    pairs = watchlist_store.branches_of_payees(db, [row["payee_hash"] for row in rows], low, high)
    names = branch_store.names(db, [pair["branch_id"] for pair in pairs])
    branches_of: dict[str, list[str]] = {}
    for pair in pairs:
        branches_of.setdefault(pair["payee_hash"], []).append(names.get(pair["branch_id"], "未知网点"))
    return [RadarPayee(row["payee_hash"], row["payee_masked"] or "",
                       tuple(sorted(branches_of.get(row["payee_hash"], ()))), row["customers"],
                       row["sessions"], int(row["high"] or 0), int(row["amount_fen"] or 0),
                       row["first_seen"], row["last_seen"], bool(row["listed"]))
            for row in rows]


def find(db, payee_hash: str, now: datetime, days: int) -> RadarPayee | None:
    """The radar's line of this payee (None when it is not on the radar)."""
    if not HASH_PATTERN.fullmatch(payee_hash or ""):
        return None
    return next((payee for payee in payees(db, now, days, limit=LIMIT)
                 if payee.payee_hash == payee_hash), None)


def add_to_watchlist(db, ledger_key: bytes, payee: RadarPayee, actor_id: int | None,
                     days: int, today: date) -> bool:
    """List the payee (source 本行发现) the way an import does, as a one-line import of kind
    `radar` logged as watchlist.imported; an expired or proposed entry of it is listed again.
    False when it is listed and in force already."""
    note = (f"涉诈收款账户雷达：近 {days} 天 {payee.branch_count} 个网点、"
            f"{payee.customers} 位客户")
    added_at = audit.now_iso()
    with storage.transaction(db):
        import_id = watchlist_store.start_import(db, added_at, actor_id, IMPORT_KIND, 1)
        account = (payee.payee_hash, payee.payee_masked, SOURCE, today.isoformat(), note, "own",
                   None)
        added = watchlist_store.add_entries(db, import_id, added_at, [account])
        # An expired or proposed entry is listed again; a listing still in force is kept as
        # it is (its category and expiry are the police's or another bank's, say).
        renewed = watchlist_store.renew_entries(db, import_id, added_at, today.isoformat(),
                                                [account], extend=False)
        counts = {"added": added, "renewed": renewed, "already_listed": 1 - added - renewed,
                  "duplicates": 0, "skipped_errors": 0}
        watchlist_store.finish_import(db, import_id, **counts)
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.imported", actor_id=actor_id,
            data={"import_id": import_id, "kind": IMPORT_KIND, "data_lines": 1,
                  "account_masked": payee.payee_masked, **counts}))
    return added + renewed == 1
