import sqlite3
import time

from conftest import csrf_token

from teller_guard import users


def test_login_page_is_chinese(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "登录" in html and "用户名" in html and "密码" in html


def test_each_role_lands_on_its_home(client, auth):
    homes = {"teller": "/screening/", "supervisor": "/screening/",
             "security": "/review/", "admin": "/admin/"}
    for username, home in homes.items():
        response = auth.login(username)
        assert response.status_code == 302
        assert response.headers["Location"] == home
        assert client.get(home).status_code == 200
        auth.logout()


def test_wrong_password_and_unknown_user_say_the_same(auth):
    wrong = auth.login("teller", "not-the-password").get_data(as_text=True)
    unknown = auth.login("nobody", "whatever-pass").get_data(as_text=True)
    assert "用户名或密码错误" in wrong
    assert "用户名或密码错误" in unknown


def test_five_failures_slow_down_that_terminal_for_that_name(app, auth, database):
    for _ in range(5):
        assert "用户名或密码错误" in auth.login("teller", "wrong-pass").get_data(as_text=True)
    throttled = auth.login("teller")  # even the right password waits now
    assert throttled.status_code == 429
    assert "登录尝试过于频繁，请稍后再试" in throttled.get_data(as_text=True)
    kinds = [row["kind"] for row in database["ledger"].rows_where(order_by="id")]
    assert kinds.count("login.failed") == 5 and "login.throttled" in kinds
    assert "login.locked" not in kinds
    assert users.find_user(database, "teller")["locked_until"] is None


def test_a_lock_from_before_the_upgrade_is_ignored(app, auth, database):
    database["users"].update(
        users.find_user(database, "teller")["id"], {"locked_until": "2999-01-01T00:00:00+00:00"})
    assert auth.login("teller").status_code == 302


def test_disabled_user_cannot_log_in(app, auth, database):
    key = app.extensions["teller_guard"]["ledger_key"]
    users.set_active(database, key, "teller", False)
    assert "用户名或密码错误" in auth.login("teller").get_data(as_text=True)


def test_idle_session_times_out(app, client, auth, database):
    auth.login("teller")
    assert client.get("/screening/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - 16 * 60
    response = client.get("/screening/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "已自动退出" in client.get("/login").get_data(as_text=True)
    # ended on the server too, not only in the cookie
    assert ended_logins(database, "teller") == [(1, "idle")]


def ended_logins(database, username: str) -> list[tuple]:
    return [tuple(row) for row in database.execute(
        "SELECT CASE WHEN ended_at IS NULL THEN 0 ELSE 1 END, ended_why FROM login_sessions "
        "WHERE user_id = (SELECT id FROM users WHERE username = ?)", [username])]


def test_missing_csrf_token_gives_chinese_400_and_saves_nothing(app, client, auth, database):
    auth.login("admin")
    before = database["users"].count
    response = client.post("/admin/users", data={"username": "newbie", "role": "teller"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "CSRF" in html and "内容未保存" in html and "Traceback" not in html
    assert database["users"].count == before


def test_wrong_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "teller", "password": "x" * 9,
                                           "csrf_token": "forged"})
    assert response.status_code == 400


def test_session_cookie_flags(client, auth):
    response = auth.login("teller")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_next_url_after_login(client, auth):
    client.get("/admin/settings")
    response = auth.login("admin")
    assert response.headers["Location"] == "/admin/settings"


def test_passwords_are_hashed(database):
    stored = users.find_user(database, "teller")["password_hash"]
    assert "teller-pass-1" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_logout_needs_post_with_csrf(client, auth):
    auth.login("teller")
    assert client.get("/logout").status_code == 405
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/screening/")})
    assert response.status_code == 302
    assert client.get("/screening/").status_code == 302


def test_ledger_rows_are_not_readable_as_plain_passwords(app, auth):
    auth.login("teller", "wrong-password-typed")
    raw = open(app.config["DATABASE"], "rb").read()
    wal = app.config["DATABASE"] + "-wal"
    try:
        raw += open(wal, "rb").read()
    except FileNotFoundError:
        pass
    assert b"wrong-password-typed" not in raw
    sqlite3.connect(app.config["DATABASE"]).close()
