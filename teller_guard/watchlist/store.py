"""Watchlist storage: account numbers, lookup, listing, removal, the high-risk payee export.

No Flask here, and no SQL (storage/watchlist.py). Account numbers never reach the database:
only `pii.keyed_hash` of the digits and `pii.mask_account` are stored.
"""

from __future__ import annotations

import csv
import hmac
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from .. import audit, clock, labels, pii, storage
from ..pii_key import fingerprint as key_fingerprint
from ..storage import watchlist as watchlist_store

PAGE_SIZE = 50
MIN_DIGITS, MAX_DIGITS = 8, 30
HIGH_LEVELS = ("high", "critical")
EXPORT_HEADER = ("payee_hash", "payee_masked", "sessions", "last_seen", "key_id")
SCIENTIFIC_NOTATION = re.compile(r"\d(\.\d+)?[eE]\+?\d+")


class AccountError(ValueError):
    """An account number that cannot be used; the message is Chinese and never repeats it."""


def account_digits(raw: str | None) -> str:
    """The digits of an account number once spaces and dashes are removed (8-30 of them).

    Full-width digits, spaces and dashes (NFKC) are accepted, the way the screening form does,
    so the same account always gives the same keyed hash.
    """
    raw = str(raw or "")
    if raw.isascii() and raw.isdigit() and MIN_DIGITS <= len(raw) <= MAX_DIGITS:
        return raw  # the common case, fast: a big import calls this for every line
    text = unicodedata.normalize("NFKC", raw).strip().removeprefix("'")
    text = re.sub(r"[\s\-\u2010-\u2015\u2212]", "", text)
    if not text:
        raise AccountError("账号为空")
    if SCIENTIFIC_NOTATION.fullmatch(text):
        raise AccountError("账号被 Excel 显示成了科学计数法（如 6.22E+18），后几位已丢失；"
                           "请把账号列设为“文本”格式后重新导出")
    if not re.fullmatch(r"[0-9]+", text):
        raise AccountError("账号只能包含数字（可含空格或短横线）")
    if not MIN_DIGITS <= len(text) <= MAX_DIGITS:
        raise AccountError(f"账号应为 {MIN_DIGITS} 至 {MAX_DIGITS} 位数字（此行为 {len(text)} 位）")
    return text


def account_hash(pii_key: bytes, digits: str) -> str:
    """pii.keyed_hash(pii_key, digits), done in one C call: digits need no normalising."""
    return hmac.digest(pii_key, digits.encode("ascii"), "sha256").hex()


@dataclass(frozen=True)
class Entry:
    id: int  # stable, not personal, usable in URLs
    account_hash: str
    account_masked: str
    source: str
    listed_on: str
    note: str
    import_id: int | None
    added_at: str
    category: str = ""  # labels.WATCHLIST_CATEGORIES; "" on entries listed before 0010
    expires_on: str = ""  # YYYY-MM-DD, the last day it matches; "" never expires
    status: str = "active"  # active | proposed
    session_id: int | None = None  # the confirmed case a branch proposed it from
    proposed_by: int | None = None
    renewed_at: str = ""  # when an import or the form listed it again (0016)
    renewed_import_id: int | None = None

    def state(self, today: date) -> str:
        """active (matches screenings), expired, or proposed (labels.WATCHLIST_STATES)."""
        if self.status != "active":
            return self.status
        return "expired" if self.expires_on and self.expires_on < today.isoformat() else "active"

    @property
    def origin(self) -> str:
        """Where it comes from, for people: the category, then the source as written."""
        category = labels.WATCHLIST_CATEGORIES.get(self.category, "")
        if category and self.source and self.source != category:
            return f"{category}（{self.source}）"
        return category or self.source


def entry_of(row: dict) -> Entry:
    return Entry(row["id"], row["account_hash"], row["account_masked"] or "",
                 row["source"] or "", row["listed_on"] or "", row["note"] or "",
                 row["import_id"], row["added_at"] or "", row["category"] or "",
                 row["expires_on"] or "", row["status"] or "active", row["session_id"],
                 row["proposed_by"], row["renewed_at"] or "", row["renewed_import_id"])


def is_listed(db, account_hash_value: str, today: date | None = None) -> bool:
    """Does the account match an entry on `today` (default: the server's local date)? Proposals
    and entries past their 到期日 do not; one expiring today does."""
    if not account_hash_value:
        return False
    return watchlist_store.is_listed(db, account_hash_value, (today or clock.today()).isoformat())


def find(db, account_hash_value: str) -> Entry | None:
    """The account's entry in any state (the search shows expired entries and proposals too)."""
    row = watchlist_store.entry_by_hash(db, account_hash_value)
    return entry_of(row) if row else None


def entry_that_stopped(db, screening: dict) -> Entry | None:
    """The entry behind a screening assessed with its payee on the list (its stored form's
    `cross_session` says so), for the teller and the police: source, date and note. None when
    the payee was not listed then, or has been removed from the list since."""
    cross_session = (screening.get("form") or {}).get("cross_session") or {}
    return find(db, screening["payee_hash"]) if cross_session.get("payee_watchlisted") else None


def get(db, entry_id: int) -> Entry | None:
    row = watchlist_store.entry(db, entry_id)
    return entry_of(row) if row else None


VIEWS = ("active", "expired", "all")  # the list page's filters (有效/已过期/全部)


def page(db, before: int | None = None, size: int = PAGE_SIZE, view: str = "all",
         today: date | None = None) -> tuple[list[Entry], int | None]:
    """Listed entries of `view` newest first, keyset-paginated on the id; returns (entries,
    cursor of the next page). Proposals are not listed: they wait in `proposals`."""
    rows = watchlist_store.entries_before(db, before, size + 1, view,
                                          (today or clock.today()).isoformat())
    entries = [entry_of(row) for row in rows[:size]]
    next_before = entries[-1].id if len(rows) > size else None
    return entries, next_before


def count(db) -> int:
    """Listed entries, expired ones included."""
    return watchlist_store.count(db)


def counts(db, today: date | None = None) -> dict[str, int]:
    """active / expired / proposed on `today`."""
    return watchlist_store.counts(db, (today or clock.today()).isoformat())


class _AlreadyListed(Exception):
    """Rolls back add_typed's import row when the account got an entry meanwhile."""


@dataclass(frozen=True)
class Added:
    entry_id: int
    renewed: bool  # the account had an entry (expired, proposed, or expiring sooner)


def add_typed(db, ledger_key: bytes, entry, actor_id: int | None,
              today: date | None = None) -> Added | None:
    """Add one account typed into the form (a csv_import.ListedAccount) as a one-line import of
    kind `manual`, logging watchlist.added; or list it again when its entry has expired or is
    only a proposal (storage.watchlist.renew_entry). None when its entry is in force (nothing
    is written then)."""
    added_at = audit.now_iso()
    today_text = (today or clock.today()).isoformat()
    try:
        with storage.transaction(db):
            import_id = watchlist_store.start_import(db, added_at, actor_id, "manual", 1)
            entry_id = watchlist_store.add_entry(db, import_id, added_at, entry.stored())
            renewed = entry_id is None
            if renewed:
                # Only a lapsed entry: a listing in force is changed on its own page.
                entry_id = watchlist_store.renew_entry(db, import_id, added_at, today_text,
                                                       entry.stored(), extend=False)
                if entry_id is None:
                    raise _AlreadyListed
            watchlist_store.finish_import(db, import_id, int(not renewed), 0, 0, 0,
                                          renewed=int(renewed))
            audit.append(db, ledger_key, audit.AuditEvent(
                "watchlist.added", actor_id=actor_id,
                data={"entry_id": entry_id, "import_id": import_id,
                      "account_masked": entry.account_masked, "category": entry.category,
                      "expires_on": entry.expires_on or "", "renewed": renewed}))
    except _AlreadyListed:
        return None
    return Added(entry_id, renewed)


@dataclass(frozen=True)
class ImportRecord:
    id: int
    imported_at: str
    actor_name: str
    kind: str
    data_lines: int
    added: int
    already_listed: int
    duplicates: int
    skipped_errors: int
    renewed: int = 0


def recent_imports(db, limit: int = 10) -> list[ImportRecord]:
    return [ImportRecord(**row) for row in watchlist_store.recent_imports(db, limit)]


def remove(db, ledger_key: bytes, entry_id: int, actor_id: int | None, reason: str = "") -> Entry | None:
    """Delete one entry and log watchlist.removed (masked account only); None if it is gone."""
    with storage.transaction(db):
        entry = get(db, entry_id)
        if entry is None:
            return None
        watchlist_store.remove(db, entry_id)
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.removed", actor_id=actor_id,
            data={"account_masked": entry.account_masked, "source": entry.source,
                  "import_id": entry.import_id, "reason": pii.mask_numbers_in_text(reason.strip())}))
    return entry


@dataclass(frozen=True)
class HighRiskPayee:
    payee_hash: str
    payee_masked: str
    sessions: int
    last_seen: str  # the bank's date of the newest session, YYYY-MM-DD


def _day_of(stored: str | None) -> str:
    try:
        return clock.business_day(stored).isoformat() if stored else ""
    except (ValueError, OverflowError):
        return stored[:10]


def high_risk_payees(db, branch_ids: tuple[int, ...] | None = None) -> list[HighRiskPayee]:
    """Payees of these branches' (None: every branch's) high/critical sessions or confirmed
    fraud, newest first.

    A session security disposed as a false alarm (误报) does not count.
    """
    return [HighRiskPayee(row["payee_hash"], row["payee_masked"] or "", row["sessions"],
                          _day_of(row["last_seen"]))
            for row in watchlist_store.high_risk_payees(db, branch_ids)]


def export_high_risk_payees(db, ledger_key: bytes, pii_key: bytes, actor_id: int | None,
                            branch_ids: tuple[int, ...] | None = None) -> bytes:
    """The CSV (UTF-8 with BOM, for Excel) head office merges, of these branches' screenings;
    logs watchlist.exported."""
    payees = high_risk_payees(db, branch_ids)
    fingerprint = key_fingerprint(pii_key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for payee in payees:
        writer.writerow([payee.payee_hash, payee.payee_masked, payee.sessions, payee.last_seen,
                         fingerprint])
    with storage.transaction(db):
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.exported", actor_id=actor_id, data={"rows": len(payees)}))
    return buffer.getvalue().encode("utf-8-sig")
