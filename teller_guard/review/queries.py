"""What the review pages show of stored rows: a case's events, the people to choose from.

The SQL is in storage/review.py and storage/ledger.py; this module shapes their rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..storage import ledger, review


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    at: str
    actor_id: int | None
    kind: str
    data: dict


def session_events(db, session_id: int) -> list[LedgerEntry]:
    # Read as bytes: the page shows bytes that are not UTF-8 as U+FFFD (verify reports them).
    return [LedgerEntry(row["id"], shown(row["at"]), row["actor_id"], shown(row["kind"]),
                        event_data(shown(row["data"])))
            for row in ledger.events_of(db, session_id)]


def shown(raw: bytes | None) -> str:
    """A text column read as bytes, for display: bytes that are not UTF-8 become U+FFFD."""
    return raw.decode("utf-8", "replace") if raw is not None else ""


def event_data(text: str | None) -> dict:
    """A ledger row's data as a dict, whatever the text holds (shown, never trusted)."""
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {"原始数据": text}
    return parsed if isinstance(parsed, dict) else {"值": parsed}


def tellers(db, branch_ids: tuple[int, ...] | None = None) -> list[tuple[int, str]]:
    """The teller and supervisor accounts of these branches (None: every branch), by 工号."""
    return [(row["id"], f"{row['name']}（{row['staff_no']}）" if row["staff_no"] else row["name"])
            for row in review.tellers(db, branch_ids)]


def reviewers(db, branch_id: int | None) -> list[tuple[int, str]]:
    """Who may take a case of branch `branch_id` (its security and admins, head office's)."""
    return [(row["id"], row["name"]) for row in review.reviewers(db, branch_id)]
