"""Watchlist storage: account numbers, lookup, listing, removal, the high-risk payee export.

No Flask here. Account numbers never reach the database: only `pii.keyed_hash` of the digits
and `pii.mask_account` are stored. `db` is a sqlite_utils.Database (or anything with .execute).
"""

from __future__ import annotations

import csv
import hmac
import io
import re
import unicodedata
from dataclasses import dataclass

from .. import audit, pii
from ..db import write_transaction
from ..pii_key import fingerprint as key_fingerprint

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
    id: int  # the rowid: stable, not personal, usable in URLs
    account_hash: str
    account_masked: str
    source: str
    listed_on: str
    note: str
    import_id: int | None
    added_at: str


ENTRY_COLUMNS = "rowid, account_hash, account_masked, source, listed_on, note, import_id, added_at"


def _entry(row) -> Entry:
    return Entry(row[0], row[1], row[2] or "", row[3] or "", row[4] or "", row[5] or "",
                 row[6], row[7] or "")


def is_listed(db, account_hash_value: str) -> bool:
    if not account_hash_value:
        return False
    row = db.execute("SELECT 1 FROM watchlist WHERE account_hash = ?", [account_hash_value]).fetchone()
    return row is not None


def find(db, account_hash_value: str) -> Entry | None:
    row = db.execute(f"SELECT {ENTRY_COLUMNS} FROM watchlist WHERE account_hash = ?",  # noqa: S608
                     [account_hash_value]).fetchone()
    return _entry(row) if row else None


def get(db, entry_id: int) -> Entry | None:
    row = db.execute(f"SELECT {ENTRY_COLUMNS} FROM watchlist WHERE rowid = ?",  # noqa: S608
                     [entry_id]).fetchone()
    return _entry(row) if row else None


def page(db, before: int | None = None, size: int = PAGE_SIZE) -> tuple[list[Entry], int | None]:
    """Newest first, keyset-paginated on the rowid; returns (entries, cursor of the next page)."""
    if before is None:
        rows = db.execute(f"SELECT {ENTRY_COLUMNS} FROM watchlist "  # noqa: S608
                          "ORDER BY rowid DESC LIMIT ?", [size + 1]).fetchall()
    else:
        rows = db.execute(f"SELECT {ENTRY_COLUMNS} FROM watchlist WHERE rowid < ? "  # noqa: S608
                          "ORDER BY rowid DESC LIMIT ?", [before, size + 1]).fetchall()
    entries = [_entry(row) for row in rows[:size]]
    next_before = entries[-1].id if len(rows) > size else None
    return entries, next_before


def count(db) -> int:
    return db.execute("SELECT count(*) FROM watchlist").fetchone()[0]


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


def recent_imports(db, limit: int = 10) -> list[ImportRecord]:
    rows = db.execute(
        "SELECT i.id, i.imported_at, coalesce(u.display_name, u.username, ''), i.kind, "
        "i.data_lines, i.added, i.already_listed, i.duplicates, i.skipped_errors "
        "FROM watchlist_imports i LEFT JOIN users u ON u.id = i.actor_id "
        "ORDER BY i.id DESC LIMIT ?", [limit]).fetchall()
    return [ImportRecord(*row) for row in rows]


def remove(db, ledger_key: bytes, entry_id: int, actor_id: int | None, reason: str = "") -> Entry | None:
    """Delete one entry and log watchlist.removed (masked account only); None if it is gone."""
    with write_transaction(db):
        entry = get(db, entry_id)
        if entry is None:
            return None
        db.execute("DELETE FROM watchlist WHERE rowid = ?", [entry_id])
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
    last_seen: str  # local date of the newest session, YYYY-MM-DD


def high_risk_payees(db) -> list[HighRiskPayee]:
    """Payees of this branch's high/critical sessions or confirmed fraud, newest first.

    A session security disposed as a false alarm (误报) does not count.
    """
    # SQLite fills the bare column payee_masked from the row that gives max(started_at).
    rows = db.execute(
        "SELECT payee_hash, payee_masked, count(*), max(started_at) FROM sessions "
        "WHERE payee_hash IS NOT NULL AND payee_hash != '' "
        "AND (level IN ('high', 'critical') OR review_status = 'confirmed_fraud') "
        "AND coalesce(review_status, '') != 'false_alarm' "
        "GROUP BY payee_hash ORDER BY max(started_at) DESC, payee_hash").fetchall()
    return [HighRiskPayee(row[0], row[1] or "", row[2], (row[3] or "")[:10]) for row in rows]


def export_high_risk_payees(db, ledger_key: bytes, pii_key: bytes, actor_id: int | None) -> bytes:
    """The CSV (UTF-8 with BOM, for Excel) head office merges; logs watchlist.exported."""
    payees = high_risk_payees(db)
    fingerprint = key_fingerprint(pii_key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for payee in payees:
        writer.writerow([payee.payee_hash, payee.payee_masked, payee.sessions, payee.last_seen,
                         fingerprint])
    with write_transaction(db):
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.exported", actor_id=actor_id, data={"rows": len(payees)}))
    return buffer.getvalue().encode("utf-8-sig")
