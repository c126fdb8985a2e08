"""Keyed digests that pin a row's content in the ledger event written with it.

Some columns change with an event that cannot carry their value: the form (masked facts,
answers), the assessment text, a session's full personal data (pii_vault) and a password or
API token hash. The event carries a keyed digest instead, and `teller-guard verify` recomputes
it from the row. Keyed (with a key derived from the instance secret) because the ledger is
kept for ever while retention empties the vault: an unkeyed hash of an ID number could be
reversed by trying every plausible number.

The text digested is built the same way here and in SQL (storage/ledger.py: SESSION_TEXT_SQL,
VAULT_TEXT_SQL), so verify hashes exactly what it reads: columns joined by U+001F, NULL as the
empty string.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

# The sessions columns the screening steps write together with a screening.started,
# screening.step_saved or screening.assessed event; the event's `state` covers them.
SESSION_COLUMNS = ("started_at", "form", "amount_fen", "channel", "other_region", "payee_hash",
                   "payee_masked", "customer_hash", "customer_masked", "assessment")
SEPARATOR = "\x1f"
REDACTED_MARK = "\x1e"  # between a vault field and its value: "field\x1e" is an emptied value
DIGEST_CHARS = 32


@functools.lru_cache(maxsize=8)
def digest_key(ledger_key: bytes) -> bytes:
    return hmac.new(ledger_key, b"teller_guard row digest", hashlib.sha256).digest()


def digest(key: bytes, text: str | bytes) -> str:
    """SHA-256 of the key, then the text (verify passes the UTF-8 bytes SQLite holds, the
    writers the text). Not an HMAC, and it need not be one: the ledger row holding the digest
    is what is authenticated, so forging means finding a text with a given SHA-256. The key
    only keeps a guessable value (an ID number) from being found by hashing candidates. Plain
    SHA-256 is the cheapest keyed hash here (about 1 µs for a session's text; an HMAC or
    BLAKE2b cost two to three times that), and verify computes two per session."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogateescape")
    return hashlib.sha256(key + text).hexdigest()[:DIGEST_CHARS]


def _text(value) -> str:
    return "" if value is None else str(value)


def session_text(columns: dict) -> str:
    return SEPARATOR.join(_text(columns.get(name)) for name in SESSION_COLUMNS)


def vault_text(vault: dict[str, str]) -> str:
    return SEPARATOR.join(f"{field}{REDACTED_MARK}{value}" for field, value in sorted(vault.items()))


def state(key: bytes, columns: dict, vault: dict[str, str]) -> str:
    """The `state` a screening event carries: digest of the session columns, then of the vault."""
    return digest(key, session_text(columns)) + digest(key, vault_text(vault))


def state_in_db(db, key: bytes, session_id: int) -> str:
    """The same, of the row as stored now (call inside the write, after the UPDATE)."""
    from .storage import ledger  # storage/ledger.py builds its SQL from SESSION_COLUMNS

    row = ledger.state_texts(db, session_id)
    return digest(key, row["session_text"]) + digest(key, row["vault_text"])


# What check_state returns: which part of a session disagrees with its event's `state`.
STATE_CONTENT, STATE_VAULT = 1, 2


def checker(key: bytes):
    """The SQL function verify registers: (expected state, session text + U+001D + vault text,
    may the vault have been emptied by retention) -> 0, or STATE_CONTENT | STATE_VAULT bits.
    The text comes as a BLOB, its UTF-8 bytes (no decoding to str and encoding back); verify
    calls this once per session, so it is kept to two hashes and little else."""
    sha256 = hashlib.sha256
    size = DIGEST_CHARS

    def check_state(expected, texts, redactable) -> int:
        if not isinstance(expected, str) or not isinstance(texts, bytes):
            return STATE_CONTENT | STATE_VAULT
        session, _, vault = texts.partition(b"\x1d")
        # Plain comparison: verify runs offline, there is no timing to observe.
        bad = 0
        if sha256(key + session).hexdigest()[:size] != expected[:size]:
            bad = STATE_CONTENT
        if sha256(key + vault).hexdigest()[:size] != expected[size:] \
                and not (redactable and _emptied(vault)):
            bad |= STATE_VAULT
        return bad

    return check_state


def _emptied(vault: bytes) -> bool:
    """Every value emptied (retention keeps the rows, with '' as the value)."""
    return all(part.endswith(REDACTED_MARK.encode()) for part in vault.split(SEPARATOR.encode()))


def secret_hash(key: bytes, stored_hash: str) -> str:
    """Digest of a password or API token hash, for the event that sets it."""
    return digest(key, stored_hash)
