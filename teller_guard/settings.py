"""Branch settings: each branch's row in `branches`, every change logged with who, when, before
and after."""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, replace
from decimal import Decimal

from . import audit, clock, storage
from .storage import branches as branch_store
from .storage import settings as settings_store

DEFAULT_BRANCH_ID = branch_store.DEFAULT_BRANCH_ID
# BranchSettings field -> branches column (the rest have the same name)
COLUMN_OF = {"branch_name": "name"}


@dataclass(frozen=True)
class BranchSettings:
    bank_name: str = "示例银行"
    branch_name: str = "示例支行"
    province: str = "河北省"
    city: str = "邢台市"
    large_amount: Decimal = Decimal("50000")
    elderly_age: int = 60
    slip_paper: str = "a5"  # a5 | a4 | roll80

    def to_json_dict(self) -> dict:
        values = asdict(self)
        values["large_amount"] = str(self.large_amount)
        return values


DEMO_SETTINGS = BranchSettings(
    bank_name="演示银行", branch_name="沙河支行", province="河北省", city="邢台市",
)


def load(db, branch_id: int = DEFAULT_BRANCH_ID) -> BranchSettings:
    """The branch's settings (the defaults for a branch that does not exist)."""
    return of_row(branch_store.get(db, branch_id))


def branches(db) -> list[dict]:
    """Every branch's row (id, code, name, …), by code."""
    return branch_store.all_branches(db)


def of_row(row: dict | None) -> BranchSettings:
    if row is None:
        return BranchSettings()
    values = {}
    for name, default in asdict(BranchSettings()).items():
        value = row[COLUMN_OF.get(name, name)]
        values[name] = Decimal(value) if isinstance(default, Decimal) else type(default)(value)
    return replace(BranchSettings(), **values)


def columns_of(values: dict) -> dict:
    """BranchSettings.to_json_dict() values under their branches column names."""
    return {COLUMN_OF.get(name, name): value for name, value in values.items()}


_changes_seen = 0
_changes_lock = threading.Lock()


def changes_seen() -> int:
    """Grows with every save() in this process and, on PostgreSQL, with every save another
    process commits (watch_other_processes): a cache of the settings is stale once it moved."""
    return _changes_seen


def note_change() -> None:
    """Count a save (also bank_settings.save's): every cache of settings reads again."""
    global _changes_seen
    with _changes_lock:
        _changes_seen += 1


def watch_other_processes(db) -> None:
    """Have this connection report the saves other processes commit (PostgreSQL; once per
    connection). Saves committed before it listened are unknown, so count one now."""
    if getattr(db, "watching_settings", False) or db.conn.in_transaction:
        return  # in a transaction LISTEN would wait for its commit: the next call listens
    settings_store.listen_for_changes(db, note_change)
    db.watching_settings = True
    note_change()


def save(db, key, new: BranchSettings, actor_id=None,
         branch_id: int = DEFAULT_BRANCH_ID) -> dict:
    """Store the branch's settings; returns {field: (before, after)} of what changed. The
    event names the branch (`branch`) unless it is branch 1, whose events always looked so."""
    with storage.transaction(db):
        before = load(db, branch_id).to_json_dict()
        after = new.to_json_dict()
        changed = {name: (before[name], after[name]) for name in after
                   if before[name] != after[name]}
        if changed:
            branch_store.update_settings(db, branch_id, columns_of(
                {name: value for name, (_, value) in changed.items()}))
            data = {name: {"before": b, "after": a} for name, (b, a) in changed.items()}
            if branch_id != DEFAULT_BRANCH_ID:
                data["branch"] = branch_id
            audit.append(db, key, audit.AuditEvent("settings.changed", actor_id, data=data))
        settings_store.announce_change(db)
    note_change()
    return changed


# A branch code goes into commands (`user add --branch 0427`) and file names: plain characters.
CODE_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,16}")
CODE_RULE = "网点代码只能由字母、数字、- 和 _ 组成，最多 16 个字符"


class BranchError(ValueError):
    """A user-facing problem with a branch (message in Chinese)."""


def create_branch(db, key, code: str, values: BranchSettings, actor_id=None,
                  created_at: str | None = None) -> int:
    """A new branch with its settings; a `branch.created` event records them (verify starts
    the branch's settings from it). Returns the branch id."""

    code = code.strip()
    if not code:
        raise BranchError("请填写网点代码")
    if not CODE_PATTERN.fullmatch(code):
        raise BranchError(CODE_RULE)
    created_at = created_at or clock.stamp()
    with storage.transaction(db):
        if branch_store.by_code(db, code) is not None:
            raise BranchError(f"网点代码已存在: {code}")
        branch_id = branch_store.create(db, code, columns_of(values.to_json_dict()), created_at)
        audit.append(db, key, audit.AuditEvent("branch.created", actor_id, data={
            "branch": branch_id, "code": code, "settings": values.to_json_dict()}))
        settings_store.announce_change(db)
    note_change()
    return branch_id
