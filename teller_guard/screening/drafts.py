"""Drafts: what a teller has typed on a screening step but not submitted yet.

Talking a customer out of a scam often takes longer than the idle limit. So the facts and
questions forms are saved as the teller types (static/js/autosave.js posts them to the draft
routes), and a form that arrives after the idle logout is kept the same way (auth.py), and the
step opens again as it was left after the next login.

A draft is only ever the form as typed: scoring, the ledger and the 我的问询 lists never read it,
and it is deleted when its step is submitted. It may hold an ID number, a phone or a name, so the
whole form is sealed with AES-GCM under a key derived from the instance secret, bound to its
teller and step (a row copied to another teller or step does not open); it is kept no longer
than a login may last (SESSION_MAX_HOURS).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import storage
from ..storage import drafts as stored
from .inputs import FACT_FIELDS

STEPS = ("new", "facts", "questions")
FACTS_FORM = frozenset((*FACT_FIELDS, "opened_at"))
ANSWER_NAME = re.compile(r"(answers|three_checks)\.[a-z_]{1,40}")
MAX_VALUE = 1000  # the longest field of either form (the customer's own words)
MAX_FIELDS = 100  # both forms have far fewer; the observation checkboxes are the most
TOO_LONG = "内容过长（每项最多 1000 字），未能自动保存"
TOO_MANY = "字段过多，未能自动保存"


class DraftError(ValueError):
    """A draft that cannot be kept; `field` names the offending form field, if one does."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class Draft:
    pairs: list[tuple[str, str]]  # (field, value) in form order; a checkbox group repeats
    saved_at: int

    def as_dict(self) -> dict[str, str]:
        return dict(self.pairs)

    def saved_at_text(self) -> str:
        return datetime.fromtimestamp(self.saved_at).strftime("%H:%M:%S")


def slot(step: str, session_id: int | None) -> str:
    """The row's name: a new screening has no session yet, so one per teller."""
    return "new" if session_id is None else f"{session_id}/{step}"


def form_pairs(step: str, form) -> list[tuple[str, str]]:
    """The step's own fields from a posted form (a MultiDict); anything else (the CSRF token,
    the button pressed) is left out. Raises DraftError for input no real form sends."""
    pairs = []
    for name, value in form.items(multi=True):
        known = name in FACTS_FORM if step in ("new", "facts") else (
            name == "observations" or name == "answers.purpose_text"
            or ANSWER_NAME.fullmatch(name))
        if not known:
            continue
        if len(value) > MAX_VALUE:
            raise DraftError(TOO_LONG, name)
        pairs.append((name, value))
        if len(pairs) > MAX_FIELDS:
            raise DraftError(TOO_MANY)
    return pairs


def save(db, secret: str, teller_id: int, session_id: int | None, step: str,
         pairs: list[tuple[str, str]], keep_hours: float, now: float | None = None) -> int:
    """Keep `pairs` as the teller's draft of the step (replacing the last one); returns when."""
    now = int(now if now is not None else time.time())
    name = slot(step, session_id)
    sealed = _seal(secret, teller_id, name, pairs)
    with storage.transaction(db):
        stored.delete_older_than(db, now - int(keep_hours * 3600))
        stored.save(db, teller_id, name, session_id, sealed, now)
    return now


def load(db, secret: str, teller_id: int, session_id: int | None, step: str) -> Draft | None:
    name = slot(step, session_id)
    row = stored.load(db, teller_id, name)
    if row is None:
        return None
    pairs = _unseal(secret, teller_id, name, row["sealed"])
    if pairs is None:  # sealed under an earlier instance secret
        return None
    return Draft(pairs=pairs, saved_at=row["saved_at"])


def discard(db, teller_id: int, session_id: int | None, step: str) -> None:
    with storage.transaction(db):
        stored.delete(db, teller_id, slot(step, session_id))


def discard_screening(db, session_id: int) -> None:
    """Every draft of a screening that has its outcome: none of its steps opens again."""
    with storage.transaction(db):
        stored.delete_for_session(db, session_id)


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), b"teller_guard screening drafts v1",
                    hashlib.sha256).digest()


def _seal(secret: str, teller_id: int, name: str, pairs) -> str:
    nonce = os.urandom(12)
    plain = json.dumps(list(pairs), ensure_ascii=False).encode("utf-8")
    sealed = AESGCM(_key(secret)).encrypt(nonce, plain, f"{teller_id}|{name}".encode())
    return base64.b64encode(nonce + sealed).decode("ascii")


def _unseal(secret: str, teller_id: int, name: str, text: str) -> list[tuple[str, str]] | None:
    try:
        raw = base64.b64decode(text, validate=True)
        plain = AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], f"{teller_id}|{name}".encode())
    except (InvalidTag, ValueError, binascii.Error):
        return None
    return [(str(field), str(value)) for field, value in json.loads(plain)]
