"""Sessions end on the server (issue 13, item 2): a copied cookie stops working after logout,
a password reset, a role change or a disable, and no session outlives SESSION_MAX_HOURS however
often it is used."""

import time

import pytest
from conftest import csrf_token

from teller_guard import users

COOKIE = "teller_guard_session"


def cookie_of(client) -> str:
    return client.get_cookie(COOKIE).value


def with_cookie(app, value: str):
    """A second browser holding a copy of the cookie (a thief's, or a copied profile)."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def logged_in(client, path="/screening/") -> bool:
    return client.get(path).status_code == 200


def admin_action(app, action: str, username: str) -> None:
    admin = app.test_client()
    token = csrf_token(admin, "/login")
    from conftest import PASSWORDS

    admin.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                               "csrf_token": token})
    with app.app_context():
        from teller_guard.db import get_db

        target = users.find_user(get_db(), username)["id"]
    response = admin.post(f"/admin/users/{target}/{action}",
                          data={"csrf_token": csrf_token(admin, "/admin/"), "confirmed": "1"})
    assert response.status_code == 302


def test_logout_ends_the_session_on_the_server(app, client, auth):
    auth.login("teller")
    copied = cookie_of(client)
    assert logged_in(with_cookie(app, copied))
    auth.logout()
    thief = with_cookie(app, copied)
    response = thief.get("/screening/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_ends_only_that_session(app, client, auth):
    other = app.test_client()
    token = csrf_token(other, "/login")
    other.post("/login", data={"username": "teller", "password": "teller-pass-1",
                               "csrf_token": token})
    auth.login("teller")
    auth.logout()
    assert logged_in(other)


@pytest.mark.parametrize("action", ["reset", "disable"])
def test_admin_reset_and_disable_end_every_session_of_the_user(app, client, auth, action):
    auth.login("teller")
    copied = cookie_of(client)
    admin_action(app, action, "teller")
    if action == "disable":
        admin_action(app, "enable", "teller")  # enabling again does not bring it back
    assert not logged_in(client)
    assert not logged_in(with_cookie(app, copied))


def test_cli_reset_password_ends_sessions(app, client, auth, runner):
    from teller_guard.cli import main

    auth.login("teller")
    result = runner.invoke(main, ["user", "reset-password", "teller",
                                  "--instance", app.instance_path])
    assert result.exit_code == 0, result.output
    assert not logged_in(client)


def test_a_role_change_ends_sessions_even_when_changed_back(app, client, auth, database):
    auth.login("teller")
    teller = users.find_user(database, "teller")["id"]
    database.execute("UPDATE users SET role = 'supervisor' WHERE id = ?", [teller])
    database.execute("UPDATE users SET role = 'teller' WHERE id = ?", [teller])
    assert not logged_in(client)


def test_other_users_keep_their_sessions(app, client, auth):
    auth.login("teller2")
    admin_action(app, "reset", "teller")
    assert logged_in(client)


def test_no_session_outlives_the_absolute_lifetime(app, client, auth, database):
    auth.login("teller")
    assert app.config["SESSION_MAX_HOURS"] == 12
    # Used a minute ago (well within the idle timeout), but logged in 12 hours and a minute ago.
    database.execute("UPDATE login_sessions SET started_at = ?",
                     [int(time.time()) - 12 * 3600 - 60])
    response = client.get("/screening/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "登录已超过 12 小时" in client.get("/login").get_data(as_text=True)
    ended = database.execute("SELECT ended_why FROM login_sessions").fetchall()
    assert [row[0] for row in ended] == ["max_age"]  # ended on the server too


def test_the_absolute_lifetime_is_configurable(app, client, auth, database):
    app.config["SESSION_MAX_HOURS"] = 1
    auth.login("teller")
    database.execute("UPDATE login_sessions SET started_at = ?", [int(time.time()) - 3601])
    assert not logged_in(client)


def test_a_fresh_login_makes_a_new_session(app, client, auth):
    auth.login("teller")
    first = cookie_of(client)
    auth.logout()
    auth.login("teller")
    assert logged_in(client)
    assert not logged_in(with_cookie(app, first))


def test_the_session_table_keeps_no_usable_token(app, client, auth, database):
    auth.login("teller")
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    token = serializer.loads(cookie_of(client))["sid"]
    stored = [row["token_hash"] for row in database["login_sessions"].rows]
    assert token not in stored and len(stored) == 1
