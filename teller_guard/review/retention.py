"""Retention: empty the full personal data of sessions older than PII_RETENTION_DAYS.

What is kept in full (pii_vault: names, ID and account numbers, phones; the police alert
payload of a sent alert in outbox) is emptied; masks and keyed hashes stay so statistics,
review and repeat-payee matching still work. The run is one `retention.redacted` ledger event,
appended like any other, so the chain still verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .. import audit
from ..db import write_transaction

REDACTED_PAYLOAD = '{"redacted": true}'


@dataclass(frozen=True)
class Redaction:
    before: str  # sessions started before this local date were redacted
    sessions: int
    fields: int
    alert_payloads: int


def cutoff(days: int, today: date | None = None) -> str:
    return ((today or date.today()) - timedelta(days=days)).isoformat()


def redact(db, key: bytes, days: int, actor_id: int | None = None,
           today: date | None = None) -> Redaction:
    if days < 1:
        raise ValueError("days must be at least 1")
    before = cutoff(days, today)
    old_sessions = "SELECT id FROM sessions WHERE started_at < ?"
    with write_transaction(db):
        sessions = db.execute(
            f"SELECT count(DISTINCT session_id) FROM pii_vault WHERE value != '' "  # noqa: S608
            f"AND session_id IN ({old_sessions})", [before]).fetchone()[0]
        fields = db.execute(
            f"UPDATE pii_vault SET value = '' WHERE value != '' "  # noqa: S608
            f"AND session_id IN ({old_sessions})", [before]).rowcount
        # A sent alert's payload was a copy of the same personal data; pending or failed ones
        # are left alone (they may still need sending).
        payloads = db.execute(
            f"UPDATE outbox SET payload = ? WHERE status = 'sent' "  # noqa: S608
            f"AND payload IS NOT NULL AND payload != ? AND session_id IN ({old_sessions})",
            [REDACTED_PAYLOAD, REDACTED_PAYLOAD, before]).rowcount
        result = Redaction(before, sessions, fields, payloads)
        audit.append(db, key, audit.AuditEvent("retention.redacted", actor_id, data={
            "days": days, "before": before, "sessions": sessions, "fields": fields,
            "alert_payloads": payloads}))
    return result
