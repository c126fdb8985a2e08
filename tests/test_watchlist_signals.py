"""Cross-session signals: time windows, other customers, nothing about them leaks."""

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from teller_guard import pii
from teller_guard.config import DEFAULTS
from teller_guard.watchlist import signals

pytestmark = pytest.mark.both_backends


CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=CST)
KEY = b"k" * 32
PAYEE = pii.keyed_hash(KEY, "6222021234567890123")
ME = pii.keyed_hash(KEY, "110101199001011234")
OTHERS = [pii.keyed_hash(KEY, f"11010119900101{n:04d}") for n in range(5)]


@pytest.fixture
def add_session(database):
    teller_id = database.execute("SELECT id FROM users WHERE username = 'teller'").fetchone()[0]
    counter = iter(range(1, 10_000))

    def add(started_at, payee=PAYEE, customer=ME, level="low", outcome="proceeded", **extra):
        if isinstance(started_at, datetime):
            started_at = started_at.isoformat(timespec="seconds")
        number = next(counter)
        row = {"reference": f"TG20260331-{number:06d}", "teller_id": teller_id,
               "started_at": started_at, "status": "finished", "payee_hash": payee,
               "payee_masked": "6222 **** **** 0123", "customer_hash": customer,
               "customer_masked": "110***********1234", "level": level, "outcome": outcome,
               "amount_fen": 5_000_000, **extra}
        return database["sessions"].insert(row).last_pk

    return add


def test_payee_window_includes_just_inside_and_excludes_just_outside(database, add_session):
    add_session(NOW - timedelta(days=30) + timedelta(minutes=1), customer=OTHERS[0])
    add_session(NOW - timedelta(days=30), customer=OTHERS[1])  # the boundary counts
    add_session(NOW - timedelta(days=30, minutes=1), customer=OTHERS[2])
    add_session(NOW + timedelta(minutes=1), customer=OTHERS[3])  # after `now`: not earlier
    signal = signals.payee_signals(database, PAYEE, ME, NOW, days=30)
    assert signal.other_customers == 2
    assert signal.seen_on == (date(2026, 3, 1),)
    assert not signals.payee_signals(database, PAYEE, ME, NOW, days=29).other_customers


def test_payee_counts_distinct_other_customers_only(database, add_session):
    add_session(NOW - timedelta(days=1))  # this customer: not counted
    add_session(NOW - timedelta(days=2), customer=OTHERS[0])
    add_session(NOW - timedelta(days=3), customer=OTHERS[0])
    add_session(NOW - timedelta(days=4), customer=OTHERS[1])
    add_session(NOW - timedelta(days=4), customer=None)  # unidentified: not countable
    add_session(NOW - timedelta(days=1), payee="other-payee", customer=OTHERS[2])
    signal = signals.payee_signals(database, PAYEE, ME, NOW, min_customers=2)
    assert signal.other_customers == 2 and signal.repeated
    assert signal.seen_on == (date(2026, 3, 27), date(2026, 3, 28), date(2026, 3, 29))
    assert not signals.payee_signals(database, PAYEE, ME, NOW, min_customers=3).repeated


def test_payee_signal_reveals_no_other_customer_data(database, add_session):
    add_session(NOW - timedelta(days=2), customer=OTHERS[0], level="critical")
    signal = signals.payee_signals(database, PAYEE, ME, NOW)
    assert {f.name for f in fields(signal)} == {"other_customers", "seen_on", "days", "min_customers"}
    text = repr(signal)
    assert OTHERS[0] not in text and "110" not in text and "critical" not in text
    assert all(type(day) is date for day in signal.seen_on)  # dates, not times


def test_window_compares_instants_across_utc_offsets(database, add_session):
    inside = (NOW - timedelta(days=30) + timedelta(seconds=1)).astimezone(UTC)
    outside = (NOW - timedelta(days=30) - timedelta(seconds=1)).astimezone(UTC)
    add_session(inside.isoformat().replace("+00:00", "Z"), customer=OTHERS[0])
    add_session(outside.isoformat(), customer=OTHERS[1])
    assert signals.payee_signals(database, PAYEE, ME, NOW).other_customers == 1
    assert signals.payee_signals(database, PAYEE, ME, NOW.astimezone(UTC)).other_customers == 1


def test_customer_history_window_and_own_session_excluded(database, add_session):
    add_session(NOW - timedelta(days=10), level="high", outcome="cancelled")
    add_session(NOW - timedelta(days=30) + timedelta(seconds=1), level="medium", outcome="proceeded")
    add_session(NOW - timedelta(days=30, seconds=1), level="critical", outcome="police_called")
    add_session(NOW - timedelta(days=1), customer=OTHERS[0], level="critical")
    current = add_session(NOW - timedelta(minutes=5), level=None, outcome=None, status="draft")
    history = signals.customer_history(database, ME, NOW, exclude_session_id=current)
    assert history.count == 2 and history.prior_high == 1 and history.repeated
    newest = history.screenings[0]
    assert (newest.level, newest.outcome) == ("high", "cancelled")
    assert newest.started_at == NOW - timedelta(days=10)
    assert history.screenings[1].started_at < newest.started_at
    with_current = signals.customer_history(database, ME, NOW)
    assert with_current.count == 3


# The sessions above have no branch: never another branch (tests/test_cross_branch_signals.py).
NO_OTHER_BRANCHES = {"payee_other_branches": 0, "customer_other_branches": 0,
                     "customer_other_branch_high": 0}


def test_cross_session_facts_is_the_engine_input(database, add_session):
    database["watchlist"].insert({"account_hash": PAYEE, "account_masked": "6222 **** **** 0123",
                                  "source": "test", "listed_on": "", "note": "", "added_at": ""})
    add_session(NOW - timedelta(days=3), customer=OTHERS[0])
    add_session(NOW - timedelta(days=5), level="critical")
    current = add_session(NOW - timedelta(minutes=1))
    facts = signals.cross_session_facts(database, PAYEE, ME, NOW, DEFAULTS,
                                        exclude_session_id=current)
    assert facts == {"payee_watchlisted": True, "payee_other_customers": 1,
                     "customer_prior_screenings": 1, "customer_prior_high": 1, **NO_OTHER_BRANCHES}
    narrow = {**DEFAULTS, "PAYEE_REPEAT_DAYS": 2, "CUSTOMER_REPEAT_DAYS": 4}
    assert signals.cross_session_facts(database, PAYEE, ME, NOW, narrow,
                                       exclude_session_id=current) == {
        "payee_watchlisted": True, "payee_other_customers": 0,
        "customer_prior_screenings": 0, "customer_prior_high": 0, **NO_OTHER_BRANCHES}
    assert signals.cross_session_facts(database, None, None, NOW, {}) == {
        "payee_watchlisted": False, "payee_other_customers": 0,
        "customer_prior_screenings": 0, "customer_prior_high": 0, **NO_OTHER_BRANCHES}


def test_engine_accepts_the_facts(database):
    model = pytest.importorskip("teller_guard.risk.model")
    facts = signals.cross_session_facts(database, PAYEE, ME, NOW, DEFAULTS)
    assert model.CrossSession(**facts).payee_other_customers == 0


def test_is_watchlisted(database):
    assert not signals.is_watchlisted(database, PAYEE)
    assert not signals.is_watchlisted(database, "")
    database["watchlist"].insert({"account_hash": PAYEE, "account_masked": "x"})
    assert signals.is_watchlisted(database, PAYEE)


def test_signals_module_does_not_import_flask():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(signals))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any("flask" in name for name in imported)
