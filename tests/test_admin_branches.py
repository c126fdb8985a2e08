"""Head-office admin and branch admins (issue 16, items 1 and 2): 网点管理 for `ho_admin`
only; a branch admin manages only their own branch's users and settings and creates only
branch roles there, whatever a crafted form posts; head office moves users between branches."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import AuthActions, csrf_token
from screening_helpers import BENIGN_FACTS, post_facts, session_id_from

from teller_guard import settings, users
from teller_guard.review import integrity_records
from teller_guard.storage import branches as branch_store

pytestmark = pytest.mark.both_backends

HO_PASSWORD = "Head-office-9"
QD_PASSWORD = "Qiaodong-pass-2"


@pytest.fixture
def bank(app, database):
    """Branch 2 (桥东支行) with its own admin and teller, and a head-office admin and security
    account beside the test accounts of branch 1."""
    key = app.extensions["teller_guard"]["ledger_key"]
    second = settings.create_branch(database, key, "0002", replace(
        settings.DEMO_SETTINGS, branch_name="桥东支行", city="邢台市"))
    made = {"branch": second}
    for username, role, staff_no, branch_id, password in (
            ("qd_teller", "teller", "T201", second, QD_PASSWORD),
            ("qd_admin", "admin", "", second, QD_PASSWORD),
            ("ho_admin1", "ho_admin", "", None, HO_PASSWORD),
            ("ho_security1", "ho_security", "", None, HO_PASSWORD)):
        made[username] = users.create_user(database, key, username, password, role,
                                           f"{username}名", staff_no, must_change=False,
                                           branch_id=branch_id)
    return made


def login_head_office(auth):
    assert auth.login("ho_admin1", HO_PASSWORD).headers["Location"] == "/admin/"


def post(client, path, form_page, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_page)})


def user_row(database, username):
    return users.find_user(database, username)


def events(database, kind):
    return [json.loads(row["data"]) | {"actor_id": row["actor_id"]}
            for row in database["ledger"].rows_where("kind = ?", [kind], order_by="id")]


def record_problems(app, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    return [problem.line() for problem in
            integrity_records.check(database, key, database["ledger"].count).problems]


SETTINGS_FORM = {"bank_name": "演示银行", "branch_name": "历下支行", "province": "山东省",
                 "city": "济南市", "large_amount": "30000", "elderly_age": "65",
                 "slip_paper": "a4"}


# --- 网点管理 -------------------------------------------------------------------------------------


def test_head_office_lists_every_branch_with_its_users_and_screenings(app, client, auth, bank):
    teller = app.test_client()
    AuthActions(teller).login("qd_teller", QD_PASSWORD)
    session_id_from(post_facts(teller, BENIGN_FACTS))
    login_head_office(auth)
    html = client.get("/admin/branches").get_data(as_text=True)
    assert 'href="/admin/branches"' in html and "网点管理" in html  # in the menu
    assert '<span class="brand-office">总行</span>' in html  # not branch 1's name
    rows = {row.split("</td>")[0].split("<td>")[-1]: row
            for row in html.split('<tr id="branch-')[1:]}
    assert set(rows) == {"0001", "0002"}
    # Branch 1: the five test accounts, no screening; branch 2: two accounts, one screening.
    assert "沙河支行" in rows["0001"] and "河北省邢台市" in rows["0001"]
    assert '<td class="num"><a href="/admin/?branch=1">5<' in rows["0001"]
    assert '<td class="num">0</td>' in rows["0001"]
    assert '<a href="/admin/?branch=2">2<' in rows["0002"] and '<td class="num">1</td>' in rows["0002"]
    assert f'href="/admin/branches/{bank["branch"]}/settings"' in rows["0002"]


def test_head_office_adds_a_branch_and_edits_any_branchs_settings(app, client, auth, bank,
                                                                  database):
    login_head_office(auth)
    ho_admin = bank["ho_admin1"]
    response = post(client, "/admin/branches/new", "/admin/branches/new", code=" 0003 ",
                    **SETTINGS_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)
    row = branch_store.by_code(database, "0003")
    assert (row["name"], row["province"], row["city"], row["elderly_age"]) == (
        "历下支行", "山东省", "济南市", 65)
    [created] = events(database, "branch.created")[-1:]
    assert (created["branch"], created["code"], created["actor_id"]) == (row["id"], "0003",
                                                                         ho_admin)
    again = post(client, "/admin/branches/new", "/admin/branches/new", code="0003",
                 **SETTINGS_FORM)
    assert again.status_code == 400 and "网点代码已存在: 0003" in again.get_data(as_text=True)
    bad = post(client, "/admin/branches/new", "/admin/branches/new", code="03 西区",
               **{**SETTINGS_FORM, "large_amount": "-1"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and settings.CODE_RULE in html and "大额标准应在" in html

    # 网点设置 of branch 2, chosen from the list; branch 1 keeps its own.
    assert client.get("/admin/settings").headers["Location"] == "/admin/branches"
    path = f"/admin/branches/{bank['branch']}/settings"
    page = client.get(path).get_data(as_text=True)
    assert "网点设置 · 0002 桥东支行" in page and 'value="桥东支行"' in page
    response = post(client, path, path, **{**SETTINGS_FORM, "branch_name": "桥东支行",
                                           "province": "河北省", "city": "邢台市",
                                           "large_amount": "20000"})
    assert response.headers["Location"] == path
    assert settings.load(database, bank["branch"]).large_amount == 20000
    assert settings.load(database, 1).large_amount == 50000
    assert events(database, "settings.changed")[-1]["branch"] == bank["branch"]
    assert client.get("/admin/branches/99/settings").status_code == 404
    assert record_problems(app, database) == []


def test_a_branch_admin_has_no_branch_pages_and_only_their_own_settings(app, client, auth,
                                                                        bank, database):
    auth.login("admin")
    assert 'href="/admin/branches"' not in client.get("/admin/").get_data(as_text=True)
    assert client.get("/admin/branches").status_code == 403
    assert client.get("/admin/branches/new").status_code == 403
    forged = post(client, "/admin/branches/new", "/admin/settings", code="0009", **SETTINGS_FORM)
    assert forged.status_code == 403 and branch_store.by_code(database, "0009") is None

    other = f"/admin/branches/{bank['branch']}/settings"
    before = settings.load(database, bank["branch"])
    assert client.get(other).status_code == 404
    assert post(client, other, "/admin/settings", **SETTINGS_FORM).status_code == 404
    assert settings.load(database, bank["branch"]) == before
    # The old ?branch= of the head office's stopgap names nothing any more.
    page = client.get(f"/admin/settings?branch={bank['branch']}").get_data(as_text=True)
    assert "网点设置 · 0001 沙河支行" in page
    assert client.get("/admin/branches/1/settings").status_code == 200  # their own


# --- users --------------------------------------------------------------------------------------


def test_a_branch_admin_sees_and_manages_only_their_branchs_users(app, client, auth, bank,
                                                                  database):
    auth.login("admin")
    listing = client.get("/admin/").get_data(as_text=True)
    assert "用户管理 · 0001 沙河支行" in listing and "<td>teller</td>" in listing
    for stranger in ("qd_teller", "qd_admin", "ho_admin1", "ho_security1"):
        assert f"<td>{stranger}</td>" not in listing
    before = {name: dict(user_row(database, name)) for name in ("qd_teller", "ho_admin1")}
    ledger = database["ledger"].count
    for name in before:
        target = bank[name]
        assert client.get(f"/admin/users/{target}/edit").status_code == 404
        assert client.get(f"/admin/users/{target}/disable").status_code == 404
        assert client.get(f"/admin/users/{target}/reset").status_code == 404
        for action in ("disable", "reset", "enable"):
            response = post(client, f"/admin/users/{target}/{action}", "/admin/", confirmed="1")
            assert response.status_code == 404, action
        response = post(client, f"/admin/users/{target}/edit", "/admin/", role="teller",
                        display_name="改名", staff_no="T1")
        assert response.status_code == 404
    assert {name: dict(user_row(database, name)) for name in before} == before
    assert database["ledger"].count == ledger


def test_a_branch_admin_creates_branch_roles_in_their_own_branch_only(app, client, auth, bank,
                                                                      database):
    auth.login("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'value="ho_admin"' not in page and 'value="ho_security"' not in page
    assert 'name="branch"' not in page
    # A forged branch is ignored: the account joins the admin's own branch.
    response = post(client, "/admin/users", "/admin/", username="new_teller", role="teller",
                    staff_no="T77", branch=str(bank["branch"]))
    assert response.status_code == 302
    assert user_row(database, "new_teller")["branch_id"] == 1
    # A forged head-office role is refused (privilege escalation).
    for role in ("ho_admin", "ho_security"):
        response = post(client, "/admin/users", "/admin/", username=f"sneak_{role}", role=role)
        assert response.status_code == 400
        assert user_row(database, f"sneak_{role}") is None
    teller = user_row(database, "teller")["id"]
    response = post(client, f"/admin/users/{teller}/edit", "/admin/", role="ho_admin",
                    display_name="teller名", staff_no="TELLER")
    assert response.status_code == 400 and user_row(database, "teller")["role"] == "teller"
    assert 'value="ho_admin"' not in client.get(f"/admin/users/{teller}/edit").get_data(
        as_text=True)


def test_head_office_creates_users_in_any_branch_and_head_office_accounts(app, client, auth,
                                                                          bank, database):
    login_head_office(auth)
    page = client.get(f"/admin/?branch={bank['branch']}").get_data(as_text=True)
    assert "<td>qd_teller</td>" in page and "<td>teller</td>" not in page
    assert f'<option selected value="{bank["branch"]}">' in page \
        or f'<option value="{bank["branch"]}" selected>' in page
    head_office = client.get("/admin/?branch=ho").get_data(as_text=True)
    assert "<td>ho_security1</td>" in head_office and "<td>qd_teller</td>" not in head_office
    everyone = client.get("/admin/").get_data(as_text=True)
    assert all(f"<td>{name}</td>" in everyone for name in ("teller", "qd_teller", "ho_admin1"))

    assert post(client, "/admin/users", "/admin/", username="qd_teller2", role="teller",
                staff_no="T202", branch=str(bank["branch"])).status_code == 302
    assert user_row(database, "qd_teller2")["branch_id"] == bank["branch"]
    missing = post(client, "/admin/users", "/admin/", username="nowhere", role="teller",
                   staff_no="T203", branch="")
    assert missing.status_code == 400 and "请选择用户所属网点" in missing.get_data(as_text=True)
    assert user_row(database, "nowhere") is None
    assert post(client, "/admin/users", "/admin/", username="ho_security2", role="ho_security",
                branch=str(bank["branch"])).status_code == 302
    assert user_row(database, "ho_security2")["branch_id"] is None  # head office: no branch
    # Head office manages any branch's account.
    qd_teller = bank["qd_teller"]
    assert post(client, f"/admin/users/{qd_teller}/disable", "/admin/",
                confirmed="1").status_code == 302
    assert user_row(database, "qd_teller")["active"] == 0
    assert record_problems(app, database) == []


def test_head_office_moves_a_user_who_must_log_in_again_and_verify_agrees(app, client, auth,
                                                                          bank, database):
    terminal = app.test_client()
    AuthActions(terminal).login("teller")
    assert terminal.get("/screening/").status_code == 200
    teller = user_row(database, "teller")["id"]
    login_head_office(auth)
    page = client.get(f"/admin/users/{teller}/edit").get_data(as_text=True)
    assert "调整所属网点" in page and "0001 沙河支行" in page
    response = post(client, f"/admin/users/{teller}/branch", f"/admin/users/{teller}/edit",
                    branch=str(bank["branch"]))
    assert response.status_code == 302
    assert user_row(database, "teller")["branch_id"] == bank["branch"]
    [moved] = events(database, "user.branch_changed")
    assert moved == {"user_id": teller, "username": "teller", "branch": bank["branch"],
                     "previous_branch": 1, "actor_id": bank["ho_admin1"]}
    assert terminal.get("/screening/").status_code == 302  # logged out
    assert record_problems(app, database) == []
    # A head-office account has no branch to move from.
    response = post(client, f"/admin/users/{bank['ho_security1']}/branch", "/admin/", branch="1")
    assert response.status_code == 404
    assert user_row(database, "ho_security1")["branch_id"] is None

    database.execute("UPDATE users SET branch_id = 1 WHERE username = 'teller'")
    assert record_problems(app, database) == [
        f"[用户] 用户 #{teller} 与账本不一致（branch_id），被绕过系统改动 (edited)"]


def test_a_branch_admin_cannot_move_users(app, client, auth, bank, database):
    auth.login("admin")
    teller = user_row(database, "teller")["id"]
    assert "调整所属网点" not in client.get(f"/admin/users/{teller}/edit").get_data(as_text=True)
    response = post(client, f"/admin/users/{teller}/branch", "/admin/",
                    branch=str(bank["branch"]))
    assert response.status_code == 403
    assert user_row(database, "teller")["branch_id"] == 1
    assert events(database, "user.branch_changed") == []


def test_head_office_sees_the_branch_of_each_api_token(app, client, auth, bank):
    from api_helpers import new_token

    new_token(app, name="核心系统柜面前端")
    login_head_office(auth)
    html = client.get("/admin/api-tokens").get_data(as_text=True)
    assert '<th scope="col">网点</th>' in html and "核心系统柜面前端" in html
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    auth.login("admin")
    assert '<th scope="col">网点</th>' not in client.get("/admin/api-tokens").get_data(
        as_text=True)


def test_head_office_accounts_log_in_to_a_home_page(app, client, auth, bank):
    assert auth.login("ho_security1", HO_PASSWORD).headers["Location"] == "/head-office/"
    assert client.get("/").headers["Location"] == "/head-office/"
