"""Dispositions: change a queued session's review status, assign it, add notes.

Each change updates the sessions row and appends its ledger event in one write transaction,
reading the row inside that transaction so two reviewers cannot both move the same case.
"""

from __future__ import annotations

from .. import audit, storage
from ..storage import review
from . import state
from .state import TransitionError


def _queued_session(db, session_id: int) -> dict:
    row = review.queue_entry(db, session_id)
    if row is None:
        raise TransitionError("业务不存在")
    if not row["in_queue"]:
        raise TransitionError("该业务不在复核队列中")
    return row


def _user(db, user_id: int, branch_id: int | None) -> tuple[str, bool] | None:
    """role and active of a possible assignee of a case of branch `branch_id`: one of another
    branch is as unknown as one that does not exist (head office's may take any)."""
    row = review.account(db, user_id)
    if row is None or row["branch_id"] not in (None, branch_id):
        return None
    return row["role"], bool(row["active"])


def _assign(db, key, actor, session_id: int, assignee_id: int) -> None:
    review.assign(db, session_id, assignee_id)
    audit.append(db, key, audit.AuditEvent(
        "review.assigned", actor.id, session_id, {"assignee_id": assignee_id}))


def _case_as_seen(db, session_id: int, expected_status: str | None) -> tuple[dict, str]:
    """The queued case and its status, refused if it is no longer the status the reviewer saw
    (someone else changed it meanwhile)."""
    row = _queued_session(db, session_id)
    current = state.current_status(row["review_status"])
    if expected_status and state.current_status(expected_status) != current:
        raise TransitionError(f"该案件状态已被他人改为“{state.label(current)}”，请查看后重新操作")
    return row, current


def change_status(db, key, actor, session_id: int, to_status: str, note: str = "",
                  expected_status: str | None = None) -> state.Transition:
    """Move a case to `to_status`. `expected_status` is the status the reviewer saw: if someone
    else changed it meanwhile the change is refused rather than silently applied."""
    state.check_reviewer(actor.role)
    with storage.transaction(db):
        row, current = _case_as_seen(db, session_id, expected_status)
        change = state.transition(current, to_status, note)
        review.transition(db, session_id, to_status)
        audit.append(db, key, audit.AuditEvent(
            "review.transition", actor.id, session_id, change.event_data()))
        if to_status == state.IN_REVIEW and row["assignee_id"] is None:
            _assign(db, key, actor, session_id, actor.id)  # whoever starts the review owns it
    return change


def close(db, key, actor, session_id: int, to_status: str, note: str,
          expected_status: str | None = None) -> list[state.Transition]:
    """Close an open case in one step with a note: from 待复核 this writes 开始复核 and the
    conclusion (two review.transition events) in one transaction."""
    state.check_reviewer(actor.role)
    with storage.transaction(db):
        row, current = _case_as_seen(db, session_id, expected_status)
        steps = state.closing_steps(current, to_status, note)
        for step in steps:
            review.transition(db, session_id, step.to_status)
            audit.append(db, key, audit.AuditEvent(
                "review.transition", actor.id, session_id, step.event_data()))
            if step.to_status == state.IN_REVIEW and row["assignee_id"] is None:
                _assign(db, key, actor, session_id, actor.id)
    return steps


def assign(db, key, actor, session_id: int, assignee_id: int) -> None:
    state.check_reviewer(actor.role)
    with storage.transaction(db):
        row = _queued_session(db, session_id)
        assignee = _user(db, assignee_id, row["branch_id"])
        state.check_assignee(*(assignee or (None, False)))
        if row["assignee_id"] == assignee_id:
            raise TransitionError("该案件已分配给此复核人", "assignee_id")
        _assign(db, key, actor, session_id, assignee_id)


def add_note(db, key, actor, session_id: int, note: str) -> None:
    state.check_reviewer(actor.role)
    note = state.clean_note(note)
    if not note:
        raise TransitionError("请填写备注内容", "note")
    with storage.transaction(db):
        _queued_session(db, session_id)
        audit.append(db, key, audit.AuditEvent("review.note", actor.id, session_id, {"note": note}))
