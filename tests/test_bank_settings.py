"""全行设置 (issue 16, item 2): the head-office admin keeps the bank-wide thresholds of the
cross-branch and cross-session signals; a saved value wins over app.config, every save is a
ledger event, every process reads the new value, and the page shows the risk rules in force."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import csrf_token
from test_cross_branch_web import MULE, logout, screen_as

from teller_guard import bank_settings, settings, users
from teller_guard.review import integrity_records, timeline
from teller_guard.risk import default_rules
from teller_guard.screening import context

pytestmark = pytest.mark.both_backends

PASSWORD = "Head-office-9"
PAGE = "/admin/bank-settings"


@pytest.fixture
def bank(app, database):
    """Branch 0002 (桥东支行) with a teller, and the head-office accounts."""
    key = app.extensions["teller_guard"]["ledger_key"]
    second = settings.create_branch(database, key, "0002", replace(
        settings.BranchSettings(), branch_name="桥东支行"))
    users.create_user(database, key, "qd_teller", "Branch-pass-1", "teller", "桥东柜员",
                      "T201", must_change=False, branch_id=second)
    for username, role in (("ho_admin1", "ho_admin"), ("ho_security1", "ho_security")):
        users.create_user(database, key, username, PASSWORD, role, username, "",
                          must_change=False, branch_id=None)
    return database


def form(**values):
    defaults = {"payee_branches_min": "3", "payee_branches_days": "7",
                "customer_other_branch_days": "30", "payee_repeat_min_customers": "2",
                "payee_repeat_days": "30", "customer_repeat_min": "2",
                "customer_repeat_days": "30"}
    return {**defaults, **{name: str(value) for name, value in values.items()}}


def save_page(client, **values):
    return client.post(PAGE, data={**form(**values), "csrf_token": csrf_token(client, PAGE)})


def events(database):
    return [json.loads(row["data"]) | {"actor_id": row["actor_id"]} for row in
            database["ledger"].rows_where("kind = ?", [bank_settings.EVENT_KIND], order_by="id")]


def stored(database):
    return {row[0]: row[1] for row in
            database.execute("SELECT key, value FROM settings ORDER BY key").fetchall()}


def test_only_the_head_office_admin_opens_bank_settings(client, auth, bank):
    for username, password in (("admin", None), ("ho_security1", PASSWORD)):
        auth.login(username, password)
        assert client.get(PAGE).status_code == 403
        token = csrf_token(client, "/account/password")
        assert client.post(PAGE, data={**form(payee_branches_min=2),
                                       "csrf_token": token}).status_code == 403
        logout(client)
    assert stored(bank) == {} and events(bank) == []

    auth.login("ho_admin1", PASSWORD)
    page = client.get(PAGE).get_data(as_text=True)
    assert "全行设置" in page and "跨网点收款：网点数（含本网点）" in page
    assert 'value="3"' in page
    assert default_rules().version in page
    assert "未设置 RULES_OVERRIDE" in page and "规则不能在页面上修改" in page
    # reachable from 网点管理 and the nav
    assert f'href="{PAGE}"' in client.get("/admin/branches").get_data(as_text=True)


def test_the_page_names_the_rules_override_in_force(client, auth, bank, app):
    app.config["RULES_OVERRIDE"] = "/etc/teller-guard/rules-hebei.toml"  # shown, not loaded
    auth.login("ho_admin1", PASSWORD)
    page = client.get(PAGE).get_data(as_text=True)
    assert "/etc/teller-guard/rules-hebei.toml" in page and "RULES_OVERRIDE" in page


def test_saving_records_only_the_changes_with_before_and_after(client, auth, bank, app):
    auth.login("ho_admin1", PASSWORD)
    done = save_page(client, payee_branches_min=2, customer_repeat_days=60)
    assert done.status_code == 302 and done.headers["Location"] == PAGE
    assert "全行设置已保存" in client.get(PAGE).get_data(as_text=True)
    assert stored(bank) == {"customer_repeat_days": "60", "payee_branches_min": "2"}
    ho_admin = users.find_user(bank, "ho_admin1")
    assert events(bank) == [{"payee_branches_min": {"before": 3, "after": 2},
                             "customer_repeat_days": {"before": 30, "after": 60},
                             "actor_id": ho_admin["id"]}]
    assert save_page(client, payee_branches_min=2, customer_repeat_days=60).status_code == 302
    assert "设置没有变化" in client.get(PAGE).get_data(as_text=True)
    assert len(events(bank)) == 1
    key = app.extensions["teller_guard"]["ledger_key"]
    assert integrity_records.check(bank, key, bank["ledger"].count).problems == []
    # the review timeline words the event
    assert "跨网点收款：网点数（含本网点）：3 → 2" in timeline.describe(
        bank_settings.EVENT_KIND, {"payee_branches_min": {"before": 3, "after": 2}}, {}, {})


@pytest.mark.parametrize("name, typed, message", [
    ("payee_branches_min", "1", "跨网点收款：网点数（含本网点）应在 2 至 50 个之间"),
    ("payee_branches_min", "51", "跨网点收款：网点数（含本网点）应在 2 至 50 个之间"),
    ("payee_branches_days", "0", "跨网点收款：统计天数应在 1 至 365 天之间"),
    ("customer_repeat_days", "366", "客户多次问询：统计天数应在 1 至 365 天之间"),
    ("payee_repeat_days", "三十", None),
    ("customer_other_branch_days", "", "请输入客户在其他网点问询：统计天数"),
])
def test_bad_values_are_refused_in_chinese_and_kept(client, auth, bank, name, typed, message):
    auth.login("ho_admin1", PASSWORD)
    refused = save_page(client, **{name: typed})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert f'id="{name}-error"' in page
    error = page.split(f'id="{name}-error">')[1].split("<")[0]
    assert message is None or error == message
    assert all(ord(char) > 127 for char in error if char.isalpha()), error  # Chinese
    if typed:
        assert f'value="{typed}"' in page
    assert stored(bank) == {} and events(bank) == []


def test_a_saved_value_wins_over_app_config_and_unsaved_ones_follow_it(client, auth, bank, app):
    app.config["PAYEE_BRANCHES_MIN"] = 5
    app.config["PAYEE_BRANCHES_DAYS"] = 10
    assert bank_settings.load(bank, app.config).payee_branches_min == 5
    auth.login("ho_admin1", PASSWORD)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'value="5"' in page and "来自配置文件" in page
    assert save_page(client, payee_branches_min=4, payee_branches_days=10).status_code == 302
    assert stored(bank) == {"payee_branches_min": "4"}  # days unchanged: still the config's
    assert events(bank)[0]["payee_branches_min"] == {"before": 5, "after": 4}
    app.config["PAYEE_BRANCHES_MIN"] = 9
    app.config["PAYEE_BRANCHES_DAYS"] = 12
    found = bank_settings.load(bank, app.config)
    assert (found.payee_branches_min, found.payee_branches_days) == (4, 12)


def test_a_saved_minimum_of_two_branches_flags_the_payee_at_the_second(client, auth, bank):
    screen_as(client, auth, "qd_teller", "Branch-pass-1", MULE, 1)
    logout(client)
    _, before = screen_as(client, auth, "teller", None, MULE, 2)
    assert "另有 1 个网点（桥东支行）" in before
    assert "跨网点收款账户" not in before  # 2 of the default 3 branches
    logout(client)

    auth.login("ho_admin1", PASSWORD)
    assert save_page(client, payee_branches_min=2).status_code == 302
    logout(client)
    _, after = screen_as(client, auth, "teller", None, MULE, 3)
    assert "<strong>跨网点收款账户</strong>" in after and "共 2 个网点" in after


def test_the_cached_thresholds_are_read_again_after_a_save(app, bank, monkeypatch):
    monkeypatch.setattr(context, "SETTINGS_RECHECK_SECONDS", 10**9)
    key = app.extensions["teller_guard"]["ledger_key"]
    with app.test_request_context():
        assert context.bank().payee_branches_min == 3
        # a row written behind the app's back is not seen while the cache holds: it caches
        bank.execute("INSERT INTO settings (key, value) VALUES ('payee_branches_days', '9')")
        if bank.dialect == "sqlite":
            bank.conn.commit()
        assert context.bank().payee_branches_days == 7
        # a save (here on another connection) counts as a change: read again at once
        bank_settings.save(bank, key, replace(bank_settings.load(bank, app.config),
                                              payee_branches_min=2), app.config)
        now = context.bank()
        assert (now.payee_branches_min, now.payee_branches_days) == (2, 9)
