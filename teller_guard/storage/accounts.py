"""Accounts (`users`), browser sessions on the server (`login_sessions`, m012) and failed
logins for the back-off (`login_failures`, m013).

The lookups made on every request use the connection directly: sqlite-utils' helpers first read
the schema (three queries) on every call.
"""

from __future__ import annotations

from . import query, query_one, row_of

# --- users -------------------------------------------------------------------------------------


def user_by_id(db, user_id: int) -> dict | None:
    return row_of(db.conn.execute("SELECT * FROM users WHERE id = ?", [user_id]))


def user_by_name(db, username: str) -> dict | None:
    return row_of(db.conn.execute("SELECT * FROM users WHERE username = ?", [username]))


def all_users(db) -> list[dict]:
    return query(db, "SELECT * FROM users ORDER BY id")


def add_user(db, *, username: str, display_name: str, staff_no: str, role: str,
             password_hash: str, created_at: str, must_change_password: bool,
             branch_id: int | None) -> int:
    """An active account with no failed logins, its password set at `created_at`; returns
    its id."""
    return db.execute(
        "INSERT INTO users (username, display_name, staff_no, role, password_hash, active, "
        "failed_logins, created_at, password_changed_at, must_change_password, branch_id) "
        "VALUES (?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?) RETURNING id",
        [username, display_name, staff_no, role, password_hash, created_at, created_at,
         int(must_change_password), branch_id]
    ).fetchone()[0]


def update_user(db, user_id: int, *, role: str, display_name: str, staff_no: str) -> None:
    """An account's role, name and 工号 (a trigger ends its login sessions when the role
    changes)."""
    db.execute("UPDATE users SET role = ?, display_name = ?, staff_no = ? WHERE id = ?",
               [role, display_name, staff_no, user_id])


def set_branch(db, user_id: int, branch_id: int, ended_at: int) -> None:
    """Move an account to another branch and end its login sessions (the users trigger does
    not watch branch_id: a page open in the old branch must not go on showing its data)."""
    db.execute("UPDATE users SET branch_id = ? WHERE id = ?", [branch_id, user_id])
    db.execute("UPDATE login_sessions SET ended_at = ?, ended_why = 'account_changed' "
               "WHERE user_id = ? AND ended_at IS NULL", [ended_at, user_id])


def set_active(db, user_id: int, active: bool) -> None:
    """Enable or disable an account, clearing any lock (a trigger ends its login sessions)."""
    db.execute("UPDATE users SET active = ?, failed_logins = 0, locked_until = NULL "
               "WHERE id = ?", [int(active), user_id])


def set_password(db, user_id: int, password_hash: str, changed_at: str,
                 must_change_password: bool) -> None:
    """A new password hash, clearing any lock (a trigger ends the account's login sessions);
    `must_change_password`: whether its owner must replace it at the next login."""
    db.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, "
               "password_changed_at = ?, must_change_password = ? WHERE id = ?",
               [password_hash, changed_at, int(must_change_password), user_id])


# --- login sessions ----------------------------------------------------------------------------


def start_login_session(db, token_hash: str, user_id: int, started_at: int,
                        forget_before: int) -> None:
    """Store a new session, deleting those that started before `forget_before`."""
    db.execute("DELETE FROM login_sessions WHERE started_at < ?", [forget_before])
    db.execute("INSERT INTO login_sessions (token_hash, user_id, started_at) VALUES (?, ?, ?)",
               [token_hash, user_id, started_at])


def login_session(db, token_hash: str) -> dict | None:
    """The session's `session_started_at` and `session_ended_at` beside every column of its
    user, in one query: this runs on every request."""
    return row_of(db.conn.execute(
        "SELECT s.started_at AS session_started_at, s.ended_at AS session_ended_at, u.* "
        "FROM login_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
        [token_hash]))


def end_login_session(db, token_hash: str, ended_at: int, why: str) -> None:
    db.execute("UPDATE login_sessions SET ended_at = ?, ended_why = ? "
               "WHERE token_hash = ? AND ended_at IS NULL", [ended_at, why, token_hash])


# --- login failures ----------------------------------------------------------------------------

_SCOPE = "name_key = ? AND address = ? AND purpose = ? AND actor_id IS NOT DISTINCT FROM ? AND at > ?"


def failures_since(db, name_key: str, address: str, purpose: str, actor_id: int | None,
                   since: int) -> dict:
    """{"failures": how many, "last_at": the newest (None without any)} of one scope after
    `since`."""
    return query_one(
        db, f"SELECT count(*) AS failures, max(at) AS last_at FROM login_failures "  # noqa: S608 - constant
        f"WHERE {_SCOPE}", [name_key, address, purpose, actor_id, since])


def add_login_failure(db, *, at: int, address: str, name_key: str, user_id: int | None,
                      purpose: str, actor_id: int | None, forget_before: int) -> None:
    """Store one failure, deleting those before `forget_before`."""
    db.execute("DELETE FROM login_failures WHERE at < ?", [forget_before])
    db.execute("INSERT INTO login_failures (at, address, name_key, user_id, purpose, actor_id) "
               "VALUES (?, ?, ?, ?, ?, ?)", [at, address, name_key, user_id, purpose, actor_id])


def failures_per_scope(db, since: int) -> list[dict]:
    """Failures after `since` per scope, newest first (at most 100): address, purpose, last_at,
    failures, name_key, actor_id, and the user names of the account and of the teller at the
    terminal when they exist (`username`, `actor`)."""
    return query(
        # max() of the names: one per group, and PostgreSQL refuses a bare column there.
        db, "SELECT f.address, f.purpose, max(f.at) AS last_at, count(*) AS failures, "
        "max(u.username) AS username, max(a.username) AS actor, f.name_key, f.actor_id "
        "FROM login_failures f LEFT JOIN users u ON u.id = f.user_id "
        "LEFT JOIN users a ON a.id = f.actor_id WHERE f.at > ? "
        "GROUP BY f.name_key, f.address, f.purpose, f.actor_id ORDER BY last_at DESC LIMIT 100",
        [since])
