"""A bank's branches (`branches`): each row holds the branch's code, name and the settings
网点设置 edits (settings.BranchSettings). Branch 1 exists from the schema's creation."""

from __future__ import annotations

from . import query, query_one
from .schema import DEFAULT_BRANCH

DEFAULT_BRANCH_ID = DEFAULT_BRANCH["id"]  # a single-branch instance's branch
SETTING_COLUMNS = ("name", "bank_name", "province", "city", "large_amount", "elderly_age",
                   "slip_paper")


def get(db, branch_id: int) -> dict | None:
    return query_one(db, "SELECT * FROM branches WHERE id = ?", [branch_id])


def by_code(db, code: str) -> dict | None:
    return query_one(db, "SELECT * FROM branches WHERE code = ?", [code])


def all_branches(db) -> list[dict]:
    return query(db, "SELECT * FROM branches ORDER BY code, id")


def create(db, code: str, values: dict, created_at: str) -> int:
    """A new branch with these settings (SETTING_COLUMNS); returns its id."""
    names = ", ".join(SETTING_COLUMNS)
    marks = ", ".join("?" * len(SETTING_COLUMNS))
    return db.execute(
        f"INSERT INTO branches (code, {names}, created_at) VALUES (?, {marks}, ?) "  # noqa: S608
        "RETURNING id", [code, *(values[name] for name in SETTING_COLUMNS), created_at],
    ).fetchone()[0]


def update_settings(db, branch_id: int, values: dict) -> None:
    """Set the given SETTING_COLUMNS of the branch."""
    assignments = ", ".join(f"{name} = ?" for name in values if name in SETTING_COLUMNS)
    db.execute(f"UPDATE branches SET {assignments} WHERE id = ?",  # noqa: S608 - our names
               [*(value for name, value in values.items() if name in SETTING_COLUMNS),
                branch_id])


def insert_default(db) -> None:
    """Branch 1 as the schema creates it (PostgreSQL's reset between tests needs it back)."""
    names = ", ".join(DEFAULT_BRANCH)
    marks = ", ".join("?" * len(DEFAULT_BRANCH))
    db.execute(f"INSERT INTO branches ({names}) VALUES ({marks})",  # noqa: S608 - schema names
               list(DEFAULT_BRANCH.values()))
    if db.dialect == "postgresql":
        db.execute("SELECT setval(pg_get_serial_sequence('branches', 'id'), 1)")


def is_unchanged_default(db) -> bool:
    """Only the branch 1 a new schema starts with, as it started (nothing to lose)."""
    row = get(db, DEFAULT_BRANCH["id"])
    return row is not None and row["created_at"] is None and all(
        str(row[name]) == str(value) for name, value in DEFAULT_BRANCH.items())


def names(db, branch_ids) -> dict[int, str]:
    """id -> name of these branches."""
    wanted = sorted(set(branch_ids))
    if not wanted:
        return {}
    marks = ", ".join("?" * len(wanted))
    return {row["id"]: row["name"] for row in query(
        db, f"SELECT id, name FROM branches WHERE id IN ({marks})", wanted)}  # noqa: S608


def with_counts(db) -> list[dict]:
    """Every branch (as all_branches) with how many accounts (`users`) and screenings
    (`screenings`) belong to it; counting each branch's screenings walks its part of
    idx_sessions_branch_id_id."""
    return query(db, "SELECT b.*, (SELECT count(*) FROM users u WHERE u.branch_id = b.id) AS users, "
                 "(SELECT count(*) FROM sessions s WHERE s.branch_id = b.id) AS screenings "
                 "FROM branches b ORDER BY b.code, b.id")


def narrowed(db, branch_ids: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """`branch_ids`, or None when they hold every branch there is (a bank of one branch, as
    every SQLite instance so far): the unfiltered queries keep their daily tables and covering
    indexes, which a branch condition would give up for the same rows."""
    if not branch_ids:
        return branch_ids
    marks = ", ".join("?" * len(branch_ids))
    other = db.execute(f"SELECT 1 FROM branches WHERE id NOT IN ({marks}) LIMIT 1",  # noqa: S608
                       list(branch_ids)).fetchone()
    return branch_ids if other else None


def condition(branch_ids: tuple[int, ...] | None, column: str = "branch_id") -> tuple[str, list]:
    """SQL condition (and its parameters) for rows of these branches (branch_scope.branch_ids):
    None is every branch, an empty tuple none."""
    if branch_ids is None:
        return "1 = 1", []
    if not branch_ids:
        return "1 = 0", []
    if len(branch_ids) == 1:
        return f"{column} = ?", list(branch_ids)
    return f"{column} IN ({', '.join('?' * len(branch_ids))})", list(branch_ids)
