"""`teller-guard verify`, part two: users, branch settings and API tokens against their events,
and a ledger that is missing or empty while the instance has data.

These tables are small, so they are read whole and compared in Python:

- users: a row per `user.created` (same id and username); role from the latest
  `user.created`/`user.role_changed`; active from the latest `user.disabled`/`user.enabled`;
  password_hash against the digest in the latest `user.created`/`user.password_reset`/
  `user.password_changed` (events written before the digest existed carry none: such a
  password is not checked until its next reset); display_name and staff_no from the latest
  `user.created`/`user.details_changed`, and must_change_password from the latest
  `user.created`/`user.password_reset`/`user.password_changed`, each once an event records it
  (events from before 0002 do not: not checked until the next such event). Lockout counters
  are not checked.
- branches (their settings): each branch's values equal where it started (branch 1: the
  defaults; another branch: its `branch.created` event) overlaid with the `after` of every
  `settings.changed` naming it (`branch`; none: branch 1). A branch with no event is reported.
- settings (全行设置, bank_settings.py): a row per value a `bank_settings.changed` event set,
  holding the `after` of the latest; a row without an event, a changed value or a deleted row
  is reported.
- api_tokens: a row per `api_token.created` (same id and name, created_by its actor),
  revoked exactly when there is an `api_token.revoked`, token_hash against the digest in the
  created event (when it has one), and the scope (tellers, read_scope, may_supervise) against
  the event's `scope` (events from before scopes existed: the default m014 gave those tokens),
  and branch_id against the event's `branch` (none: branch 1, which 0009 gave every token).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import bank_settings, digests, settings
from ..api_scope import Scope
from ..storage import integrity as stored

RECORD_KINDS = ("user.created", "user.role_changed", "user.details_changed", "user.disabled",
                "user.enabled", "user.password_reset", "user.password_changed", "user.branch_changed",
                "settings.changed", bank_settings.EVENT_KIND,
                "branch.created", "api_token.created", "api_token.revoked")
REQUIRED_TABLES = ("ledger", "ledger_head", "sessions", "pii_vault", "users", "branches",
                   "api_tokens")
AREAS = {"users": "用户", "settings": "网点设置", "bank_settings": "全行设置", "api_tokens": "令牌",
         "ledger": "账本"}


@dataclass(frozen=True)
class RecordProblem:
    area: str  # users | settings | bank_settings | api_tokens | ledger
    text: str  # Chinese, shown as is
    problem: str  # edited | inserted | deleted | empty | missing

    def line(self) -> str:
        return f"[{AREAS[self.area]}] {self.text} ({self.problem})"


@dataclass(frozen=True)
class Result:
    rows: int = 0
    problems: list[RecordProblem] = field(default_factory=list)


def missing_tables(db) -> list[str]:
    present = stored.table_names(db)
    return [name for name in REQUIRED_TABLES if name not in present]


def missing_result(missing: list[str]) -> Result:
    return Result(0, [RecordProblem("ledger", f"数据表 {name} 不存在，已被绕过系统删除", "missing")
                      for name in missing])


def _events(db) -> list[tuple[int, str, int | None, dict]]:
    """(id, kind, actor, data) of the record events, oldest first."""
    found = []
    for row in stored.record_events(db, RECORD_KINDS):
        try:
            parsed = json.loads(row["data"])
        except (TypeError, ValueError):
            continue  # the chain walk reports the row
        found.append((row["id"], row["kind"], row["actor_id"],
                      parsed if isinstance(parsed, dict) else {}))
    return found


def check(db, key: bytes, ledger_rows: int) -> Result:
    digest_key = digests.digest_key(key)
    events = _events(db)
    problems = _empty_ledger(db, ledger_rows)
    users, user_problems = _users(db, digest_key, events)
    tokens, token_problems = _tokens(db, digest_key, events)
    stored_settings, settings_problems = _settings(db, events)
    bank_rows, bank_problems = _bank_settings(db, events)
    return Result(users + tokens + stored_settings + bank_rows,
                  problems + user_problems + token_problems + settings_problems + bank_problems)


def _empty_ledger(db, ledger_rows: int) -> list[RecordProblem]:
    if ledger_rows:
        return []
    counts = stored.users_and_sessions(db)
    users, sessions = counts["users"], counts["sessions"]
    if not users and not sessions:
        return []  # a new instance
    return [RecordProblem("ledger", f"账本为空，但实例中有 {users} 个用户、{sessions} 笔业务："
                                    "账本已被绕过系统清空", "empty")]


# Checked only once an event has recorded them (None: not known from the ledger).
_PROFILE = ("display_name", "staff_no")


def _expected_users(events) -> dict[int, dict]:
    expected: dict[int, dict] = {}
    for _, kind, _, data in events:
        user_id = data.get("user_id")
        if not kind.startswith("user.") or not isinstance(user_id, int):
            continue
        if kind == "user.created":
            expected[user_id] = {"username": data.get("username"), "role": data.get("role"),
                                 "active": 1, "password": data.get("password"),
                                 "display_name": data.get("display_name"),
                                 "staff_no": data.get("staff_no"),
                                 "must_change": data.get("must_change_password"),
                                 "branch": data.get("branch", settings.DEFAULT_BRANCH_ID)}
            continue
        wanted = expected.get(user_id)
        if wanted is None:
            continue
        if kind == "user.role_changed":
            wanted["role"] = data.get("role")
            wanted["branch"] = data.get("branch", wanted["branch"])
        elif kind == "user.branch_changed":
            wanted["branch"] = data.get("branch")
        elif kind == "user.details_changed":
            for name in _PROFILE:
                if isinstance(data.get(name), dict):
                    wanted[name] = data[name].get("after")
        elif kind in ("user.disabled", "user.enabled"):
            wanted["active"] = int(kind == "user.enabled")
        elif kind in ("user.password_reset", "user.password_changed"):
            wanted["password"] = data.get("password")
            wanted["must_change"] = data.get("must_change_password")
    return expected


def _users(db, key: bytes, events) -> tuple[int, list[RecordProblem]]:
    expected = _expected_users(events)
    problems = []
    seen = set()
    for row in stored.users(db):
        user_id, password_hash = row["id"], row["password_hash"]
        seen.add(user_id)
        wanted = expected.get(user_id)
        if wanted is None:
            problems.append(RecordProblem(
                "users", f"用户 #{user_id} 在账本中没有创建记录，是绕过系统插入的", "inserted"))
            continue
        fields = [name for name, bad in (
            ("username", row["username"] != wanted["username"]),
            ("role", row["role"] != wanted["role"]),
            ("branch_id", row["branch_id"] != wanted["branch"]),
            ("active", row["active"] != wanted["active"]),
            ("password_hash", wanted["password"] is not None and not (
                isinstance(password_hash, str)
                and digests.secret_hash(key, password_hash) == wanted["password"])),
            *((name, wanted[name] is not None and (row[name] or "") != wanted[name])
              for name in _PROFILE),
            ("must_change_password", wanted["must_change"] is not None
             and bool(row["must_change_password"]) != bool(wanted["must_change"])),
        ) if bad]
        if fields:
            problems.append(RecordProblem(
                "users", f"用户 #{user_id} 与账本不一致（{'、'.join(fields)}），被绕过系统改动",
                "edited"))
    problems += [RecordProblem("users", f"用户 #{user_id} 在账本中有创建记录，但用户表中已被删除",
                               "deleted") for user_id in sorted(set(expected) - seen)]
    return len(seen), problems


def _tokens(db, key: bytes, events) -> tuple[int, list[RecordProblem]]:
    expected: dict[int, dict] = {}
    for _, kind, actor, data in events:
        token_id = data.get("token_id")
        if not kind.startswith("api_token.") or not isinstance(token_id, int):
            continue
        if kind == "api_token.created":
            expected[token_id] = {"name": data.get("name"), "created_by": actor,
                                  "revoked": False, "hash": data.get("token_hash"),
                                  "scope": data.get("scope", Scope().event_data()),
                                  # before issue 16 every token acted for branch 1 (0009)
                                  "branch": data.get("branch", settings.DEFAULT_BRANCH_ID)}
        elif token_id in expected:
            expected[token_id]["revoked"] = True
    problems = []
    seen = set()
    for row in stored.api_tokens(db):
        token_id, name, created_by = row["id"], row["name"], row["created_by"]
        revoked_at, token_hash = row["revoked_at"], row["token_hash"]
        scope = (row["tellers"], row["read_scope"], row["may_supervise"])
        seen.add(token_id)
        wanted = expected.get(token_id)
        if wanted is None:
            problems.append(RecordProblem(
                "api_tokens", f"接口令牌 #{token_id} 在账本中没有创建记录，是绕过系统插入的",
                "inserted"))
            continue
        fields = [name for name, bad in (
            ("name", name != wanted["name"]),
            ("created_by", created_by != wanted["created_by"]),
            ("revoked_at", (revoked_at is not None) != wanted["revoked"]),
            ("token_hash", wanted["hash"] is not None and not (
                isinstance(token_hash, str)
                and digests.secret_hash(key, token_hash) == wanted["hash"])),
            ("scope", _scope_of(*scope) != wanted["scope"]),
            ("branch_id", row["branch_id"] != wanted["branch"]),
        ) if bad]
        if fields:
            problems.append(RecordProblem(
                "api_tokens", f"接口令牌 #{token_id} 与账本不一致（{'、'.join(fields)}），"
                              "被绕过系统改动", "edited"))
    problems += [RecordProblem("api_tokens", f"接口令牌 #{token_id} 在账本中有创建记录，"
                                             "但令牌表中已被删除", "deleted")
                 for token_id in sorted(set(expected) - seen)]
    return len(seen), problems


def _scope_of(tellers, read_scope, may_supervise) -> dict | None:
    """The scope columns as the created event records them (None when they do not parse)."""
    try:
        return Scope.of({"tellers": tellers, "read_scope": read_scope,
                         "may_supervise": may_supervise}).event_data()
    except (TypeError, ValueError):
        return None


def _settings(db, events) -> tuple[int, list[RecordProblem]]:
    expected = {settings.DEFAULT_BRANCH_ID: settings.BranchSettings().to_json_dict()}
    for _, kind, _, data in events:
        branch_id = data.get("branch", settings.DEFAULT_BRANCH_ID)
        if kind == "branch.created" and isinstance(data.get("settings"), dict):
            expected[branch_id] = dict(data["settings"])
        elif kind == "settings.changed" and branch_id in expected:
            for name, change in data.items():
                if isinstance(change, dict) and "after" in change:
                    expected[branch_id][name] = change["after"]
    rows = stored.branches(db)
    problems = []
    for row in rows:
        found = settings.of_row(row).to_json_dict()
        if row["id"] not in expected:
            problems.append(RecordProblem(
                "settings", f"网点 {row['code']} 没有创建记录，被绕过系统添加", "edited"))
            continue
        problems += [RecordProblem(
            "settings", f"网点 {row['code']} 的设置 {name} 与账本不一致，被绕过系统改动", "edited")
            for name in sorted(found) if found[name] != expected[row["id"]].get(name)]
    return len(rows), problems


def _bank_settings(db, events) -> tuple[int, list[RecordProblem]]:
    expected: dict[str, object] = {}
    for _, kind, _, data in events:
        if kind == bank_settings.EVENT_KIND:
            for name, change in data.items():
                if isinstance(change, dict) and "after" in change:
                    expected[name] = change["after"]
    rows = stored.bank_settings(db)
    problems = []
    for name, text in rows.items():
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            value = text
        if name not in expected:
            problems.append(RecordProblem(
                "bank_settings", f"{name} 没有修改记录，被绕过系统添加", "inserted"))
        elif value != expected[name] or type(value) is not type(expected[name]):
            problems.append(RecordProblem(
                "bank_settings", f"{name} 与账本不一致，被绕过系统改动", "edited"))
    problems += [RecordProblem("bank_settings", f"{name} 已被绕过系统删除", "deleted")
                 for name in sorted(expected) if name not in rows]
    return len(rows), problems
