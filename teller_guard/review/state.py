"""The disposition state machine of a queued session (pure: no Flask, no SQL).

    pending 待复核 ──开始复核──▶ in_review 复核中 ──结案(备注必填)──▶ confirmed_fraud / dissuaded /
        ▲                          │                                false_alarm / police_handled
        └────────退回待复核─────────┘ ◀──────────重新打开(备注必填)──────────┘

Closing and reopening need a note: whoever reads the case later must see why.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import labels
from ..pii import mask_numbers_in_text

PENDING = "pending"
IN_REVIEW = "in_review"
CLOSED = ("confirmed_fraud", "dissuaded", "false_alarm", "police_handled")

STATUS_LABELS = labels.REVIEW_STATUSES
STATUSES = tuple(STATUS_LABELS)

# from -> the statuses it may move to
ALLOWED = {
    PENDING: (IN_REVIEW,),
    IN_REVIEW: (PENDING, *CLOSED),
    **{closed: (IN_REVIEW,) for closed in CLOSED},
}

# The roles allowed to change a disposition or be assigned one.
REVIEWER_ROLES = ("security", "admin")
MAX_NOTE_LENGTH = 2000


class TransitionError(ValueError):
    """A refused change; the message is Chinese and can be shown as is. `field` names the
    form field it is about ("to", "note", "assignee_id"), so the page can focus it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Transition:
    from_status: str
    to_status: str
    note: str

    def event_data(self) -> dict:
        return {"from": self.from_status, "to": self.to_status, "note": self.note}


def current_status(stored: str | None) -> str:
    """A queued session without a review status yet is waiting for review."""
    return stored or PENDING


def label(status: str | None) -> str:
    return STATUS_LABELS.get(current_status(status), status or "")


def is_closed(status: str | None) -> bool:
    return current_status(status) in CLOSED


def needs_note(from_status: str, to_status: str) -> bool:
    return to_status in CLOSED or from_status in CLOSED


def clean_note(note: str | None) -> str:
    """The note as stored: account, ID and phone numbers in it masked."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise TransitionError(f"备注不能超过 {MAX_NOTE_LENGTH} 字", "note")
    return mask_numbers_in_text(note)


def transition(stored_status: str | None, to_status: str, note: str | None = "") -> Transition:
    """Check one change of status; raise TransitionError with the reason when it is not allowed."""
    from_status = current_status(stored_status)
    if from_status not in STATUS_LABELS:
        raise TransitionError(f"当前复核状态无法识别：{from_status}")
    if not to_status:
        raise TransitionError("请选择新的复核状态", "to")
    if to_status not in STATUS_LABELS:
        raise TransitionError(f"目标状态无效：{to_status[:20]}", "to")
    if to_status == from_status:
        raise TransitionError(f"案件已是“{STATUS_LABELS[to_status]}”状态")
    if to_status not in ALLOWED[from_status]:
        raise TransitionError(
            f"不能从“{STATUS_LABELS[from_status]}”直接改为“{STATUS_LABELS[to_status]}”；"
            f"可改为：{'、'.join(STATUS_LABELS[s] for s in ALLOWED[from_status])}")
    note = clean_note(note)
    if needs_note(from_status, to_status) and not note:
        action = "结案" if to_status in CLOSED else "重新打开"
        raise TransitionError(f"{action}必须填写复核备注", "note")
    return Transition(from_status, to_status, note)


def allowed_targets(stored_status: str | None) -> tuple[str, ...]:
    return ALLOWED.get(current_status(stored_status), ())


def can_close(stored_status: str | None) -> bool:
    """An open case (待复核 or 复核中) can be closed in one step (开始复核 is then implied)."""
    return current_status(stored_status) in (PENDING, IN_REVIEW)


def closing_steps(stored_status: str | None, to_status: str, note: str | None) -> list[Transition]:
    """The changes that close an open case in one step: from 待复核 it passes through 复核中
    (so the ledger keeps the machine's path), then to the chosen conclusion with the note."""
    if not to_status:
        raise TransitionError("请选择复核结论", "to")
    if to_status not in CLOSED:
        raise TransitionError(f"复核结论无效：{to_status[:20]}", "to")
    from_status = current_status(stored_status)
    if not can_close(from_status):
        raise TransitionError(f"案件已是“{label(from_status)}”状态，不能再结案", "to")
    steps = [transition(from_status, IN_REVIEW)] if from_status == PENDING else []
    return [*steps, transition(IN_REVIEW, to_status, note)]


def check_reviewer(role: str) -> None:
    """Only security and admin dispose of cases (head office's as theirs); supervisors read."""
    if labels.BRANCH_ROLE_OF.get(role, role) not in REVIEWER_ROLES:
        raise TransitionError("只有安保或管理员可以处置复核案件")


def check_assignee(role: str | None, active: bool) -> None:
    if role is None:
        raise TransitionError("复核人不存在")
    if not active:
        raise TransitionError("复核人账户已停用")
    if role not in REVIEWER_ROLES:
        raise TransitionError("只能分配给安保或管理员")
