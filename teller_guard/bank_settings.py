"""全行设置: the bank-wide thresholds of the cross-branch and cross-session signals
(watchlist/signals.py), kept by the head-office admin.

Each value saved on the page is a row of the key/value table `settings` (key: the lower-case
config name, value: JSON) and a `bank_settings.changed` event with before and after. Precedence:
a saved value wins over app.config; a value never saved is app.config's (config.toml, the
TELLER_GUARD_* environment, config.DEFAULTS), so existing config files keep working until head
office saves the page. Reads share the branch settings' change counter (settings.changes_seen),
so a save in any process is seen at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from . import audit, settings, storage
from .config import DEFAULTS
from .storage import settings as settings_store

EVENT_KIND = "bank_settings.changed"


@dataclass(frozen=True)
class BankSettings:
    payee_branches_min: int = DEFAULTS["PAYEE_BRANCHES_MIN"]
    payee_branches_days: int = DEFAULTS["PAYEE_BRANCHES_DAYS"]
    customer_other_branch_days: int = DEFAULTS["CUSTOMER_OTHER_BRANCH_DAYS"]
    payee_repeat_min_customers: int = DEFAULTS["PAYEE_REPEAT_MIN_CUSTOMERS"]
    payee_repeat_days: int = DEFAULTS["PAYEE_REPEAT_DAYS"]
    customer_repeat_min: int = DEFAULTS["CUSTOMER_REPEAT_MIN"]
    customer_repeat_days: int = DEFAULTS["CUSTOMER_REPEAT_DAYS"]

    @classmethod
    def from_config(cls, config: Mapping) -> BankSettings:
        """The values app.config (or any mapping of config names) gives, defaults for the rest."""
        return cls(**{name: int(config.get(name.upper(), default))
                      for name, default in asdict(cls()).items()})


NAMES = tuple(item.name for item in fields(BankSettings))
# The page's bounds, and verify's: a count of branches or customers, a window in days.
RANGES = {
    "payee_branches_min": (2, 50),
    "payee_branches_days": (1, 365),
    "customer_other_branch_days": (1, 365),
    "payee_repeat_min_customers": (1, 100),
    "payee_repeat_days": (1, 365),
    "customer_repeat_min": (1, 100),
    "customer_repeat_days": (1, 365),
}


def saved(db) -> dict[str, object]:
    """The values saved on the page (name -> value as stored); other keys are left out."""
    found = {}
    for key, text in settings_store.bank_values(db).items():
        if key in NAMES:
            try:
                found[key] = json.loads(text)
            except (TypeError, ValueError):
                found[key] = text
    return found


def load(db, config: Mapping) -> BankSettings:
    """The thresholds in force: each saved value, else app.config's."""
    values = asdict(BankSettings.from_config(config))
    for name, value in saved(db).items():
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = value  # a row edited into nonsense falls back (verify reports it)
    return BankSettings(**values)


def save(db, key, new: BankSettings, config: Mapping, actor_id=None) -> dict:
    """Store the values that differ from those in force; returns {name: (before, after)}."""
    with storage.transaction(db):
        before, after = asdict(load(db, config)), asdict(new)
        changed = {name: (before[name], after[name]) for name in NAMES
                   if before[name] != after[name]}
        if changed:
            settings_store.put_bank_values(
                db, {name: json.dumps(value) for name, (_, value) in changed.items()})
            audit.append(db, key, audit.AuditEvent(EVENT_KIND, actor_id, data={
                name: {"before": b, "after": a} for name, (b, a) in changed.items()}))
        settings_store.announce_change(db)
    settings.note_change()
    return changed
