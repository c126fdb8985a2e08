"""Which branches a signed-in user (or an API token) may see (issue 16).

Branch roles (teller, supervisor, security, admin) see their own branch only; head-office roles
(ho_security, ho_admin) every branch. Every page, list, export, PDF and API call asks here:
a row of another branch is answered as if it did not exist (404, never 403, so its id does not
tell that it exists), and list queries take `branch_ids` into their SQL
(storage.branches.condition).
"""

from __future__ import annotations

# Nothing at all: no user, or a branch account whose branch is unset.
NOTHING: tuple[int, ...] = ()


def branch_ids(user) -> tuple[int, ...] | None:
    """The branches `user` may see: None means every branch (head office)."""
    if user is None:
        return NOTHING
    if user.head_office:
        return None
    return NOTHING if user.branch_id is None else (user.branch_id,)


def token_branch_ids(token: dict) -> tuple[int, ...]:
    """An API token acts for exactly one branch (api_tokens.branch_id)."""
    branch_id = token.get("branch_id")
    return NOTHING if branch_id is None else (branch_id,)


def within(ids: tuple[int, ...] | None, row: dict | None) -> bool:
    return row is not None and (ids is None or row.get("branch_id") in ids)


def may_see(user, row: dict | None) -> bool:
    """Whether `row` (a sessions row, or anything with a branch_id) is within `user`'s scope."""
    return within(branch_ids(user), row)


def visible_or_404(row: dict | None) -> dict:
    """The row when the signed-in user may see it; otherwise the request ends in a 404."""
    from flask import abort, g  # here: storage and the CLI use branch_ids without Flask

    if not may_see(g.get("user"), row):
        abort(404)
    return row


def current() -> tuple[int, ...] | None:
    """branch_ids of the signed-in user."""
    from flask import g

    return branch_ids(g.get("user"))
