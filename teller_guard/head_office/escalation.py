"""上报总行: a branch sends a case to head office with its reason (ledger `screening.escalated`).

Every 极高 assessment (screening/service.py) and every printed police alert (storage/printing.py)
escalates by itself in the UPDATE it already makes; the first time and reason are kept.
"""

from __future__ import annotations

from datetime import datetime

from .. import audit, clock, labels, storage
from ..pii import mask_numbers_in_text
from ..storage import head_office

# Branch roles that may escalate (head office does not send cases to itself).
BRANCH_ROLES = ("security", "supervisor")
MAX_REASON_LENGTH = 500
REASONS = labels.ESCALATION_REASONS


class EscalationError(ValueError):
    """A refused escalation; the message is Chinese and can be shown as is."""


def clean_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise EscalationError("请填写上报总行的理由")
    if len(reason) > MAX_REASON_LENGTH:
        raise EscalationError(f"上报理由不能超过 {MAX_REASON_LENGTH} 字")
    return mask_numbers_in_text(reason)


def escalate(db, key, actor, session_id: int, reason: str | None,
             moment: datetime | None = None) -> None:
    """Send the case to head office now, by `actor` (security or supervisor of its branch)."""
    if actor.role not in BRANCH_ROLES:
        raise EscalationError("只有网点安保或主管可以上报总行")
    reason = clean_reason(reason)
    at = clock.stamp(moment)
    with storage.transaction(db):
        row = head_office.escalation_state(db, session_id)
        if row is None:
            raise EscalationError("业务不存在")
        if row["escalated_at"] or not head_office.mark_escalated(db, session_id, at, "manual"):
            raise EscalationError("该案件已上报总行")
        audit.append(db, key, audit.AuditEvent(
            "screening.escalated", actor.id, session_id, {"why": "manual", "reason": reason}))
