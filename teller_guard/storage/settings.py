"""Branch settings (`settings`: one JSON value per name) and facts about the instance itself
(`instance_facts`, e.g. the fingerprint of the key that hashes personal data)."""

from __future__ import annotations

import json
from typing import Any


def branch_settings(db) -> dict[str, Any]:
    """Every stored setting, decoded from JSON (names never stored are missing)."""
    return {name: json.loads(value)
            for name, value in db.execute("SELECT key, value FROM settings").fetchall()}


def save_branch_setting(db, name: str, value: Any) -> None:
    db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               [name, json.dumps(value, ensure_ascii=False)])


def instance_fact(db, name: str) -> str | None:
    found = db.execute("SELECT value FROM instance_facts WHERE key = ?", [name]).fetchone()
    return found[0] if found else None


def record_instance_fact(db, name: str, value: str) -> None:
    """Record a fact once (a second record of the same name fails)."""
    db.execute("INSERT INTO instance_facts (key, value) VALUES (?, ?)", [name, value])
