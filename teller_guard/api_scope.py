"""What an API token may do: the tellers it files for, the screenings it reads, and whether it
may assert a supervisor's authorisation.

A token acts for one calling system. Reading is scoped so that a system never learns of
screenings it has no business with: "own" reads only what this token filed, "all" every
screening of the branch (the web pages' included). Changing a screening (answers, supervisor,
outcome) is only ever for the token that filed it, as on the web only its own teller changes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

READ_SCOPES = {"own": "仅本系统提交的问询", "all": "本网点全部问询（含柜面网页办理的）"}
ALL_TELLERS = "本网点全部柜员和主管"


@dataclass(frozen=True)
class Scope:
    tellers: tuple[str, ...] | None = None  # usernames; None: every teller and supervisor
    read: str = "own"
    may_supervise: bool = False

    def __post_init__(self):
        if self.read not in READ_SCOPES:
            raise ValueError(f"unknown read scope: {self.read}")

    def columns(self) -> dict:
        """The api_tokens columns that hold it (migration m014)."""
        return {"tellers": None if self.tellers is None else json.dumps(list(self.tellers),
                                                                         ensure_ascii=False),
                "read_scope": self.read, "may_supervise": int(self.may_supervise)}

    def event_data(self) -> dict:
        """As the api_token.created event records it."""
        return {"tellers": None if self.tellers is None else list(self.tellers),
                "read": self.read, "may_supervise": self.may_supervise}

    @classmethod
    def of(cls, token: dict) -> Scope:
        """The scope of an api_tokens row (a row from before m014 reads as the default)."""
        raw = token.get("tellers")
        tellers = None if raw is None else tuple(json.loads(raw))
        return cls(tellers, token.get("read_scope") or "own", bool(token.get("may_supervise")))

    def tellers_text(self) -> str:
        return ALL_TELLERS if self.tellers is None else "、".join(self.tellers)


def may_file_for(token: dict, username: str) -> bool:
    tellers = Scope.of(token).tellers
    return tellers is None or username in tellers


def may_read(token: dict, session: dict) -> bool:
    return Scope.of(token).read == "all" or session.get("api_token_id") == token["id"]


def may_change(token: dict, session: dict) -> bool:
    return session.get("api_token_id") == token["id"]


def may_supervise(token: dict) -> bool:
    return Scope.of(token).may_supervise
