"""Retention: empty the full personal data of sessions older than PII_RETENTION_DAYS.

What is kept in full (pii_vault: names, ID and account numbers, phones; the police alert
payload of a sent alert in outbox) is emptied; masks and keyed hashes stay so statistics,
review and repeat-payee matching still work. The run is one `retention.redacted` ledger event,
appended like any other, so the chain still verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .. import audit, clock, storage
from ..storage import review

REDACTED_PAYLOAD = '{"redacted": true}'


@dataclass(frozen=True)
class Redaction:
    before: str  # sessions started before this time (UTC; the start of a business day)
    sessions: int
    fields: int
    alert_payloads: int


def cutoff(days: int, today: date | None = None) -> str:
    """The start of the business day `days` before today, as a stored (UTC) time."""
    return clock.stamp(clock.day_start((today or clock.today()) - timedelta(days=days)))


def redact(db, key: bytes, days: int, actor_id: int | None = None,
           today: date | None = None) -> Redaction:
    if days < 1:
        raise ValueError("days must be at least 1")
    before = cutoff(days, today)
    with storage.transaction(db):
        counts = review.redact_personal_data(db, before, REDACTED_PAYLOAD)
        result = Redaction(before, counts["sessions"], counts["fields"], counts["alert_payloads"])
        audit.append(db, key, audit.AuditEvent("retention.redacted", actor_id, data={
            "days": days, "before": before, "sessions": result.sessions, "fields": result.fields,
            "alert_payloads": result.alert_payloads}))
    return result
