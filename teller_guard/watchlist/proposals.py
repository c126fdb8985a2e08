"""Branch proposals (提请列入名单) and head office's decision on them.

Branch security proposes the payee of a case it confirmed as fraud; the entry waits as
'proposed' (it matches nothing) until a head-office reviewer approves it (active, 本行发现) or
rejects it with a reason (the row goes, so the account can be proposed or imported again).
Every step is a ledger event on the case's session, so the case's record and the entry's
history both show it. Only the payee's keyed hash and masked form are used: no account number.

No Flask here: the review and watchlist pages call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .. import audit, clock, labels, pii, storage
from ..review import queries, timeline
from ..storage import watchlist as watchlist_store
from . import csv_import, store

# review/state.py's closing statuses: only 确认诈骗 says the payee took a victim's money.
CONFIRMS_FRAUD = ("confirmed_fraud",)
# Who proposes: the roles that dispose cases (review/state.REVIEWER_ROLES).
PROPOSER_ROLES = ("security", "admin")
# Who decides: head office. `admin` decides too until every installation has head-office
# accounts (issue 16); may_approve_watchlist is the one place that says so.
# Head office alone: an approved entry stops screenings at every branch, so no branch's own
# admin may make one effective.
APPROVER_ROLES = ("ho_security", "ho_admin")
EVENT_KINDS = ("watchlist.proposed", "watchlist.approved", "watchlist.rejected")
MAX_NOTE_CHARS = csv_import.MAX_NOTE_CHARS
MAX_SHOWN = 200


class ProposalError(ValueError):
    """A refused step; the message is Chinese and shown as is. `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def may_approve_watchlist(user) -> bool:
    return user is not None and getattr(user, "role", None) in APPROVER_ROLES


def may_propose(user) -> bool:
    return user is not None and getattr(user, "role", None) in PROPOSER_ROLES


def confirms_fraud(review_status: str | None) -> bool:
    return review_status in CONFIRMS_FRAUD


def _text(raw: str | None, label: str, field: str) -> str:
    """A note or reason as stored: required, at most MAX_NOTE_CHARS, numbers in it masked."""
    text = (raw or "").strip()
    if not text:
        raise ProposalError(f"请填写{label}", field)
    if len(text) > MAX_NOTE_CHARS:
        raise ProposalError(f"{label}最多 {MAX_NOTE_CHARS} 个字", field)
    return pii.mask_numbers_in_text(text)


def propose(db, ledger_key: bytes, actor, session_id: int, note: str) -> int:
    """The proposed entry's id for this confirmed case's payee; logs watchlist.proposed."""
    if not may_propose(actor):
        raise ProposalError("只有安保人员可以提请列入名单")
    note = _text(note, "提请理由", "note")
    with storage.transaction(db):
        case = watchlist_store.case_payee(db, session_id)
        if case is None:
            raise ProposalError("业务不存在")
        if not confirms_fraud(case["review_status"]):
            raise ProposalError("只有复核结论为“确认诈骗”的案件可以提请列入名单")
        if not case["payee_hash"]:
            raise ProposalError("该业务没有收款账号，无法提请")
        existing = watchlist_store.entry_by_hash(db, case["payee_hash"])
        entry_id = None if existing else watchlist_store.propose(
            db, case["payee_hash"], case["payee_masked"] or "", note, session_id, actor.id,
            audit.now_iso())
        if entry_id is None:
            raise ProposalError("该收款账户已提请过，正在等待总行审批"
                                if existing is None or existing["status"] == "proposed"
                                else "该收款账户已在涉诈名单中")
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.proposed", actor.id, session_id,
            {"entry_id": entry_id, "account_masked": case["payee_masked"] or "", "note": note,
             "branch_id": case["branch_id"]}))
    return entry_id


@dataclass(frozen=True)
class Proposal:
    entry: store.Entry
    proposer_name: str
    reference: str  # the case's reference (业务编号)
    branch_name: str  # the case's branch, the one proposing


def pending(db, limit: int = MAX_SHOWN) -> list[Proposal]:
    """Proposals waiting for head office, oldest first."""
    return [Proposal(store.entry_of(row), row["proposer_name"], row["reference"],
                     row["branch_name"])
            for row in watchlist_store.proposals(db, limit)]


def _proposal(db, entry_id: int) -> dict:
    row = watchlist_store.entry(db, entry_id)
    if row is None or row["status"] != "proposed":
        raise ProposalError("该提请已被处理或已不存在")
    return row


def approve(db, ledger_key: bytes, actor, entry_id: int, expires_on: str = "",
            today: date | None = None) -> store.Entry:
    """List a proposed entry from `today` (本行发现), optionally until `expires_on`."""
    if not may_approve_watchlist(actor):
        raise ProposalError("只有总行反诈或总行管理员可以审批")
    today = today or clock.today()
    try:
        expiry = csv_import.parse_expiry(expires_on or "", today.isoformat())
    except ValueError as problem:
        raise ProposalError(str(problem).replace("列入日期", "今天"), "expires_on") from None
    with storage.transaction(db):
        row = _proposal(db, entry_id)
        watchlist_store.approve(db, entry_id, today.isoformat(), expiry)
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.approved", actor.id, row["session_id"],
            {"entry_id": entry_id, "account_masked": row["account_masked"] or "",
             "expires_on": expiry or ""}))
    return store.get(db, entry_id)


def reject(db, ledger_key: bytes, actor, entry_id: int, reason: str) -> store.Entry:
    """Drop a proposal with the reason; the ledger keeps both."""
    if not may_approve_watchlist(actor):
        raise ProposalError("只有总行反诈或总行管理员可以审批")
    reason = _text(reason, "驳回原因", "reason")
    with storage.transaction(db):
        row = _proposal(db, entry_id)
        watchlist_store.reject(db, entry_id)
        audit.append(db, ledger_key, audit.AuditEvent(
            "watchlist.rejected", actor.id, row["session_id"],
            {"entry_id": entry_id, "account_masked": row["account_masked"] or "",
             "reason": reason}))
    return store.entry_of(row)


def history(db, entry: store.Entry, names: dict[int, str]) -> list[timeline.TimelineEntry]:
    """How the entry came onto the list, oldest first: its import (or the form it was typed
    into), then the proposal events of the case it came from, earlier rejected proposals of
    that case (the same payee) included."""
    lines = []
    found = watchlist_store.import_record(db, entry.import_id) if entry.import_id else None
    if found is not None:
        kind = "watchlist.added" if found["kind"] == "manual" else "watchlist.imported"
        file_kind = timeline.WATCHLIST_KINDS.get(found["kind"], found["kind"])
        lines.append(timeline.TimelineEntry(
            found["imported_at"], audit.KINDS[kind],
            names.get(found["actor_id"], "") if found["actor_id"] is not None else "系统",
            f"{entry.origin or '来源未注明'}" + ("" if kind == "watchlist.added"
                                               else f"；第 {entry.import_id} 次导入（{file_kind}）"),
            kind))
    if entry.session_id is not None:
        events = [event for event in queries.session_events(db, entry.session_id)
                  if event.kind in EVENT_KINDS]
        lines += timeline.timeline(events, names, labels.typology_labels())
    renewal = watchlist_store.import_record(db, entry.renewed_import_id) \
        if entry.renewed_import_id else None
    if renewal is not None:
        file_kind = timeline.WATCHLIST_KINDS.get(renewal["kind"], renewal["kind"])
        expiry = f"，到期日 {entry.expires_on}" if entry.expires_on else "，长期有效"
        lines.append(timeline.TimelineEntry(
            entry.renewed_at, "重新列入名单",
            names.get(renewal["actor_id"], "") if renewal["actor_id"] is not None else "系统",
            f"{entry.origin or '来源未注明'}；第 {entry.renewed_import_id} 次导入"
            f"（{file_kind}）{expiry}", "watchlist.renewed"))
    return lines


@dataclass(frozen=True)
class CaseState:
    """What the case page says about its payee and the watchlist."""

    entry: store.Entry | None  # the payee's entry in any state
    may_propose: bool  # the 提请列入名单 form is shown
    rejected_reason: str  # the newest rejection of this case's proposal, when none is pending


def case_state(db, user, row: dict, events) -> CaseState:
    """`row`: the case's sessions row; `events`: its ledger events (queries.session_events)."""
    entry = store.find(db, row["payee_hash"]) if row.get("payee_hash") else None
    rejections = [event for event in events if event.kind == "watchlist.rejected"]
    rejected = str(rejections[-1].data.get("reason", "")) if rejections and entry is None else ""
    return CaseState(entry, entry is None and bool(row.get("payee_hash"))
                     and confirms_fraud(row.get("review_status")) and may_propose(user),
                     rejected)
