"""Branch settings: stored as JSON values, every change logged with who, when, before and after."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from decimal import Decimal

from . import audit, storage
from .storage import settings as settings_store


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


def load(db) -> BranchSettings:
    found = settings_store.branch_settings(db)
    values = {}
    for name, default in asdict(BranchSettings()).items():
        if name in found:
            value = found[name]
            values[name] = Decimal(value) if isinstance(default, Decimal) else value
    return replace(BranchSettings(), **values)


_changes_seen = 0
_changes_lock = threading.Lock()


def changes_seen() -> int:
    """Grows with every save() in this process and, on PostgreSQL, with every save another
    process commits (watch_other_processes): a cache of the settings is stale once it moved."""
    return _changes_seen


def _note_change() -> None:
    global _changes_seen
    with _changes_lock:
        _changes_seen += 1


def watch_other_processes(db) -> None:
    """Have this connection report the saves other processes commit (PostgreSQL; once per
    connection). Saves committed before it listened are unknown, so count one now."""
    if getattr(db, "watching_settings", False) or db.conn.in_transaction:
        return  # in a transaction LISTEN would wait for its commit: the next call listens
    settings_store.listen_for_changes(db, _note_change)
    db.watching_settings = True
    _note_change()


def save(db, key, new: BranchSettings, actor_id=None) -> dict:
    """Store the settings; returns {field: (before, after)} of what changed."""
    with storage.transaction(db):
        before = load(db).to_json_dict()
        after = new.to_json_dict()
        changed = {name: (before[name], after[name]) for name in after
                   if before[name] != after[name]}
        for name, value in after.items():
            settings_store.save_branch_setting(db, name, value)
        if changed:
            audit.append(db, key, audit.AuditEvent(
                "settings.changed", actor_id,
                data={name: {"before": b, "after": a} for name, (b, a) in changed.items()}))
        settings_store.announce_change(db)
    _note_change()
    return changed
