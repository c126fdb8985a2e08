"""用户管理 (issue 15, item 12): an admin edits a user's role, name and 工号 (工号 required for
tellers and supervisors), each change a ledger event that `teller-guard verify` checks; 停用
and 吊销 ask first."""

from __future__ import annotations

import json

import pytest
from api_helpers import BENIGN, new_token, post
from conftest import AuthActions, csrf_token

from teller_guard import users
from teller_guard.cli import main
from teller_guard.review import integrity_records

pytestmark = pytest.mark.both_backends


def user_id(database, username: str) -> int:
    return users.find_user(database, username)["id"]


def edit(client, target_id: int, **fields):
    path = f"/admin/users/{target_id}/edit"
    return client.post(path, data={**fields, "csrf_token": csrf_token(client, path)})


def events(database, kind: str) -> list[dict]:
    return [json.loads(row["data"]) | {"actor_id": row["actor_id"]}
            for row in database["ledger"].rows_where("kind = ?", [kind], order_by="id")]


def verify_problems(app, database, runner, backend) -> list[str]:
    """What `teller-guard verify` reports about the users, settings and token rows: the record
    check itself on both backends, and on SQLite the whole command too (verify's chain walk
    does not run on PostgreSQL yet)."""
    key = app.extensions["teller_guard"]["ledger_key"]
    lines = [problem.line() for problem in
             integrity_records.check(database, key, database["ledger"].count).problems]
    if backend == "sqlite":
        result = runner.invoke(main, ["verify", "--instance", app.instance_path])
        assert "Traceback" not in result.output
        assert (result.exit_code == 0) == (lines == []), result.output
        assert all(line in result.output for line in lines), result.output
    return lines


# --- editing ------------------------------------------------------------------------------------


def test_the_edit_page_shows_the_user_as_stored(app, client, auth, database):
    auth.login("admin")
    html = client.get(f"/admin/users/{user_id(database, 'teller')}/edit").get_data(as_text=True)
    assert 'value="teller名"' in html and 'value="TELLER"' in html
    assert '<option selected value="teller">' in html or '<option value="teller" selected>' in html


def test_an_admin_edits_name_and_staff_no_with_a_ledger_event(app, client, auth, database):
    auth.login("admin")
    teller = user_id(database, "teller")
    response = edit(client, teller, display_name="王小柜", staff_no="T0107", role="teller")
    assert response.status_code == 302
    row = users.find_user(database, "teller")
    assert (row["display_name"], row["staff_no"], row["role"]) == ("王小柜", "T0107", "teller")
    [event] = events(database, "user.details_changed")
    assert event == {"user_id": teller, "username": "teller",
                     "display_name": {"before": "teller名", "after": "王小柜"},
                     "staff_no": {"before": "TELLER", "after": "T0107"},
                     "actor_id": user_id(database, "admin")}
    assert events(database, "user.role_changed") == []


def test_a_role_change_is_its_own_event_and_logs_the_user_out(app, client, auth, database):
    teller_terminal = app.test_client()
    AuthActions(teller_terminal).login("teller2")
    assert teller_terminal.get("/screening/").status_code == 200
    auth.login("admin")
    teller2 = user_id(database, "teller2")
    response = edit(client, teller2, display_name="teller2名", staff_no="TELLER2",
                    role="supervisor")
    assert response.status_code == 302
    assert users.find_user(database, "teller2")["role"] == "supervisor"
    [event] = events(database, "user.role_changed")
    assert (event["role"], event["previous_role"], event["user_id"]) == ("supervisor", "teller",
                                                                          teller2)
    assert events(database, "user.details_changed") == []
    assert teller_terminal.get("/screening/").status_code == 302  # must log in again


def test_an_unchanged_form_writes_nothing(app, client, auth, database):
    auth.login("admin")
    before = database["ledger"].count
    response = edit(client, user_id(database, "teller"), display_name="teller名",
                    staff_no="TELLER", role="teller")
    assert response.status_code == 302
    assert database["ledger"].count == before


@pytest.mark.parametrize("role", ["teller", "supervisor"])
def test_tellers_and_supervisors_need_a_staff_no(app, client, auth, database, role):
    auth.login("admin")
    response = edit(client, user_id(database, "security"), display_name="安保", staff_no="  ",
                    role=role)
    assert response.status_code == 400
    assert f"{users.ROLES[role]}必须填写工号" in response.get_data(as_text=True)
    assert users.find_user(database, "security")["role"] == "security"
    response = client.post("/admin/users", data={
        "username": "nostaffno", "role": role, "csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 400
    assert f"{users.ROLES[role]}必须填写工号" in response.get_data(as_text=True)
    assert users.find_user(database, "nostaffno") is None


def test_security_and_admin_may_go_without_a_staff_no(app, client, auth, database):
    auth.login("admin")
    assert edit(client, user_id(database, "security"), display_name="安保员", staff_no="",
                role="security").status_code == 302
    assert users.find_user(database, "security")["staff_no"] == ""


def test_the_cli_refuses_a_teller_without_a_staff_no(app, runner, database):
    result = runner.invoke(main, ["user", "add", "zhao", "--role", "teller",
                                  "--instance", app.instance_path])
    assert result.exit_code == 1 and "柜员必须填写工号" in result.output
    assert users.find_user(database, "zhao") is None


def test_too_long_values_are_refused_in_chinese(app, client, auth, database):
    auth.login("admin")
    response = edit(client, user_id(database, "teller"), display_name="名" * 65,
                    staff_no="T" * 33, role="teller")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "姓名最多 64 个字" in html and "工号最多 32 个字符" in html


def test_an_admin_cannot_change_their_own_role(app, client, auth, database):
    auth.login("admin")
    admin = user_id(database, "admin")
    html = client.get(f"/admin/users/{admin}/edit").get_data(as_text=True)
    assert "不能修改自己的角色" in html and 'name="role"' not in html
    # A crafted form cannot do it either; the name still changes.
    assert edit(client, admin, display_name="系统管理员", staff_no="", role="teller").status_code == 302
    row = users.find_user(database, "admin")
    assert (row["role"], row["display_name"]) == ("admin", "系统管理员")
    with pytest.raises(users.UserError, match="不能修改自己的角色"):
        users.update_user(database, app.extensions["teller_guard"]["ledger_key"], admin,
                          "security", "系统管理员", "", actor_id=admin)


def test_a_missing_user_is_a_message_not_an_error(app, client, auth):
    """404 with a Chinese page, as for another branch's user (test_admin_branches.py)."""
    auth.login("admin")
    response = client.get("/admin/users/999/edit")
    assert response.status_code == 404 and "用户不存在" in response.get_data(as_text=True)


# --- verify -------------------------------------------------------------------------------------


def test_verify_passes_after_edits_and_finds_an_edit_made_around_the_app(
        app, client, auth, database, runner, backend):
    auth.login("admin")
    edit(client, user_id(database, "teller"), display_name="王小柜", staff_no="T0107",
         role="teller")
    edit(client, user_id(database, "teller2"), display_name="李柜员", staff_no="T0108",
         role="supervisor")
    client.post(f"/admin/users/{user_id(database, 'security')}/reset",
                data={"csrf_token": csrf_token(client, "/admin/"), "confirmed": "1"})
    assert verify_problems(app, database, runner, backend) == []

    database.execute("UPDATE users SET staff_no = 'T9999' WHERE username = 'teller'")
    database.execute("UPDATE users SET display_name = '冒名' WHERE username = 'teller2'")
    database.execute("UPDATE users SET must_change_password = 0 WHERE username = 'security'")
    database.execute("UPDATE users SET role = 'teller' WHERE username = 'teller2'")
    assert sorted(verify_problems(app, database, runner, backend)) == sorted(
        f"[用户] 用户 #{user_id(database, name)} 与账本不一致（{fields}），被绕过系统改动 (edited)"
        for name, fields in (("teller", "staff_no"), ("teller2", "role、display_name"),
                             ("security", "must_change_password")))


def test_verify_checks_the_names_the_created_event_recorded(app, database, runner, backend):
    assert verify_problems(app, database, runner, backend) == []
    database.execute("UPDATE users SET staff_no = 'S-FAKE' WHERE username = 'supervisor'")
    assert verify_problems(app, database, runner, backend) == [
        f"[用户] 用户 #{user_id(database, 'supervisor')} 与账本不一致（staff_no），被绕过系统改动 (edited)"]


def test_a_password_change_verifies_and_a_swapped_hash_does_not(app, client, auth, database,
                                                                runner, backend):
    auth.login("teller")
    client.post("/account/password", data={
        "current_password": "teller-pass-1", "new_password": "my-own-secret-9",
        "new_password_again": "my-own-secret-9",
        "csrf_token": csrf_token(client, "/account/password")})
    assert verify_problems(app, database, runner, backend) == []
    database.execute("UPDATE users SET password_hash = (SELECT password_hash FROM users "
                     "WHERE username = 'teller2') WHERE username = 'teller'")
    database.execute("UPDATE users SET must_change_password = 1 WHERE username = 'teller'")
    assert verify_problems(app, database, runner, backend) == [
        f"[用户] 用户 #{user_id(database, 'teller')} 与账本不一致（password_hash、"
        "must_change_password），被绕过系统改动 (edited)"]


# --- 停用 and 吊销 ask first ------------------------------------------------------------------


def test_disable_asks_first(app, client, auth, database):
    auth.login("admin")
    teller = user_id(database, "teller")
    listing = client.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/users/{teller}/disable"' in listing  # a link to the question, no form
    page = client.get(f"/admin/users/{teller}/disable")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "确认停用用户 teller？" in html
    assert "TELLER" in html and 'name="confirmed" value="1"' in html
    assert 'id="cancel" autofocus' in html  # Enter alone does not disable anybody
    # A POST without the confirmation (an old page, a crafted form) only leads to the question.
    response = client.post(f"/admin/users/{teller}/disable",
                           data={"csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/users/{teller}/disable"
    assert users.find_user(database, "teller")["active"] == 1
    response = client.post(f"/admin/users/{teller}/disable",
                           data={"csrf_token": csrf_token(client, "/admin/"), "confirmed": "1"})
    assert response.status_code == 302
    assert users.find_user(database, "teller")["active"] == 0


def test_the_disable_question_is_not_offered_for_oneself_or_twice(app, client, auth, database):
    auth.login("admin")
    admin = user_id(database, "admin")
    assert f'href="/admin/users/{admin}/disable"' not in client.get("/admin/").get_data(as_text=True)
    response = client.get(f"/admin/users/{admin}/disable", follow_redirects=True)
    assert "不能停用自己的账户" in response.get_data(as_text=True)
    database.execute("UPDATE users SET active = 0 WHERE username = 'teller2'")
    response = client.get(f"/admin/users/{user_id(database, 'teller2')}/disable",
                          follow_redirects=True)
    assert "已停用" in response.get_data(as_text=True)


def test_revoke_asks_first(app, client, auth, database):
    token_id, token = new_token(app, name="核心系统柜面前端")
    auth.login("admin")
    listing = client.get("/admin/api-tokens").get_data(as_text=True)
    assert f'href="/admin/api-tokens/{token_id}/revoke"' in listing
    html = client.get(f"/admin/api-tokens/{token_id}/revoke").get_data(as_text=True)
    assert "确认吊销接口令牌“核心系统柜面前端”？" in html and "不能撤销" in html
    response = client.post(f"/admin/api-tokens/{token_id}/revoke",
                           data={"csrf_token": csrf_token(client, "/admin/api-tokens")})
    assert response.status_code == 303
    assert post(app.test_client(), token, BENIGN).status_code == 201  # still valid
    response = client.post(f"/admin/api-tokens/{token_id}/revoke", data={
        "csrf_token": csrf_token(client, "/admin/api-tokens"), "confirmed": "1"})
    assert response.status_code == 302
    assert post(app.test_client(), token, BENIGN).status_code == 401
    again = client.get(f"/admin/api-tokens/{token_id}/revoke", follow_redirects=True)
    assert "令牌不存在或已吊销" in again.get_data(as_text=True)
