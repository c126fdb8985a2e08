"""Two branches with screenings of every status that matters, their users in every branch role,
and head office's (issue 16 item 2, branch scoping): what the route x role x branch walks use."""

from __future__ import annotations

from dataclasses import dataclass, field

from printing_web_helpers import keys_of, make_session, user_id

from teller_guard import audit, settings, storage, users
from teller_guard.screening import service
from teller_guard.storage import printing as print_store

PASSWORD = "branch-two-pass"
# Branch 2's accounts, one per branch role (names no branch 1 page could show by accident).
BRANCH_2_USERS = {"teller_b2": "teller", "supervisor_b2": "supervisor",
                  "security_b2": "security", "admin_b2": "admin"}
HEAD_OFFICE_USERS = {"ho_security_1": "ho_security", "ho_admin_1": "ho_admin"}
# What branch 1's pages show of its tellers (conftest's display names).
BRANCH_1_TELLER_NAMES = ("teller名", "teller2名")


@dataclass
class Branches:
    """ids and references of the screenings of each branch."""
    first: dict[str, int] = field(default_factory=dict)  # status -> session id
    second: dict[str, int] = field(default_factory=dict)
    references: dict[int, str] = field(default_factory=dict)

    def references_of(self, sessions: dict[str, int]) -> list[str]:
        return [self.references[session_id] for session_id in sessions.values()]


def _finish(app, database, session_id: int, teller: str) -> None:
    service.record_outcome(database, keys_of(app), session_id, "cancelled",
                           user_id(database, teller))


def _screenings(app, database, teller: str, other_teller: str) -> dict[str, int]:
    """A draft, an assessed 极高 waiting for a supervisor, a finished 极高 (in the review queue,
    with a queued police alert and a personal-data read) and a discarded one."""
    made = {
        "draft": make_session(app, database, "critical", teller=teller, assessed=False),
        "awaiting": make_session(app, database, "critical", teller=teller),
        "finished": make_session(app, database, "critical", teller=other_teller),
        "discarded": make_session(app, database, "low", teller=teller, assessed=False),
    }
    _finish(app, database, made["finished"], other_teller)
    service.discard(database, keys_of(app), made["discarded"], user_id(database, teller),
                    "customer_left")
    key = app.extensions["teller_guard"]["ledger_key"]
    with storage.transaction(database):
        print_store.queue(database, "police_alert", f"alert-{made['finished']}", "{}",
                          made["finished"], "2026-12-01T00:00:00+00:00")
        audit.append(database, key, audit.AuditEvent(
            "pii.accessed", user_id(database, teller), made["finished"],
            {"fields": ["customer_name"], "purpose": "police_alert"}))
    return made


def make_branches(app, database) -> Branches:
    key = app.extensions["teller_guard"]["ledger_key"]
    second = settings.create_branch(database, key, "0002", settings.BranchSettings(
        branch_name="桥东支行"))
    assert second == 2
    for number, (username, role) in enumerate({**BRANCH_2_USERS, **HEAD_OFFICE_USERS}.items()):
        users.create_user(database, key, username, PASSWORD, role,
                          display_name=f"二号{number}号", staff_no=f"B2{number}",
                          must_change=False, branch_id=second)
    found = Branches()
    found.first = _screenings(app, database, "teller", "teller2")
    found.second = _screenings(app, database, "teller_b2", "teller_b2")
    for session_id in [*found.first.values(), *found.second.values()]:
        row = database.execute("SELECT reference, branch_id FROM sessions WHERE id = ?",
                               [session_id]).fetchone()
        found.references[session_id] = row[0]
        assert row[1] == (1 if session_id in found.first.values() else 2)
    return found


def snapshot(database, session_id: int) -> tuple:
    """What a refused request must leave as it was: the session's row, its vault, the ledger,
    the outbox and the drafts."""
    def rows(sql, params=()):
        return [tuple(row) for row in database.execute(sql, list(params)).fetchall()]

    return (rows("SELECT * FROM sessions WHERE id = ?", [session_id]),
            rows("SELECT field, value FROM pii_vault WHERE session_id = ? ORDER BY field",
                 [session_id]),
            rows("SELECT count(*), max(id) FROM ledger"),
            rows("SELECT id, status, next_attempt_at FROM outbox ORDER BY id"),
            rows("SELECT count(*) FROM screening_drafts"))
