"""Idempotency-Key for the API's POSTs: a retry gets the first answer, never a second screening.

The first answer is stored (table api_idempotency, per token and key) in the same transaction
as the screening it describes, so either both exist or neither does, whichever server process
answered. A second request with the key finds the stored answer before doing anything; two
racing requests with one key both get as far as that transaction, where the second finds the
first's row (the write lock orders them), undoes its own screening and answers the first's.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta

from . import clock
from .api_schema import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_PATTERN
from .storage import api as api_store

HEADER = "Idempotency-Key"
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN[1:-1])


class KeyTaken(Exception):
    """Another request with this token and key was stored first."""


def key_problem(key: str) -> tuple[str, str] | None:
    """(code, Chinese message) when the header's value is not a usable key."""
    if key == "":
        return "required", "幂等键不能为空"
    if len(key) > IDEMPOTENCY_KEY_MAX:
        return "too_long", f"幂等键过长（最多 {IDEMPOTENCY_KEY_MAX} 个字符）"
    if not _KEY.fullmatch(key):
        return "invalid_value", "幂等键只能包含可打印的 ASCII 字符"
    return None


def request_hash(method: str, path: str, body) -> str:
    """The request as canonical JSON (sorted keys, no spaces), so key order and layout of the
    same body do not matter but any value does."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode("utf-8", "surrogatepass")
                          ).hexdigest()


def find(db, token_id: int, key: str, hours: float, now: datetime | None = None) -> dict | None:
    """The stored answer for this token and key, unless older than `hours`."""
    now = now or clock.now()
    found = api_store.idempotent_answer(db, token_id, key, clock.stamp(now - timedelta(hours=hours)))
    if found is None:
        return None
    return {**found, "response": json.loads(found["response"])}


def remember(writer, token_id: int, key: str, digest: str, status: int, response: dict,
             session_id: int | None, hours: float, now: datetime | None = None) -> None:
    """Store the answer inside the caller's write transaction; raise KeyTaken if the key is
    already stored (expired rows are deleted first, so an old key can be used again)."""
    now = now or clock.now()
    api_store.forget_answers_before(writer, clock.stamp(now - timedelta(hours=hours)))
    if not api_store.remember_answer(writer, token_id, key, digest, status,
                                  json.dumps(response, ensure_ascii=False), session_id,
                                  clock.stamp(now)):
        raise KeyTaken(key)
