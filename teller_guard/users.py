"""Accounts: creation, password checks. Shared by the web pages and the CLI."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, digests, labels, login_throttle, storage
from .storage import accounts

ROLES = labels.ROLES
MIN_PASSWORD_LENGTH = 8


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

    @property
    def role_label(self) -> str:
        return ROLES[self.role]

    @classmethod
    def from_row(cls, row: dict) -> User:
        return cls(
            id=row["id"], username=row["username"], display_name=row["display_name"] or "",
            role=row["role"], staff_no=row["staff_no"] or "", active=bool(row["active"]),
        )


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    throttled: bool = False  # refused unchecked: too many recent failures (login_throttle.py)


def _now() -> datetime:
    return datetime.now(UTC)


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


def create_user(db, key, username, password, role, display_name="", staff_no="", actor_id=None):
    username = username.strip()
    if not username:
        raise UserError("用户名不能为空")
    if role not in ROLES:
        raise UserError(f"角色无效: {role}")
    check_password_rules(password)
    with storage.transaction(db):
        if find_user(db, username):
            raise UserError(f"用户名已存在: {username}")
        password_hash = generate_password_hash(password)
        user_id = accounts.add_user(
            db, username=username, display_name=display_name or username,
            staff_no=staff_no or "", role=role, password_hash=password_hash,
            created_at=_now().isoformat(timespec="seconds"))
        audit.append(db, key, audit.AuditEvent(
            "user.created", actor_id, data={"user_id": user_id, "username": username, "role": role,
                                            "password": _password_digest(key, password_hash)}))
    return user_id


def set_active(db, key, username, active: bool, actor_id=None) -> None:
    with storage.transaction(db):
        row = find_user(db, username)
        if not row:
            raise UserError(f"用户不存在: {username}")
        accounts.set_active(db, row["id"], active)
        kind = "user.enabled" if active else "user.disabled"
        audit.append(db, key, audit.AuditEvent(kind, actor_id, data={"user_id": row["id"],
                                                                      "username": username}))


def reset_password(db, key, username, new_password=None, actor_id=None) -> str:
    """Set (or generate) a new password; also clears any lock. Returns the password."""
    new_password = new_password or generate_password()
    check_password_rules(new_password)
    with storage.transaction(db):
        row = find_user(db, username)
        if not row:
            raise UserError(f"用户不存在: {username}")
        password_hash = generate_password_hash(new_password)
        accounts.set_password(db, row["id"], password_hash,
                              _now().isoformat(timespec="seconds"))
        audit.append(db, key, audit.AuditEvent("user.password_reset", actor_id, data={
            "user_id": row["id"], "username": username,
            "password": _password_digest(key, password_hash)}))
    return new_password


def _password_digest(key: bytes, password_hash: str) -> str:
    """Pins the stored hash in the ledger, so `teller-guard verify` finds a password_hash
    replaced around the app (e.g. by one whose password the intruder knows)."""
    return digests.secret_hash(digests.digest_key(key), password_hash)


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
