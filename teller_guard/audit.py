"""Audit events and the keyed hash chains that make the ledger tamper-evident.

Every row stores HMAC(secret, previous hash + its own content). Without the instance secret
nobody can forge a row, so an edited, deleted or inserted row breaks the chain at that id. A
sealed head row catches deletion of the newest rows.

There is one chain per branch and one for the bank (chain 0: head office and bank-wide
events), so branches never wait on each other's appends (issue 16). Ledger ids are one
numbering across all chains; a chain's rows are its rows in id order. A row's hash covers its
chain, except the rows an upgraded single-branch ledger already had (chain 1 up to its head's
`plain_until`), which keep the hashes they were written with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string  # the ensure_ascii=False form

from . import clock, labels
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
    # The chain (a branch's id, 0 the bank's) when neither the session nor the actor decides
    # it (chain_of); None for almost every event.
    chain: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown audit event kind: {self.kind}")

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def now_iso() -> str:
    return clock.stamp()


# Encoders reused for every row: verify walks millions of rows, and json.dumps with options
# builds a new encoder on each call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The stored `data` text: exactly json.dumps(data, ensure_ascii=False, sort_keys=True,
# default=str), the form every existing row was hashed in.
_encode_data = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def canonical(row_id, at, actor_id, kind, session_id, data_json, chain=None) -> bytes:
    """The bytes a row's hash covers: the JSON array of its fields, without spaces, the chain
    last (None: a row from before per-branch chains, whose array ends with data)."""
    if (type(row_id) is int and type(at) is str and type(kind) is str
            and type(data_json) is str and (actor_id is None or type(actor_id) is int)
            and (session_id is None or type(session_id) is int)
            and (chain is None or type(chain) is int)):
        # Exactly what _encode gives for these types (a property test holds the two together),
        # three times faster: verify builds this for every row of the ledger.
        text = (f"[{row_id},{_json_string(at)},{'null' if actor_id is None else actor_id},"
                f"{_json_string(kind)},{'null' if session_id is None else session_id},"
                f"{_json_string(data_json)}")
        return (text + "]" if chain is None else f"{text},{chain}]").encode()
    fields = (row_id, at, actor_id, kind, session_id, data_json)
    return _encode(fields if chain is None else (*fields, chain)).encode("utf-8")


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


def head_seal(key: bytes, last_id: int, last_hash: str, chain: int | None = None) -> str:
    """The seal of a chain's head (None: the one chain's head before per-branch chains)."""
    text = f"head:{last_id}:{last_hash}" if chain is None else f"head:{chain}:{last_id}:{last_hash}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def head_is_sealed(key: bytes, head) -> bool:
    """The head row's seal is right for its chain, last id and hash (chain 1 of an upgraded
    ledger: or the old seal, until its first new event). False for any tampered value."""
    try:
        if same_hash(head["seal"], head_seal(key, head["last_id"], head["last_hash"],
                                             head["chain"])):
            return True
        return (head["chain"] == ledger.LEGACY_CHAIN and head["plain_until"] is not None
                and head["last_id"] == head["plain_until"]
                and same_hash(head["seal"], head_seal(key, head["last_id"], head["last_hash"])))
    except (TypeError, ValueError):  # e.g. a head rewritten with bytes that are not UTF-8
        return False


def _legacy_until(heads) -> int:
    """The last id of chain 1 hashed without its chain (0: none, a ledger begun with chains)."""
    for head in heads:
        if head["chain"] == ledger.LEGACY_CHAIN and type(head["plain_until"]) is int:
            return head["plain_until"]
    return 0


_LEGACY_CHAIN = ledger.LEGACY_CHAIN


def row_content(row, legacy_until: int) -> bytes:
    """What a stored row's hash covers (row in ledger.CHAIN_COLUMNS order). Raises TypeError
    for an id that is not a number (written around the app)."""
    if row[8] == _LEGACY_CHAIN and row[0] <= legacy_until:
        return canonical(*row[:6])
    return canonical(*row[:6], row[8])


def key_seals_head(db, key: bytes) -> bool:
    """The chain was written with `key`: the head's seal or, if the head was tampered with
    (verify's to report), the newest row's hash checks out with it; True for an empty ledger.
    A server started with another instance secret (a new host given an empty instance folder)
    would chain its events with a different key and make everything after them look forged:
    it must not start."""
    with ledger.lenient_text(db):
        return _key_seals_head(db, key)


def _key_seals_head(db, key: bytes) -> bool:
    heads = ledger.heads(db)
    if any(head_is_sealed(key, head) for head in heads):
        return True
    newest = ledger.newest_row(db)
    if newest is None:
        return not heads
    try:
        return same_hash(newest[7], row_hash(key, newest[6], row_content(newest, _legacy_until(heads))))
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


def chain_of(event: AuditEvent) -> tuple[int | None, int | None, int | None]:
    """How the chain of an event is found (storage.ledger.head_for_append resolves it in the
    statement that locks the head, so the screening path reads no extra row): the chain given,
    else its session's branch, else its actor's, else the bank's (head office, no actor).
    settings.changed is about a branch: the one its data names (settings.save leaves branch 1
    unnamed, as its events always were)."""
    chain = event.chain
    if chain is None and event.kind == "settings.changed":
        branch = event.data.get("branch", ledger.LEGACY_CHAIN)
        chain = branch if type(branch) is int else None
    if chain is not None:
        return chain, None, None
    return None, event.session_id, event.actor_id


def append(db, key: bytes, event: AuditEvent, at: str | None = None) -> int:
    """Append one event to its chain (chain_of). Call inside write_transaction so the head
    cannot move under us."""
    return append_many(db, key, [event], at)


def append_many(db, key: bytes, events: list[AuditEvent], at: str | None = None) -> int:
    """Append events of one chain in order (each chained to the one before, exactly as that
    many append() calls would) with one head read, one ledger INSERT and one head update: the
    head's intermediate values were never visible outside the transaction. Returns the last
    row id. Call inside write_transaction so the head cannot move under us."""
    if not events:
        raise ValueError("append_many needs at least one event")
    route = chain_of(events[0])
    if any(chain_of(event)[:2] != route[:2] or (route[0] is None and route[1] is None
                                                 and event.actor_id != route[2])
           for event in events[1:]):
        raise ValueError("append_many appends events of one chain only")
    head, ids = ledger.head_for_append(db, len(events), *route)
    chain = head["chain"]
    prev_hash = head["last_hash"] if head["last_id"] is not None else GENESIS
    at = at or now_iso()
    rows = []
    for row_id, event in zip(ids, events, strict=True):
        data_json = _encode_data(event.data)
        digest = row_hash(
            key, prev_hash,
            canonical(row_id, at, event.actor_id, event.kind, event.session_id, data_json, chain),
        )
        rows.append((row_id, at, event.actor_id, event.kind, event.session_id, data_json,
                     prev_hash, digest))
        prev_hash = digest
    ledger.append(db, chain, rows, head_seal(key, ids[-1], prev_hash, chain))
    return ids[-1]


@dataclass(frozen=True)
class ChainProblem:
    row_id: int | None
    problem: str  # edited | inserted | deleted | head
    chain: int | None = None  # whose chain: a branch's id, 0 the bank's

    def describe(self) -> str:
        words = {
            "edited": "row {id} was edited out of band",
            "inserted": "row {id} was inserted out of band",
            "deleted": "rows were deleted just before row {id}",
            "head": "the chain head does not match: newest rows deleted after row {id}, "
            "or the head was edited",
        }
        return f"chain {self.chain}: " + words[self.problem].format(id=self.row_id)


def _walk(rows, key: bytes, start: dict, after_last: dict, legacy_until: int):
    """Check a run of ledger rows in id order, of any number of chains, given per chain the
    last genuine row before them (start: chain -> (hash, id); absent: none) and the prev_hash
    of whatever follows them in that chain (after_last: the next row, or the head). Returns
    (rows checked, problems, per chain seen the hash and id of its last genuine row)."""
    problems: list[ChainProblem] = []
    # chain -> [last genuine hash, its id, the row before the current one, that row's validity]
    states: dict = {}

    def classify(chain, state, next_prev_hash):
        row, valid = state[2], state[3]
        row_id, prev_hash, digest = row[0], row[6], row[7]
        if valid:
            if prev_hash != state[0]:
                problems.append(ChainProblem(row_id, "deleted", chain))
            state[0], state[1] = digest, row_id
            return
        # An edited row keeps its stored hash, so the next row still points at it; a row
        # inserted out of band is pointed at by nothing.
        if next_prev_hash == digest:
            problems.append(ChainProblem(row_id, "edited", chain))
            state[0], state[1] = digest, row_id
        else:
            problems.append(ChainProblem(row_id, "inserted", chain))

    hash_row = row_hasher(key)
    count = 0
    chain, state = object(), None  # the previous row's: most rows follow one of their chain
    for row in rows:
        count += 1
        if row[8] != chain or type(row[8]) is not type(chain):
            chain = row[8]
            state = states.get((type(chain), chain))
            if state is None:
                state = states[(type(chain), chain)] = [*start.get(chain, (GENESIS, 0)), None,
                                                        False]
        valid = _genuine(hash_row, row, legacy_until)
        if state[2] is not None:
            classify(chain, state, row[6])
        state[2], state[3] = row, valid
    for (_, chain), state in states.items():
        if state[2] is not None:
            classify(chain, state, after_last.get(chain))
    return count, problems, {chain: (state[0], state[1]) for (_, chain), state in states.items()}


def _genuine(hash_row, row, legacy_until: int) -> bool:
    """Does the row's stored hash match its content? Any tampering, including values of the
    wrong type or bytes that are not UTF-8, is a False here, never an exception."""
    try:
        return isinstance(row[6], str) and same_hash(row[7],
                                                     hash_row(row[6], row_content(row, legacy_until)))
    except (TypeError, ValueError):  # e.g. a blob, or text that was not UTF-8 (see storage.ledger.lenient_text)
        return False


def _walk_range(db, key: bytes, low: int, high: int, only: int | None, start: dict,
                after_last: dict, legacy_until: int):
    return _walk(ledger.chain_rows(db, low, high, only), key, start, after_last, legacy_until)


def _walk_range_in_worker() -> None:
    """Entry point of a verify worker process: arguments as JSON on stdin, result on stdout."""
    import sys

    source, key_hex, low, high, only, start, after_last, legacy_until = json.load(sys.stdin)
    conn = ledger.open_read_only(source)
    try:
        count, problems, states = _walk_range(
            conn, bytes.fromhex(key_hex), low, high, only, _int_keys(start),
            _int_keys(after_last), legacy_until)
    finally:
        ledger.close_read_only(conn)
    if any(type(chain) is not int for chain in states):
        states = None  # a chain value written around the app: the caller walks it all itself
    json.dump([count, [[p.row_id, p.problem, p.chain] for p in problems],
               None if states is None else [[chain, *state] for chain, state in states.items()]],
              sys.stdout)


def _int_keys(mapping: dict) -> dict:
    return {int(chain): value for chain, value in mapping.items()}


PARALLEL_MIN_ROWS = 200_000


def verify_chain(db, key: bytes, workers: int = 1,
                 chain: int | None = None) -> tuple[int, list[ChainProblem]]:
    """Walk every chain of the ledger, or only `chain`; returns (rows checked, problems found),
    the problems in id order, then those of heads by chain.

    The rows of all chains are read in one pass in id order (as fast as one chain was), each
    checked against the row before it in its own chain. With workers > 1 (and a large ledger,
    not in memory) id ranges are checked in parallel processes, each assuming the row before
    its range in each chain is genuine; a range whose assumption turns out wrong (tampering
    right at its edge) is walked again here with the true state, so the answer is always the
    same as one sequential walk. On PostgreSQL the workers read in this walk's snapshot.
    """
    with ledger.lenient_text(db), ledger.snapshot(db):
        heads = {head["chain"]: head for head in ledger.head_rows(db)}
        legacy_until = _legacy_until(heads.values())
        ends = {number: head["last_hash"] for number, head in heads.items()
                if head["last_id"] is not None}
        span = ledger.span(db, chain)
        source = None
        if workers > 1 and span["total"] >= PARALLEL_MIN_ROWS:
            source = ledger.worker_source(db)
        if source is None:
            count, problems, states = _walk(ledger.chain_rows(db, chain=chain), key, {}, ends,
                                            legacy_until)
        else:
            known = [chain] if chain is not None else ledger.chains(db)
            count, problems, states = _walk_in_parallel(
                db, source, key, span["low"], span["high"], workers, chain, known, ends,
                legacy_until)
    problems.sort(key=lambda problem: problem.row_id)
    checked = [chain] if chain is not None else sorted(
        {*states, *ends}, key=lambda number: (type(number) is not int, str(number)))
    for number in checked:
        last_hash, last_id = states.get(number, (GENESIS, 0))
        head = heads.get(number)
        if head is None or head["last_id"] is None:
            if number in states:
                problems.append(ChainProblem(last_id, "head", number))
        elif (not head_is_sealed(key, head) or head["last_id"] != last_id
              or head["last_hash"] != last_hash):
            problems.append(ChainProblem(last_id, "head", number))
    return count, problems


def _walk_in_parallel(db, source, key: bytes, low: int, high: int, workers: int,
                      only: int | None, known: list[int], ends: dict, legacy_until: int):
    import subprocess
    import sys

    step = (high - low) // workers + 1
    ranges = [(start, min(high, start + step - 1)) for start in range(low, high + 1, step)]
    edges = []
    for start, end in ranges:
        assumed, after = {}, {}
        for number in known:
            before, following = ledger.row_before(db, number, start), ledger.row_after(db, number, end)
            if before is not None:
                assumed[number] = (before["hash"], before["id"])
            after[number] = following["prev_hash"] if following else ends.get(number)
        edges.append((assumed, after))
    # Plain child interpreters rather than multiprocessing: no fork of a threaded process (a
    # lock held by another thread would hang the child) and no re-import of the caller's main.
    command = [sys.executable, "-c",
               "from teller_guard.audit import _walk_range_in_worker; _walk_range_in_worker()"]
    children = []
    for (start, end), (assumed, after) in zip(ranges, edges, strict=True):
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        child.stdin.write(json.dumps([source, key.hex(), start, end, only, assumed, after,
                                      legacy_until]).encode())
        child.stdin.close()
        children.append(child)
    results = []
    for child in children:
        output = child.stdout.read()
        if child.wait() != 0:
            raise RuntimeError(f"verify worker failed with exit code {child.returncode}")
        count, found, states = json.loads(output)
        results.append((count, [ChainProblem(*problem) for problem in found],
                        None if states is None else {chain: (last_hash, last_id)
                                                     for chain, last_hash, last_id in states}))
    if any(result[2] is None or not set(result[2]) <= set(known) for result in results):
        # A row in a chain no head or branch knows (written around the app): its edges were
        # not given to the workers, so walk everything here.
        return _walk(ledger.chain_rows(db, chain=only), key, {}, ends, legacy_until)
    count, problems, state = 0, [], {}
    for (start, end), (assumed, after), result in zip(ranges, edges, results, strict=True):
        # Right when the row before this range, in each chain it holds, was genuine.
        if any(tuple(assumed.get(number, (GENESIS, 0))) != state.get(number, (GENESIS, 0))
               for number in result[2]):
            result = _walk_range(db, key, start, end, only, state, after, legacy_until)
        count += result[0]
        problems.extend(result[1])
        state.update({number: tuple(value) for number, value in result[2].items()})
    return count, problems, state
