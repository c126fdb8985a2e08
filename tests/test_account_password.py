"""修改密码 and the forced change (issue 15, item 12): every user changes their own password;
one that somebody else set (a new account, an admin's or the CLI's reset) must be changed
before anything else. Other login sessions end; this one goes on; API tokens are unaffected."""

from __future__ import annotations

import json
import re

import pytest
from api_helpers import BENIGN, new_token, post
from conftest import PASSWORDS, AuthActions, csrf_token

from teller_guard import users
from teller_guard.cli import main

pytestmark = pytest.mark.both_backends

NEW_PASSWORD = "my-own-secret-9"  # noqa: S105 - a test password


def change(client, current, new=NEW_PASSWORD, again=None):
    return client.post("/account/password", data={
        "current_password": current, "new_password": new,
        "new_password_again": new if again is None else again,
        "csrf_token": csrf_token(client, "/account/password")})


def logged_in(client) -> bool:
    return client.get("/screening/").status_code == 200


def flag(database, username) -> int:
    return users.find_user(database, username)["must_change_password"]


def test_a_user_changes_their_own_password(app, client, auth, database):
    other_terminal = app.test_client()
    AuthActions(other_terminal).login("teller")
    auth.login("teller")
    page = client.get("/screening/").get_data(as_text=True)
    assert 'href="/account/password"' in page  # in every page's header
    response = change(client, PASSWORDS["teller"])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "其他终端的登录已全部退出" in client.get("/screening/").get_data(as_text=True)
    assert logged_in(client)  # this browser goes on
    assert not logged_in(other_terminal)  # every other session of the account has ended
    event = list(database["ledger"].rows_where("kind = 'user.password_changed'"))[-1]
    data = json.loads(event["data"])
    teller_id = users.find_user(database, "teller")["id"]
    assert event["actor_id"] == teller_id and data["user_id"] == teller_id
    stored = users.find_user(database, "teller")["password_hash"]
    assert data["must_change_password"] is False
    assert data["password"] == users._password_digest(app.extensions["teller_guard"]["ledger_key"],
                                                      stored)
    auth.logout()
    assert auth.login("teller", PASSWORDS["teller"]).status_code == 401
    assert auth.login("teller", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("current, new, again, status, message", [
    ("wrong-password", NEW_PASSWORD, None, 401, "原密码错误"),
    (PASSWORDS["teller"], "short", None, 400, "密码至少 8 位"),
    (PASSWORDS["teller"], NEW_PASSWORD, "my-own-secret-8", 400, "两次输入的新密码不一致"),
    (PASSWORDS["teller"], PASSWORDS["teller"], None, 400, "新密码不能与原密码相同"),
    ("", NEW_PASSWORD, None, 400, "请输入原密码"),
])
def test_a_refused_change_says_why_and_changes_nothing(app, client, auth, database, current,
                                                       new, again, status, message):
    auth.login("teller")
    before = users.find_user(database, "teller")["password_hash"]
    response = change(client, current, new, again)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html and "Traceback" not in html
    assert new not in html.replace("my-own-secret-8", "")  # passwords are never echoed back
    assert users.find_user(database, "teller")["password_hash"] == before
    assert logged_in(client)


def test_guessing_the_current_password_is_slowed_down(app, client, auth, database):
    auth.login("teller")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert change(client, "wrong-password").status_code == 401
    response = change(client, PASSWORDS["teller"])  # even the right one waits now
    assert response.status_code == 429
    assert "原密码核对失败次数过多" in response.get_data(as_text=True)
    assert users.check_password_hash(users.find_user(database, "teller")["password_hash"],
                                     PASSWORDS["teller"])
    assert "修改密码时核对原密码" in admin_page(app)


def admin_page(app) -> str:
    admin = app.test_client()
    AuthActions(admin).login("admin")
    return admin.get("/admin/").get_data(as_text=True)


def add_user_as_admin(client, auth, **fields) -> str:
    auth.login("admin")
    response = client.post("/admin/users", data={
        "username": "newteller", "display_name": "新柜员", "staff_no": "T009", "role": "teller",
        **fields, "csrf_token": csrf_token(client, "/admin/")}, follow_redirects=True)
    password = re.search(r"初始密码：(\w+)", response.get_data(as_text=True)).group(1)
    auth.logout()
    return password


def test_a_new_account_must_change_its_password_before_anything_else(app, client, auth,
                                                                     database):
    password = add_user_as_admin(client, auth)
    assert flag(database, "newteller") == 1
    created = json.loads(list(database["ledger"].rows_where("kind = 'user.created'"))[-1]["data"])
    assert created["must_change_password"] is True
    response = auth.login("newteller", password)
    assert response.headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    assert 'id="forced-note"' in page
    assert 'class="mainnav"' not in page  # no menu to wander off into
    for path in ("/screening/", "/screening/new", "/"):
        followed = client.get(path, follow_redirects=True)
        assert followed.request.path == "/account/password", path
    # A POST elsewhere does nothing either.
    response = client.post("/screening/new", data={"csrf_token": csrf_token(client, "/account/password"),
                                                   "amount": "3000"})
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    assert database["sessions"].count == 0
    assert change(client, password).status_code == 302
    assert flag(database, "newteller") == 0
    assert logged_in(client)
    assert 'class="mainnav"' in client.get("/screening/").get_data(as_text=True)


def test_logout_works_while_the_change_is_due(app, client, auth, database):
    database.execute("UPDATE users SET must_change_password = 1 WHERE username = 'teller'")
    auth.login("teller")
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_an_admin_reset_makes_the_user_change_it_again(app, client, auth, database):
    auth.login("admin")
    teller_id = users.find_user(database, "teller")["id"]
    response = client.post(f"/admin/users/{teller_id}/reset",
                           data={"csrf_token": csrf_token(client, "/admin/"), "confirmed": "1"},
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    password = re.search(r"新密码：(\w+)", html).group(1)
    assert "本人登录后须修改" in html
    assert flag(database, "teller") == 1
    assert "待本人修改初始密码" in client.get("/admin/").get_data(as_text=True)
    auth.logout()
    assert auth.login("teller", password).headers["Location"] == "/account/password"


def test_the_cli_add_and_reset_make_the_user_change_it(app, runner, database):
    instance = ["--instance", app.instance_path]
    added = runner.invoke(main, ["user", "add", "li", "--role", "supervisor", "--staff-no", "S09",
                                 *instance])
    assert added.exit_code == 0, added.output
    assert "首次登录后须修改" in added.output
    assert flag(database, "li") == 1
    assert runner.invoke(main, ["user", "reset-password", "security", *instance]).exit_code == 0
    assert flag(database, "security") == 1


def test_api_tokens_file_for_a_teller_who_must_change_the_password(app, client, database):
    database.execute("UPDATE users SET must_change_password = 1 WHERE username = 'teller'")
    token = new_token(app)[1]
    response = post(client, token, BENIGN)
    assert response.status_code == 201, response.get_json()
    assert client.get(f"/api/v1/screenings/{response.get_json()['id']}",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
