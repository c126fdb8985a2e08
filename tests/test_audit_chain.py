import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teller_guard import audit, db, storage
from teller_guard.storage import copying

pytestmark = pytest.mark.both_backends


KEY = b"k" * 32


@pytest.fixture
def ledger(tmp_path, backend, request):
    """Ten chained rows and nothing else, on an SQLite file or the run's PostgreSQL database
    (emptied here; the next test's app fixture puts it back)."""
    if backend == "postgresql":
        path = request.getfixturevalue("postgres_template").url
        database = db.connect(path)
        with storage.transaction(database):
            copying.truncate_all(database)
    else:
        path = tmp_path / "ledger.db"
        db.prepare(path)
        database = db.connect(path)
    for number in range(10):
        with db.write_transaction(database):
            audit.append(database, KEY, audit.AuditEvent(
                "screening.outcome", actor_id=1, session_id=number, data={"n": number}, chain=1))
    yield database, path
    database.conn.close()


def tamper(path, sql, *params):
    if db.is_postgresql(path):
        database = db.connect(path)
        try:
            assert database.execute(sql, params).rowcount, "the tampering SQL must change a row"
        finally:
            database.conn.close()
        return
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    assert conn.total_changes, "the tampering SQL must change the file"
    conn.commit()
    conn.close()


def problems(database):
    count, found = audit.verify_chain(database, KEY)
    return count, [(problem.row_id, problem.problem) for problem in found]


def test_untouched_chain_verifies(ledger):
    database, _ = ledger
    assert problems(database) == (10, [])


def test_edited_row_is_found(ledger):
    database, path = ledger
    tamper(path, "UPDATE ledger SET data = '{\"n\": 99}' WHERE id = 4")
    assert problems(database)[1] == [(4, "edited")]


def test_deleted_row_is_found(ledger):
    database, path = ledger
    tamper(path, "DELETE FROM ledger WHERE id = 6")
    assert problems(database)[1] == [(7, "deleted")]


def test_inserted_row_is_found(ledger):
    database, path = ledger
    tamper(path, "INSERT INTO ledger (id, at, actor_id, kind, session_id, data, prev_hash, hash) "
                 "VALUES (11, '2026-01-01', 1, 'screening.outcome', 1, '{}', "
                 "(SELECT hash FROM ledger WHERE id = 10), 'forged')")
    assert problems(database)[1] == [(11, "inserted")]


def test_deleting_the_newest_rows_is_found(ledger):
    database, path = ledger
    tamper(path, "DELETE FROM ledger WHERE id >= 9")
    assert problems(database)[1] == [(8, "head")]


def test_wrong_key_fails_everything(ledger):
    database, _ = ledger
    count, found = audit.verify_chain(database, b"x" * 32)
    assert count == 10 and len(found) >= 10


def test_unknown_event_kind_is_refused():
    with pytest.raises(ValueError):
        audit.AuditEvent("made.up")


TAMPERING = [
    ("UPDATE ledger SET data = '{}' WHERE id = 5",),
    ("UPDATE ledger SET data = '{}' WHERE id = 6",),
    ("DELETE FROM ledger WHERE id = 5",),
    ("DELETE FROM ledger WHERE id = 6",),
    ("DELETE FROM ledger WHERE id IN (5, 6)",),
    # Flip the first hex digit: a fixed 'f' would be a no-op for one hash in sixteen.
    ("UPDATE ledger SET hash = (CASE substr(hash, 1, 1) WHEN 'f' THEN 'e' ELSE 'f' END) || substr(hash, 2) "
     "WHERE id = 5",),
    ("DELETE FROM ledger WHERE id >= 9",),
    ("INSERT INTO ledger (id, at, actor_id, kind, session_id, data, prev_hash, hash) "
     "VALUES (11, 'x', 1, 'screening.outcome', 1, '{}', "
     "(SELECT hash FROM ledger WHERE id = 10), 'forged')",),
]


@pytest.mark.parametrize("sql", [case[0] for case in TAMPERING])
def test_parallel_walk_finds_exactly_what_the_sequential_walk_finds(ledger, monkeypatch, sql):
    """Two processes split the ids at 5|6: tampering right at the edge must not change the
    answer."""
    database, path = ledger
    monkeypatch.setattr(audit, "PARALLEL_MIN_ROWS", 1)
    tamper(path, sql)
    sequential = audit.verify_chain(database, KEY)
    parallel = audit.verify_chain(database, KEY, workers=2)
    assert parallel == sequential
    assert sequential[1], "the tampering must be found"


def test_parallel_walk_of_an_untouched_chain(ledger, monkeypatch):
    database, _ = ledger
    monkeypatch.setattr(audit, "PARALLEL_MIN_ROWS", 1)
    assert audit.verify_chain(database, KEY, workers=3) == (10, [])


def test_event_data_is_stored_as_json_dumps_wrote_it():
    # Rows written before the shared encoder were hashed over json.dumps' output: the text
    # must not change, or old and new rows would be encoded two ways.
    import json
    from decimal import Decimal

    data = {"z": 1, "a": [1.5, None, True], "名字": "王小明", "nested": {"b": 2, "a": "x"},
            "amount": Decimal("12.30"), "quote": "\"<script>\"\n"}
    assert audit._encode_data(data) == json.dumps(data, ensure_ascii=False, sort_keys=True,
                                                  default=str)


@settings(max_examples=300, deadline=None)
@given(row_id=st.integers(min_value=-2**63, max_value=2**63 - 1),
       actor_id=st.one_of(st.none(), st.integers()), session_id=st.one_of(st.none(), st.integers()),
       at=st.text(), kind=st.text(), data=st.text())
def test_canonical_is_the_json_encoding_it_always_was(row_id, actor_id, session_id, at, kind,
                                                       data):
    # Every stored hash covers these bytes: the fast path must never differ from the encoder.
    import json

    assert audit.canonical(row_id, at, actor_id, kind, session_id, data) == json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":")).encode(
        (row_id, at, actor_id, kind, session_id, data)).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(row_id=st.integers(min_value=-2**63, max_value=2**63 - 1),
       actor_id=st.one_of(st.none(), st.integers()), session_id=st.one_of(st.none(), st.integers()),
       at=st.text(), data=st.text(), chain=st.integers(min_value=0, max_value=2**63 - 1))
def test_canonical_with_a_chain_is_the_json_encoding_with_the_chain_last(
        row_id, actor_id, session_id, at, data, chain):
    import json

    assert audit.canonical(row_id, at, actor_id, "k", session_id, data, chain) == json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":")).encode(
        (row_id, at, actor_id, "k", session_id, data, chain)).encode("utf-8")


@given(prev_hash=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
       content=st.binary())
def test_the_keyed_row_hasher_is_row_hash(prev_hash, content):
    key = b"k" * 32
    assert audit.row_hasher(key)(prev_hash, content) == audit.row_hash(key, prev_hash, content)


def test_parallel_walk_on_postgresql_reads_the_callers_snapshot(ledger, monkeypatch, backend):
    # verify walks the chain inside its one snapshot; the workers join it (SET TRANSACTION
    # SNAPSHOT), so a row changed after the snapshot was taken is not what they read.
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's workers open the file as it is when they start")
    database, path = ledger
    monkeypatch.setattr(audit, "PARALLEL_MIN_ROWS", 1)
    walked_in_parallel = []
    parallel = audit._walk_in_parallel
    monkeypatch.setattr(audit, "_walk_in_parallel",
                        lambda *args: walked_in_parallel.append(1) or parallel(*args))
    database.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    assert database.execute("SELECT count(*) FROM ledger").fetchone()[0] == 10  # the snapshot
    tamper(path, "UPDATE ledger SET data = '{}' WHERE id = 8")
    assert audit.verify_chain(database, KEY, workers=2) == (10, [])
    database.execute("COMMIT")
    assert walked_in_parallel
    assert problems(database)[1] == [(8, "edited")]  # a new snapshot sees it


@pytest.fixture
def two_chains(ledger):
    """Twelve more rows after the ten of chain 1: chains 1 and 2 taking turns (ids 11-22)."""
    database, path = ledger
    for number in range(12):
        with db.write_transaction(database):
            audit.append(database, KEY, audit.AuditEvent(
                "screening.outcome", actor_id=1, session_id=100 + number, data={"n": number},
                chain=1 + number % 2))
    return database, path


TWO_CHAIN_TAMPERING = [
    "UPDATE ledger SET data = '{}' WHERE id = 16",
    "UPDATE ledger SET data = '{}' WHERE id = 17",
    "DELETE FROM ledger WHERE id = 16",
    "DELETE FROM ledger WHERE id IN (15, 16, 17)",
    "UPDATE ledger SET chain = 1 WHERE id = 16",  # moved to the other chain
    "UPDATE ledger SET chain = 7 WHERE id = 17",  # to a chain nobody knows
    "DELETE FROM ledger WHERE id = 22",
    "DELETE FROM ledger WHERE chain = 2",
]


@pytest.mark.parametrize("sql", TWO_CHAIN_TAMPERING)
def test_parallel_walk_of_interleaved_chains_finds_what_the_sequential_walk_finds(
        two_chains, monkeypatch, sql):
    database, path = two_chains
    monkeypatch.setattr(audit, "PARALLEL_MIN_ROWS", 1)
    assert audit.verify_chain(database, KEY) == (22, [])
    assert audit.verify_chain(database, KEY, workers=3) == (22, [])
    tamper(path, sql)
    sequential = audit.verify_chain(database, KEY)
    assert sequential[1], "the tampering must be found"
    assert audit.verify_chain(database, KEY, workers=2) == sequential
    assert audit.verify_chain(database, KEY, workers=3) == sequential


def test_one_chain_is_walked_alone(two_chains):
    database, path = two_chains
    assert audit.verify_chain(database, KEY, chain=2) == (6, [])
    assert audit.verify_chain(database, KEY, chain=1) == (16, [])
    tamper(path, "UPDATE ledger SET data = '{}' WHERE id = 18")  # chain 2's
    assert [(p.chain, p.row_id, p.problem) for p in audit.verify_chain(database, KEY)[1]] == [
        (2, 18, "edited")]
    assert audit.verify_chain(database, KEY, chain=1) == (16, [])
