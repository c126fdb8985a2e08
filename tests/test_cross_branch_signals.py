"""Cross-branch signals (issue 16, item 5): a payee paid at several branches, a customer
screened at another branch, what the engine makes of them, and the 涉诈收款账户雷达 query."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from teller_guard import clock, pii, settings
from teller_guard.config import DEFAULTS
from teller_guard.risk import evaluate
from teller_guard.risk.model import ScreeningInput
from teller_guard.watchlist import radar, signals

pytestmark = pytest.mark.both_backends

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=CST)
KEY = b"k" * 32
PAYEE = pii.keyed_hash(KEY, "6222021234567890123")
OTHER_PAYEE = pii.keyed_hash(KEY, "6222029999999999999")
ME = pii.keyed_hash(KEY, "110101199001011234")
OTHERS = [pii.keyed_hash(KEY, f"11010119900101{n:04d}") for n in range(8)]
HERE = 1


@pytest.fixture
def branches(app, database):
    """Branch 1 (here, named "here" in this dict) and four more: name -> id."""
    key = app.extensions["teller_guard"]["ledger_key"]
    found = {"here": HERE}
    for code, name in (("0002", "桥东支行"), ("0003", "沙河支行"), ("0004", "开发区支行"),
                       ("0005", "信都支行")):
        found[name] = settings.create_branch(database, key, code, replace(
            settings.BranchSettings(), branch_name=name))
    return found


@pytest.fixture
def add_session(database):
    teller_id = database.execute("SELECT id FROM users WHERE username = 'teller'").fetchone()[0]
    counter = iter(range(1, 10_000))

    def add(started_at, branch_id, payee=PAYEE, customer=ME, level="low", status="finished",
            amount_fen=5_000_000):
        number = next(counter)
        return database["sessions"].insert({
            "reference": f"TG20260331-{number:06d}", "teller_id": teller_id,
            "started_at": clock.stamp(started_at), "status": status,  # UTC, as the app stores
            "payee_hash": payee, "payee_masked": "6222 **** **** 0123", "customer_hash": customer,
            "customer_masked": "110***********1234", "level": level, "outcome": "proceeded",
            "amount_fen": amount_fen, "branch_id": branch_id}).last_pk

    return add


def payee_branches(database, now=NOW, days=7, branch_id=HERE):
    return signals.payee_branches(database, PAYEE, branch_id, now, days=days, min_branches=3)


def test_payee_window_edges_count_both_ends_and_nothing_outside(database, branches, add_session):
    add_session(NOW - timedelta(days=7), branches["桥东支行"], customer=OTHERS[0])  # the edge
    add_session(NOW, branches["沙河支行"], customer=OTHERS[1])  # now: counts
    add_session(NOW - timedelta(days=7, seconds=1), branches["开发区支行"], customer=OTHERS[2])
    add_session(NOW + timedelta(seconds=1), branches["信都支行"], customer=OTHERS[3])
    found = payee_branches(database)
    assert found.other_branches == ("桥东支行", "沙河支行")
    assert found.count == 2 and found.repeated  # this branch and two others: 3
    assert payee_branches(database, days=6).other_branches == ("沙河支行",)
    assert not payee_branches(database, days=6).repeated


def test_a_payee_at_many_branches_names_a_few_and_counts_all(
        database, branches, add_session, monkeypatch):
    for number, name in enumerate(("桥东支行", "沙河支行", "开发区支行")):
        add_session(NOW - timedelta(days=1), branches[name], customer=OTHERS[number])
    monkeypatch.setattr(signals, "NAMES_SHOWN", 2)
    found = payee_branches(database)
    assert (found.count, len(found.other_branches), found.more, found.at_least) == (3, 2, True,
                                                                                   False)
    # Only the newest sessions are read: the two newest name two branches, "or more".
    add_session(NOW - timedelta(hours=2), branches["桥东支行"], customer=OTHERS[4])
    add_session(NOW - timedelta(hours=1), branches["沙河支行"], customer=OTHERS[5])
    monkeypatch.setattr(signals, "SESSIONS_READ", 2)
    found = payee_branches(database)
    assert (found.count, found.at_least, found.other_branches) == (2, True, ("桥东支行", "沙河支行"))


def test_discarded_and_same_branch_screenings_do_not_count(database, branches, add_session):
    day = timedelta(days=1)
    add_session(NOW - day, HERE, customer=OTHERS[0])  # this branch: never "another"
    add_session(NOW - day, HERE, customer=OTHERS[1])
    add_session(NOW - day, branches["桥东支行"], customer=OTHERS[2], status="discarded")
    add_session(NOW - day, branches["沙河支行"], customer=OTHERS[3], status="discarded")
    assert payee_branches(database).count == 0
    add_session(NOW - day, branches["沙河支行"], customer=OTHERS[4], status="draft")
    assert payee_branches(database).other_branches == ("沙河支行",)
    # Seen from 沙河支行, branch 1 is the other branch (the discarded 桥东支行 still is not).
    assert payee_branches(database, branch_id=branches["沙河支行"]).other_branches == (
        settings.load(database, HERE).branch_name,)


def test_customer_at_other_branches_gives_the_highest_level_per_branch(
        database, branches, add_session):
    add_session(NOW - timedelta(days=2), branches["桥东支行"], payee=OTHER_PAYEE, level="low")
    add_session(NOW - timedelta(days=3), branches["桥东支行"], payee=OTHER_PAYEE, level="high")
    add_session(NOW - timedelta(days=30), branches["沙河支行"], level="medium")  # the edge
    add_session(NOW - timedelta(days=30, seconds=1), branches["开发区支行"], level="critical")
    add_session(NOW - timedelta(days=1), branches["信都支行"], level="critical", status="discarded")
    add_session(NOW - timedelta(days=1), HERE, level="critical")  # this branch
    add_session(NOW - timedelta(days=1), branches["信都支行"], customer=OTHERS[0], level="critical")
    found = signals.customer_branches(database, ME, HERE, NOW, days=30)
    assert [(item.branch, item.sessions, item.highest) for item in found.branches] == [
        ("桥东支行", 2, "high"), ("沙河支行", 1, "medium")]
    assert (found.count, found.high, found.stopped) == (2, 1, True)
    assert [item.branch for item in
            signals.customer_branches(database, ME, HERE, NOW, days=29).branches] == ["桥东支行"]
    recent = signals.customer_branches(database, ME, HERE, NOW, days=2)  # the low one, on the edge
    assert [(item.branch, item.highest) for item in recent.branches] == [("桥东支行", "low")]
    assert not recent.stopped


def test_the_facts_raise_the_level_and_name_their_reasons(database, branches, add_session):
    add_session(NOW - timedelta(days=1), branches["桥东支行"], customer=OTHERS[0])
    add_session(NOW - timedelta(days=2), branches["沙河支行"], customer=OTHERS[1])
    add_session(NOW - timedelta(days=4), branches["开发区支行"], payee=OTHER_PAYEE, level="high")
    facts = signals.cross_session_facts(database, PAYEE, ME, NOW, DEFAULTS, branch_id=HERE)
    assert facts["payee_other_branches"] == 2
    assert (facts["customer_other_branches"], facts["customer_other_branch_high"]) == (1, 1)
    quiet = ScreeningInput.from_dict({"transaction": {"amount": "3000"}})
    alone = evaluate(quiet)
    seen = evaluate(ScreeningInput.from_dict({"transaction": {"amount": "3000"},
                                              "cross_session": facts}))
    assert alone.level == "low" and seen.level in ("high", "critical") and seen.score > alone.score
    reasons = {rule.rule_id: rule for rule in seen.fired}
    assert "其他网点" in reasons["payee_at_other_branches"].reason_zh
    # A corporate payee (a school, a utility) is paid at every branch: no floor from that.
    corporate = evaluate(ScreeningInput.from_dict({
        "transaction": {"amount": "3000", "payee_type": "corporate"},
        "cross_session": {"payee_other_branches": facts["payee_other_branches"]}}))
    assert corporate.level == "low"
    assert reasons["customer_stopped_other_branch"].points > 0
    assert reasons["customer_prior_high"].points == 0  # one prior screening, counted once
    # Seen from 桥东支行 itself, its own screening is not "another branch".
    there = signals.cross_session_facts(database, PAYEE, OTHERS[0], NOW, DEFAULTS,
                                        branch_id=branches["桥东支行"])
    assert there["payee_other_branches"] == 1  # 沙河支行 only (branch 1 has no session yet)


def test_the_radar_ranks_payees_by_branches_then_customers(database, branches, add_session):
    hour = timedelta(hours=1)
    # PAYEE: three branches, three customers, one high
    for number, name in enumerate(("here", "桥东支行", "沙河支行")):
        add_session(NOW - hour * (number + 1), branches[name], customer=OTHERS[number],
                    level="high" if number == 0 else "low")
    # OTHER_PAYEE: two branches, four customers; plus a discarded third branch
    for number, name in enumerate(("桥东支行", "桥东支行", "信都支行", "信都支行")):
        add_session(NOW - hour, branches[name], payee=OTHER_PAYEE, customer=OTHERS[4 + number])
    add_session(NOW - hour, branches["开发区支行"], payee=OTHER_PAYEE, status="discarded")
    # one branch only, and one outside the window: not on the radar
    lone = pii.keyed_hash(KEY, "6222021111111111111")
    add_session(NOW - hour, HERE, payee=lone, customer=OTHERS[0])
    add_session(NOW - hour, HERE, payee=lone, customer=OTHERS[1])
    add_session(NOW - timedelta(days=8), branches["信都支行"], payee=lone)
    found = radar.payees(database, NOW, 7)
    assert [(payee.payee_hash, payee.branches, payee.customers, payee.high, payee.amount_fen)
            for payee in found] == [
        (PAYEE, tuple(sorted(("桥东支行", "沙河支行", settings.load(database, HERE).branch_name))),
         3, 1, 15_000_000),
        (OTHER_PAYEE, ("信都支行", "桥东支行"), 4, 0, 20_000_000)]
    assert found[0].first_seen < found[0].last_seen and not found[0].listed
    assert len(radar.payees(database, NOW, 30)) == 3  # the lone payee's 8-day-old session
    assert radar.find(database, "not-a-hash", NOW, 7) is None
