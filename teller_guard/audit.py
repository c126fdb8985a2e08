"""Audit events and the keyed hash chain that makes the ledger tamper-evident.

Every row stores HMAC(secret, previous hash + its own content). Without the instance secret
nobody can forge a row, so an edited, deleted or inserted row breaks the chain at that id. A
sealed head row catches deletion of the newest rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring as _json_string  # the ensure_ascii=False form

from . import labels
from .storage import ledger

try:  # OpenSSL's HMAC object, whose copy() is cheap (hmac.HMAC wraps it in Python)
    from _hashlib import hmac_new as _openssl_hmac
except ImportError:  # pragma: no cover - a Python built without OpenSSL
    _openssl_hmac = None

GENESIS = "0" * 64

# kind -> Chinese label shown in timelines and the audit page (the glossary holds them)
KINDS = labels.EVENT_KINDS


@dataclass(frozen=True)
class AuditEvent:
    kind: str
    actor_id: int | None = None
    session_id: int | None = None
    data: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown audit event kind: {self.kind}")

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


# Encoders reused for every row: verify walks millions of rows, and json.dumps with options
# builds a new encoder on each call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The stored `data` text: exactly json.dumps(data, ensure_ascii=False, sort_keys=True,
# default=str), the form every existing row was hashed in.
_encode_data = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def canonical(row_id, at, actor_id, kind, session_id, data_json) -> bytes:
    """The bytes a row's hash covers: the JSON array of its fields, without spaces."""
    if (type(row_id) is int and type(at) is str and type(kind) is str
            and type(data_json) is str and (actor_id is None or type(actor_id) is int)
            and (session_id is None or type(session_id) is int)):
        # Exactly what _encode gives for these types (a property test holds the two together),
        # three times faster: verify builds this for every row of the ledger.
        return (f"[{row_id},{_json_string(at)},{'null' if actor_id is None else actor_id},"
                f"{_json_string(kind)},{'null' if session_id is None else session_id},"
                f"{_json_string(data_json)}]").encode()
    return _encode((row_id, at, actor_id, kind, session_id, data_json)).encode("utf-8")


def row_hash(key: bytes, prev_hash: str, content: bytes) -> str:
    return hmac.digest(key, prev_hash.encode("utf-8") + b"\n" + content, "sha256").hex()


def row_hasher(key: bytes):
    """row_hash(key, …) with the key set up once: a copy of a keyed HMAC per row costs less
    than half of keying a new one, and verify hashes millions of rows with one key."""
    keyed = _keyed_hmac(key)

    def hash_row(prev_hash: str, content: bytes) -> str:
        running = keyed.copy()
        running.update(prev_hash.encode("utf-8") + b"\n" + content)
        return running.hexdigest()

    return hash_row


def head_seal(key: bytes, last_id: int, last_hash: str) -> str:
    return hmac.new(key, f"head:{last_id}:{last_hash}".encode(), hashlib.sha256).hexdigest()


def key_seals_head(db, key: bytes) -> bool:
    """The chain was written with `key`: the head's seal or, if the head was tampered with
    (verify's to report), the newest row's hash checks out with it; True for an empty ledger.
    A server started with another instance secret (a new host given an empty instance folder)
    would chain its events with a different key and make everything after them look forged:
    it must not start."""
    with ledger.lenient_text(db):
        return _key_seals_head(db, key)


def _key_seals_head(db, key: bytes) -> bool:
    head = ledger.head(db)
    try:
        if head is not None and same_hash(head["seal"],
                                          head_seal(key, head["last_id"], head["last_hash"])):
            return True
    except (TypeError, ValueError):
        pass
    newest = ledger.newest_row(db)
    if newest is None:
        return head is None
    row_id, at, actor_id, kind, session_id, data, prev_hash, stored = newest
    try:
        return same_hash(stored, row_hash(key, prev_hash,
                                          canonical(row_id, at, actor_id, kind, session_id, data)))
    except (TypeError, ValueError):  # a row rewritten around the app: verify reports it
        return True


def same_hash(stored, expected: str) -> bool:
    """Constant-time comparison that also takes whatever a tampered column holds (text with
    any characters, a number, NULL) without raising."""
    return isinstance(stored, str) and hmac.compare_digest(
        stored.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _keyed_hmac(key: bytes):
    if _openssl_hmac is not None:
        return _openssl_hmac(key, digestmod="sha256")
    return hmac.new(key, digestmod=hashlib.sha256)


def chain_key(secret_key: str) -> bytes:
    # A key derived for this purpose only, so the chain never shares the session-cookie key.
    return hmac.new(secret_key.encode("utf-8"), b"teller_guard ledger", hashlib.sha256).digest()


def append(db, key: bytes, event: AuditEvent, at: str | None = None) -> int:
    """Append one event. Call inside write_transaction so the head cannot move under us."""
    return append_many(db, key, [event], at)


def append_many(db, key: bytes, events: list[AuditEvent], at: str | None = None) -> int:
    """Append events in order (each chained to the one before, exactly as that many append()
    calls would) with one head read, one ledger INSERT and one head update: the head's
    intermediate values were never visible outside the transaction. Returns the last row id.
    Call inside write_transaction so the head cannot move under us."""
    if not events:
        raise ValueError("append_many needs at least one event")
    head = ledger.head_for_append(db)
    last_id, prev_hash = (head["last_id"], head["last_hash"]) if head else (0, GENESIS)
    at = at or now_iso()
    rows = []
    for event in events:
        last_id += 1
        data_json = _encode_data(event.data)
        digest = row_hash(
            key, prev_hash,
            canonical(last_id, at, event.actor_id, event.kind, event.session_id, data_json),
        )
        rows.append((last_id, at, event.actor_id, event.kind, event.session_id, data_json,
                     prev_hash, digest))
        prev_hash = digest
    ledger.append(db, rows, head_seal(key, last_id, prev_hash))
    return last_id


@dataclass(frozen=True)
class ChainProblem:
    row_id: int | None
    problem: str  # edited | inserted | deleted | head

    def describe(self) -> str:
        words = {
            "edited": "row {id} was edited out of band",
            "inserted": "row {id} was inserted out of band",
            "deleted": "rows were deleted just before row {id}",
            "head": "the chain head does not match: newest rows deleted after row {id}, "
            "or the head was edited",
        }
        return words[self.problem].format(id=self.row_id)


def _walk(rows, key: bytes, start_hash: str, start_id: int, after_last: str | None):
    """Check a run of ledger rows in id order, given the last genuine row before them and the
    prev_hash of whatever follows them (the next row, or the head). Returns (rows checked,
    problems, hash and id of the last genuine row)."""
    problems: list[ChainProblem] = []
    last_genuine_hash, last_genuine_id = start_hash, start_id
    previous = None  # (row, valid) of the row before the current one
    count = 0

    def classify(row, valid, next_prev_hash):
        nonlocal last_genuine_hash, last_genuine_id
        row_id, prev_hash, digest = row[0], row[6], row[7]
        if valid:
            if prev_hash != last_genuine_hash:
                problems.append(ChainProblem(row_id, "deleted"))
            last_genuine_hash, last_genuine_id = digest, row_id
            return
        # An edited row keeps its stored hash, so the next row still points at it; a row
        # inserted out of band is pointed at by nothing.
        if next_prev_hash == digest:
            problems.append(ChainProblem(row_id, "edited"))
            last_genuine_hash, last_genuine_id = digest, row_id
        else:
            problems.append(ChainProblem(row_id, "inserted"))

    hash_row = row_hasher(key)
    for row in rows:
        count += 1
        valid = _genuine(hash_row, row)
        if previous is not None:
            classify(previous[0], previous[1], row[6])
        previous = (row, valid)
    if previous is not None:
        classify(previous[0], previous[1], after_last)
    return count, problems, last_genuine_hash, last_genuine_id


def _genuine(hash_row, row) -> bool:
    """Does the row's stored hash match its content? Any tampering, including values of the
    wrong type or bytes that are not UTF-8, is a False here, never an exception."""
    try:
        return isinstance(row[6], str) and same_hash(row[7], hash_row(row[6], canonical(*row[:6])))
    except (TypeError, ValueError):  # e.g. a blob, or text that was not UTF-8 (see storage.ledger.lenient_text)
        return False


def _walk_range(db, key: bytes, low: int, high: int, start_hash: str, start_id: int,
                after_last: str | None):
    return _walk(ledger.chain_rows(db, low, high), key, start_hash, start_id, after_last)


def _walk_range_in_worker() -> None:
    """Entry point of a verify worker process: arguments as JSON on stdin, result on stdout."""
    import sys

    source, key_hex, low, high, start_hash, start_id, after_last = json.load(sys.stdin)
    conn = ledger.open_read_only(source)
    try:
        count, problems, last_hash, last_id = _walk_range(
            conn, bytes.fromhex(key_hex), low, high, start_hash, start_id, after_last)
    finally:
        ledger.close_read_only(conn)
    json.dump([count, [[p.row_id, p.problem] for p in problems], last_hash, last_id], sys.stdout)


PARALLEL_MIN_ROWS = 200_000


def verify_chain(db, key: bytes, workers: int = 1) -> tuple[int, list[ChainProblem]]:
    """Walk the whole ledger; returns (rows checked, problems found).

    With workers > 1 (and a large ledger, not in memory) id ranges are checked in parallel
    processes, each assuming the row before its range is genuine; a range whose assumption
    turns out wrong (tampering right at its edge) is walked again here with the true state, so
    the answer is always the same as one sequential walk. On PostgreSQL the workers read in this
    walk's snapshot.
    """
    with ledger.lenient_text(db), ledger.snapshot(db):
        head = ledger.head(db)
        head_hash = head["last_hash"] if head else None
        span = ledger.span(db)
        source = None
        if workers > 1 and span["total"] >= PARALLEL_MIN_ROWS:
            source = ledger.worker_source(db)
        if source is None:
            count, problems, last_hash, last_id = _walk(
                ledger.chain_rows(db), key, GENESIS, 0, head_hash)
        else:
            count, problems, last_hash, last_id = _walk_in_parallel(
                db, source, key, span["low"], span["high"], workers, head_hash)
    if head is None:
        if count:
            problems.append(ChainProblem(last_id, "head"))
    else:
        last_id_sealed, last_hash_sealed, seal = head["last_id"], head["last_hash"], head["seal"]
        try:
            sealed = same_hash(seal, head_seal(key, last_id_sealed, last_hash_sealed))
        except ValueError:  # a head rewritten with bytes that are not UTF-8
            sealed = False
        if not sealed or last_id_sealed != last_id or last_hash_sealed != last_hash:
            problems.append(ChainProblem(last_id, "head"))
    return count, problems


def _walk_in_parallel(db, source, key: bytes, low: int, high: int, workers: int,
                      head_hash: str | None):
    import subprocess
    import sys

    step = (high - low) // workers + 1
    ranges = [(start, min(high, start + step - 1)) for start in range(low, high + 1, step)]
    edges = []
    for start, end in ranges:
        before, after = ledger.row_before(db, start), ledger.row_after(db, end)
        edges.append(((before["hash"], before["id"]) if before else (GENESIS, 0),
                      after["prev_hash"] if after else head_hash))
    # Plain child interpreters rather than multiprocessing: no fork of a threaded process (a
    # lock held by another thread would hang the child) and no re-import of the caller's main.
    command = [sys.executable, "-c",
               "from teller_guard.audit import _walk_range_in_worker; _walk_range_in_worker()"]
    children = []
    for (start, end), (assumed, after) in zip(ranges, edges, strict=True):
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        child.stdin.write(json.dumps([source, key.hex(), start, end, *assumed, after]).encode())
        child.stdin.close()
        children.append(child)
    results = []
    for child in children:
        output = child.stdout.read()
        if child.wait() != 0:
            raise RuntimeError(f"verify worker failed with exit code {child.returncode}")
        count, found, last_hash, last_id = json.loads(output)
        results.append((count, [ChainProblem(row_id, problem) for row_id, problem in found],
                        last_hash, last_id))
    count, problems, state = 0, [], (GENESIS, 0)
    for (start, end), (assumed, after), result in zip(ranges, edges, results, strict=True):
        if tuple(assumed) != state:  # the row before this range was not genuine: walk it again
            result = _walk_range(db, key, start, end, *state, after)
        count += result[0]
        problems.extend(result[1])
        state = (result[2], result[3])
    return count, problems, state[0], state[1]
