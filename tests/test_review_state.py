"""The disposition state machine: every legal and every illegal transition."""

import itertools

import pytest

from teller_guard.review import state
from teller_guard.review.state import TransitionError

pytestmark = pytest.mark.both_backends


LEGAL = {
    ("pending", "in_review"),
    ("in_review", "pending"),
    *(("in_review", closed) for closed in state.CLOSED),
    *((closed, "in_review") for closed in state.CLOSED),
}
ALL_PAIRS = set(itertools.product(state.STATUSES, state.STATUSES))


def test_the_table_is_the_documented_machine():
    assert {(a, b) for a, targets in state.ALLOWED.items() for b in targets} == LEGAL
    assert set(state.STATUS_LABELS.values()) == {"待复核", "复核中", "确认诈骗", "成功劝阻", "误报", "已报警"}


@pytest.mark.parametrize(("from_status", "to_status"), sorted(LEGAL))
def test_legal_transition(from_status, to_status):
    change = state.transition(from_status, to_status, "已电话回访客户，确认情况")
    assert (change.from_status, change.to_status) == (from_status, to_status)
    assert change.event_data() == {"from": from_status, "to": to_status,
                                   "note": "已电话回访客户，确认情况"}


@pytest.mark.parametrize(("from_status", "to_status"), sorted(ALL_PAIRS - LEGAL))
def test_illegal_transition_is_refused_in_chinese(from_status, to_status):
    with pytest.raises(TransitionError) as refused:
        state.transition(from_status, to_status, "备注")
    message = str(refused.value)
    assert message.startswith(("不能从", "案件已是"))
    assert state.STATUS_LABELS[to_status] in message


@pytest.mark.parametrize("closed", state.CLOSED)
def test_closing_needs_a_note(closed):
    with pytest.raises(TransitionError, match="结案必须填写复核备注"):
        state.transition("in_review", closed, "   ")


@pytest.mark.parametrize("closed", state.CLOSED)
def test_reopening_needs_a_note(closed):
    with pytest.raises(TransitionError, match="重新打开必须填写复核备注"):
        state.transition(closed, "in_review", "")


def test_opening_and_returning_need_no_note():
    assert state.transition("pending", "in_review").note == ""
    assert state.transition("in_review", "pending", None).note == ""


def test_unset_status_counts_as_pending():
    assert state.transition(None, "in_review").from_status == "pending"
    with pytest.raises(TransitionError):
        state.transition(None, "false_alarm", "误报")


def test_unknown_and_missing_statuses():
    with pytest.raises(TransitionError, match="请选择新的复核状态"):
        state.transition("pending", "")
    with pytest.raises(TransitionError, match="目标状态无效"):
        state.transition("pending", "deleted")
    with pytest.raises(TransitionError, match="无法识别"):
        state.transition("archived", "in_review")


def test_note_length_is_bounded():
    with pytest.raises(TransitionError, match="备注不能超过"):
        state.transition("in_review", "false_alarm", "字" * (state.MAX_NOTE_LENGTH + 1))


@pytest.mark.parametrize(("role", "allowed"), [("security", True), ("admin", True),
                                                ("supervisor", False), ("teller", False)])
def test_only_security_and_admin_dispose(role, allowed):
    if allowed:
        state.check_reviewer(role)
    else:
        with pytest.raises(TransitionError, match="只有安保或管理员"):
            state.check_reviewer(role)


def test_assignee_must_be_an_active_reviewer():
    state.check_assignee("security", True)
    with pytest.raises(TransitionError, match="已停用"):
        state.check_assignee("security", False)
    with pytest.raises(TransitionError, match="只能分配给安保或管理员"):
        state.check_assignee("teller", True)
    with pytest.raises(TransitionError, match="不存在"):
        state.check_assignee(None, False)


def test_state_module_is_pure():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(state))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name and ("flask" in name or "sqlite" in name) for name in imported)
