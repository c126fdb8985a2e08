"""Accounts: creation, password checks. Shared by the web pages and the CLI."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, clock, digests, labels, login_sessions, login_throttle, storage
from .storage import accounts
from .storage import branches as branch_store
from .storage.branches import DEFAULT_BRANCH_ID

ROLES = labels.ROLES
HEAD_OFFICE_ROLES = labels.HEAD_OFFICE_ROLES
# The slip prints the teller's and the supervisor's 工号: those roles must have one.
STAFF_NO_ROLES = ("teller", "supervisor")
MIN_PASSWORD_LENGTH = 8
MAX_NAME_LENGTH = 64
MAX_STAFF_NO_LENGTH = 32


class UserError(Exception):
    """A user-facing problem with an account operation (message in Chinese)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    staff_no: str
    active: bool
    must_change_password: bool = False
    branch_id: int | None = DEFAULT_BRANCH_ID  # None: a head-office account

    @property
    def head_office(self) -> bool:
        return self.role in HEAD_OFFICE_ROLES

    def has_role(self, *roles: str) -> bool:
        """One of `roles`, a head-office role counting as its branch role (labels)."""
        return self.role in roles or labels.BRANCH_ROLE_OF.get(self.role) in roles

    @property
    def role_label(self) -> str:
        return ROLES[self.role]

    @classmethod
    def from_row(cls, row: dict) -> User:
        return cls(
            id=row["id"], username=row["username"], display_name=row["display_name"] or "",
            role=row["role"], staff_no=row["staff_no"] or "", active=bool(row["active"]),
            must_change_password=bool(row.get("must_change_password")),
            branch_id=row.get("branch_id"),
        )


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    throttled: bool = False  # refused unchecked: too many recent failures (login_throttle.py)


def get_user(db, user_id: int) -> User | None:
    row = accounts.user_by_id(db, user_id)
    return User.from_row(row) if row else None


def find_user(db, username: str) -> dict | None:
    return accounts.user_by_name(db, username)


def list_users(db) -> list[User]:
    return [User.from_row(row) for row in accounts.all_users(db)]


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")


def check_profile(role: str, display_name: str, staff_no: str) -> None:
    """The rules for an account's role, name and 工号, whoever sets them (web or CLI)."""
    if role not in ROLES:
        raise UserError(f"角色无效: {role}")
    if len(display_name) > MAX_NAME_LENGTH:
        raise UserError(f"姓名最多 {MAX_NAME_LENGTH} 个字")
    if len(staff_no) > MAX_STAFF_NO_LENGTH:
        raise UserError(f"工号最多 {MAX_STAFF_NO_LENGTH} 个字符")
    problem = staff_no_problem(role, staff_no)
    if problem:
        raise UserError(problem)


def staff_no_problem(role: str, staff_no: str) -> str | None:
    if role in STAFF_NO_ROLES and not staff_no.strip():
        return f"{ROLES[role]}必须填写工号（风险提示单上打印工号）"
    return None


def create_user(db, key, username, password, role, display_name="", staff_no="", actor_id=None,
                must_change=True, branch_id: int | None = DEFAULT_BRANCH_ID,
                password_hash: str | None = None):
    """A new account. `must_change`: its owner must choose their own password at the first
    login, since whoever created it knows this one (False only for demo accounts and tests).
    `branch_id`: the branch of a branch role; head-office roles have none (ignored).
    `password_hash`: the password's, made beforehand (hash_passwords)."""
    username = username.strip()
    display_name, staff_no = (display_name or "").strip(), (staff_no or "").strip()
    if not username:
        raise UserError("用户名不能为空")
    check_profile(role, display_name, staff_no)
    check_password_rules(password)
    branch_id = None if role in HEAD_OFFICE_ROLES else branch_id
    with storage.transaction(db):
        if find_user(db, username):
            raise UserError(f"用户名已存在: {username}")
        if role not in HEAD_OFFICE_ROLES and (
                branch_id is None or branch_store.get(db, branch_id) is None):
            raise UserError("请选择用户所属网点")
        password_hash = password_hash or generate_password_hash(password)
        display_name = display_name or username
        user_id = accounts.add_user(
            db, username=username, display_name=display_name, staff_no=staff_no, role=role,
            password_hash=password_hash, created_at=clock.stamp(),
            must_change_password=must_change, branch_id=branch_id)
        audit.append(db, key, audit.AuditEvent(
            "user.created", actor_id, data={
                "user_id": user_id, "username": username, "role": role, "branch": branch_id,
                "password": _password_digest(key, password_hash),
                "display_name": display_name, "staff_no": staff_no,
                "must_change_password": bool(must_change)}))
    return user_id


def update_user(db, key, user_id: int, role: str, display_name: str, staff_no: str,
                actor_id=None) -> list[str]:
    """Change an account's role, name and 工号; returns the names of the fields changed (none:
    nothing is written). A new role is a `user.role_changed` event (and ends the account's
    login sessions, by trigger); a new name or 工号 a `user.details_changed` event with each
    field's before and after. An admin may not change their own role (they would lose the
    page they are on, and the branch perhaps its last admin)."""
    display_name, staff_no = (display_name or "").strip(), (staff_no or "").strip()
    check_profile(role, display_name, staff_no)
    with storage.transaction(db):
        row = accounts.user_by_id(db, user_id)
        if row is None:
            raise UserError("用户不存在")
        display_name = display_name or row["username"]
        before = {"role": row["role"], "display_name": row["display_name"] or "",
                  "staff_no": row["staff_no"] or ""}
        after = {"role": role, "display_name": display_name, "staff_no": staff_no}
        changed = [name for name in after if after[name] != before[name]]
        if not changed:
            return []
        if "role" in changed and (role in HEAD_OFFICE_ROLES) != (row["role"] in HEAD_OFFICE_ROLES):
            raise UserError("总行角色与网点角色不能互相转换（总行账户不属于任何网点），请另建账户")
        if "role" in changed and user_id == actor_id:
            raise UserError("不能修改自己的角色")
        accounts.update_user(db, user_id, role=role, display_name=display_name,
                             staff_no=staff_no)
        who = {"user_id": user_id, "username": row["username"]}
        if "role" in changed:
            audit.append(db, key, audit.AuditEvent("user.role_changed", actor_id, data={
                **who, "role": role, "previous_role": before["role"]}))
        details = {name: {"before": before[name], "after": after[name]}
                   for name in changed if name != "role"}
        if details:
            audit.append(db, key, audit.AuditEvent("user.details_changed", actor_id,
                                                   data={**who, **details}))
    return changed


def move_to_branch(db, key, user_id: int, branch_id: int, actor_id=None) -> int | None:
    """Move a branch account to another branch (head office's 调整所属网点): a
    `user.branch_changed` event, and the account's login sessions end (what it sees changes
    with the branch). Returns the previous branch, None when it already was there."""
    import time

    with storage.transaction(db):
        row = accounts.user_by_id(db, user_id)
        if row is None:
            raise UserError("用户不存在")
        if row["role"] in HEAD_OFFICE_ROLES:
            raise UserError("总行账户不属于任何网点")
        if branch_store.get(db, branch_id) is None:
            raise UserError("网点不存在")
        previous = row["branch_id"]
        if previous == branch_id:
            return None
        accounts.set_branch(db, user_id, branch_id, int(time.time()))
        audit.append(db, key, audit.AuditEvent("user.branch_changed", actor_id, data={
            "user_id": user_id, "username": row["username"], "branch": branch_id,
            "previous_branch": previous}))
    return previous


def set_active(db, key, username, active: bool, actor_id=None) -> None:
    with storage.transaction(db):
        row = find_user(db, username)
        if not row:
            raise UserError(f"用户不存在: {username}")
        accounts.set_active(db, row["id"], active)
        kind = "user.enabled" if active else "user.disabled"
        audit.append(db, key, audit.AuditEvent(kind, actor_id, data={"user_id": row["id"],
                                                                      "username": username}))


def reset_password(db, key, username, new_password=None, actor_id=None, must_change=True,
                   password_hash: str | None = None) -> str:
    """Set (or generate) a new password; also clears any lock. Returns the password.
    `must_change`: its owner must replace it at the next login (whoever reset it knows it)."""
    new_password = new_password or generate_password()
    check_password_rules(new_password)
    with storage.transaction(db):
        row = find_user(db, username)
        if not row:
            raise UserError(f"用户不存在: {username}")
        password_hash = password_hash or generate_password_hash(new_password)
        accounts.set_password(db, row["id"], password_hash,
                              clock.stamp(), must_change)
        audit.append(db, key, audit.AuditEvent("user.password_reset", actor_id, data={
            "user_id": row["id"], "username": username,
            "password": _password_digest(key, password_hash),
            "must_change_password": bool(must_change)}))
    return new_password


def change_own_password(db, key, user: User, new_password: str) -> str:
    """The user's own new password (the caller has checked the current one); clears
    must_change_password. The users trigger ends every login session of the account; a new
    one, started in the same transaction, keeps the browser that asked logged in. Returns its
    token for the cookie."""
    check_password_rules(new_password)
    password_hash = generate_password_hash(new_password)  # slow: before the write lock
    with storage.transaction(db):
        accounts.set_password(db, user.id, password_hash, clock.stamp(),
                              must_change_password=False)
        audit.append(db, key, audit.AuditEvent("user.password_changed", user.id, data={
            "user_id": user.id, "username": user.username,
            "password": _password_digest(key, password_hash),
            "must_change_password": False}))
        return login_sessions.start(db, user.id)  # after the UPDATE, so the trigger spares it


def _password_digest(key: bytes, password_hash: str) -> str:
    """Pins the stored hash in the ledger, so `teller-guard verify` finds a password_hash
    replaced around the app (e.g. by one whose password the intruder knows)."""
    return digests.secret_hash(digests.digest_key(key), password_hash)


def hash_passwords(passwords: list[str]) -> list[str]:
    """Their hashes, made side by side (hashlib's scrypt lets other threads run): `serve
    --demo` sets fourteen passwords at every start."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(generate_password_hash, passwords))


def generate_password() -> str:
    # Unambiguous characters only: it is read aloud or typed from a printout.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def authenticate(db, key, username, password, address: str = "", purpose: str = "login",
                 actor_id: int | None = None, limits: login_throttle.Limits | None = None,
                 now: float | None = None) -> LoginResult:
    """Check a login (or a supervisor's credentials at a teller's terminal, purpose
    "supervisor", `actor_id` the teller logged in there).

    Every failure looks the same to the caller and costs one password hash: an unknown name is
    checked against a dummy hash, a disabled account against its own. A scope (address, name,
    purpose, teller) with too many recent failures is refused before any check
    (`throttled`); no account is ever locked (login_throttle.py)."""
    limits = limits or login_throttle.Limits()
    name = username.strip()
    scope = login_throttle.Scope(address or "unknown", login_throttle.name_key(key, name),
                                 purpose, actor_id)
    if login_throttle.wait_seconds(db, scope, limits, now):
        return LoginResult(throttled=True)
    row = find_user(db, name)
    # Outside the write transaction: the hash takes tens of milliseconds, writers need not wait.
    matches = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password)
    with storage.transaction(db):
        if row is not None and row["active"] and matches:
            audit.append(db, key, audit.AuditEvent("login.succeeded", row["id"],
                                                   data={"username": row["username"],
                                                         "purpose": purpose}))
            return LoginResult(user=User.from_row(row))
        user_id = row["id"] if row else None
        # A name that is no account is not stored: it is often a password typed too early.
        data = {"username": row["username"] if row else None, "purpose": purpose,
                "address": scope.address}
        audit.append(db, key, audit.AuditEvent("login.failed", user_id, data=data))
        if login_throttle.record_failure(db, scope, user_id, limits, now):
            audit.append(db, key, audit.AuditEvent("login.throttled", user_id, data=data))
    return LoginResult()


_DUMMY_HASH = generate_password_hash("teller_guard-timing-equaliser")
