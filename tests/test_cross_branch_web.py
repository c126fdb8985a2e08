"""Must-show of issue 16, item 5: customers at three branches pay one new payee; the third
screening shows the other branches and scores higher; head office's radar lists the payee and
puts it on the watchlist."""

import json
import re
from dataclasses import replace

import pytest
from conftest import csrf_token
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, answer_all, post_facts, session_id_from

from teller_guard import settings, users

pytestmark = pytest.mark.both_backends

MULE = "6217009876543210"
FRESH = "6217001111222233"
PASSWORD = "Branch-pass-1"


@pytest.fixture
def bank(app, database):
    """Branches 桥东支行 and 沙河支行 beside branch 1, a teller at each, a head-office user."""
    key = app.extensions["teller_guard"]["ledger_key"]
    for code, name, username in (("0002", "桥东支行", "qd_teller"), ("0003", "沙河支行", "sh_teller")):
        branch_id = settings.create_branch(database, key, code, replace(
            settings.BranchSettings(), branch_name=name))
        users.create_user(database, key, username, PASSWORD, "teller", name + "柜员", username,
                          must_change=False, branch_id=branch_id)
    users.create_user(database, key, "zh_security", PASSWORD, "ho_security", "总行反诈",
                      must_change=False, branch_id=None)
    return database


def facts(payee, customer_number):
    return {**BENIGN_FACTS, "payee_account": payee, "payee_known": "new",
            "payee_name": "赵六", "customer_name": f"客户{customer_number}",
            "customer_phone": f"1380000{customer_number:04d}"}


def screen_as(client, auth, username, password, payee, customer_number, answer=True):
    auth.login(username, password)
    session_id = session_id_from(post_facts(client, facts(payee, customer_number)))
    page = client.get(f"/screening/{session_id}/questions").get_data(as_text=True)
    if answer:
        assert answer_all(client, session_id, BENIGN_ANSWERS).status_code == 302
    return session_id, page


def logout(client):
    client.post("/logout", data={"csrf_token": csrf_token(client, "/screening/")})


def assessment(database, session_id):
    row = database.execute("SELECT assessment FROM sessions WHERE id = ?", [session_id]).fetchone()
    return json.loads(row[0])


def test_the_third_branch_sees_the_payee_at_two_others_and_scores_higher(
        client, auth, bank):
    screen_as(client, auth, "qd_teller", PASSWORD, MULE, 1)
    logout(client)
    screen_as(client, auth, "sh_teller", PASSWORD, MULE, 2)
    logout(client)
    third, page = screen_as(client, auth, "teller", None, MULE, 3)
    control, control_page = screen_as(client, auth, "teller", None, FRESH, 4)

    notice = re.search(r'<p class="signal branch-signal" id="payee-branches".*?</p>', page, re.S)
    assert notice, page
    assert "另有 2 个网点（桥东支行、沙河支行）" in notice.group(0)
    assert "共 3 个网点" in notice.group(0)
    for other_customer in ("客户1", "客户2", "13800000001", "13800000002"):
        assert other_customer not in page  # never the other branches' customers
    assert 'id="payee-branches"' not in control_page

    seen, alone = assessment(bank, third), assessment(bank, control)
    assert seen["score"] > alone["score"]
    assert seen["level"] in ("high", "critical") and alone["level"] in ("low", "medium")
    assert "payee_at_other_branches" in [rule["rule_id"] for rule in seen["fired"]]
    result = client.get(f"/screening/{third}/result").get_data(as_text=True)
    assert "近期另有 2 个以上其他网点的客户向同一个人收款账户转账" in result
    assert "桥东支行、沙河支行" in result
    form = json.loads(bank.execute("SELECT form FROM sessions WHERE id = ?", [third]).fetchone()[0])
    assert form["cross_session"]["payee_other_branches"] == 2


def test_a_customer_held_at_another_branch_is_flagged_at_the_next(client, auth, bank):
    from screening_helpers import SAFE_ACCOUNT_ANSWERS

    auth.login("qd_teller", PASSWORD)
    held = session_id_from(post_facts(client, facts(FRESH, 7)))
    answer_all(client, held, SAFE_ACCOUNT_ANSWERS)
    assert assessment(bank, held)["level"] in ("high", "critical")
    logout(client)
    session_id, page = screen_as(client, auth, "teller", None, MULE, 7)
    assert "客户曾在其他网点被拦阻" in page and "桥东支行" in page
    seen = assessment(bank, session_id)
    assert seen["level"] in ("high", "critical")
    assert "customer_stopped_other_branch" in [rule["rule_id"] for rule in seen["fired"]]


def test_the_radar_lists_the_payee_and_puts_it_on_the_watchlist(client, auth, bank):
    screen_as(client, auth, "qd_teller", PASSWORD, MULE, 1)
    logout(client)
    screen_as(client, auth, "sh_teller", PASSWORD, MULE, 2)
    logout(client)
    # A branch's own security has no radar: it spans the bank.
    auth.login("security")
    assert client.get("/radar/").status_code == 403
    logout(client)

    auth.login("zh_security", PASSWORD)
    page = client.get("/radar/").get_data(as_text=True)
    assert "涉诈收款账户雷达" in page and "桥东支行、沙河支行" in page
    assert MULE not in page and "6217 **** **** 3210" in page
    payee = re.search(r'name="payee" value="([0-9a-f]{64})"', page).group(1)
    token = csrf_token(client, "/radar/")
    confirm = client.post("/radar/watch", data={"csrf_token": token, "payee": payee, "days": "7"})
    assert confirm.status_code == 200 and "确认列入" in confirm.get_data(as_text=True)
    assert bank.execute("SELECT count(*) FROM watchlist").fetchone()[0] == 0  # not yet
    done = client.post("/radar/watch", data={"csrf_token": token, "payee": payee, "days": "7",
                                             "confirmed": "1"})
    assert done.status_code == 302
    rows = bank.execute("SELECT account_hash, account_masked, source FROM watchlist").fetchall()
    assert [tuple(row) for row in rows] == [(payee, "6217 **** **** 3210", "本行发现")]
    assert "已在涉诈名单" in client.get("/radar/").get_data(as_text=True)
    event = bank.execute("SELECT data FROM ledger WHERE kind = 'watchlist.imported'").fetchone()
    assert json.loads(event[0])["kind"] == "radar" and MULE not in event[0]
    logout(client)

    # The next screening to that payee, at any branch, is stopped by the watchlist.
    session_id, _ = screen_as(client, auth, "teller", None, MULE, 5, answer=False)
    assert "payee_watchlisted" in [rule["rule_id"] for rule in assessment(bank, session_id)["fired"]]


def test_the_radar_refuses_bad_input_in_chinese(client, auth, bank):
    auth.login("zh_security", PASSWORD)
    assert client.get("/radar/?days=abc", follow_redirects=True).status_code == 200
    token = csrf_token(client, "/radar/")
    response = client.post("/radar/watch", data={"csrf_token": token, "payee": "x' OR 1=1",
                                                  "days": "7"}, follow_redirects=True)
    assert response.status_code == 200 and "已不在雷达中" in response.get_data(as_text=True)
    response = client.post("/radar/watch", data={"csrf_token": token, "payee": "a" * 64,
                                                  "days": "99999999999999999999"},
                           follow_redirects=True)
    assert response.status_code == 200 and "已不在雷达中" in response.get_data(as_text=True)
