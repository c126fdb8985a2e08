"""Login failures (issue 13, item 4): every failure looks and costs the same, repeated failures
slow down one (address, user name) instead of locking the account, a teller cannot block a
supervisor through the supervisor form, and admins see a record of recent failures."""

import pytest
from conftest import PASSWORDS, csrf_token, database_bytes
from printing_web_helpers import make_session

from teller_guard import users

THROTTLED = "登录尝试过于频繁，请稍后再试"
WRONG = "用户名或密码错误"


def login_from(app, address: str, username: str, password: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def fail(app, address, username, times=5):
    for attempt in range(times):
        page = login_from(app, address, username, "wrong-password").get_data(as_text=True)
        assert (WRONG if attempt < 5 else THROTTLED) in page


def error_banner(response) -> str:
    page = response.get_data(as_text=True)
    return page[page.index('class="error'):page.index("</p>", page.index('class="error'))]


@pytest.fixture
def hash_checks(monkeypatch):
    calls = []
    real = users.check_password_hash

    def counting(stored, password):
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(users, "check_password_hash", counting)
    return calls


def test_every_failure_says_the_same_and_costs_one_password_hash(app, database, hash_checks):
    key = app.extensions["teller_guard"]["ledger_key"]
    users.set_active(database, key, "teller2", False)
    # an account locked by the code before this change is not treated differently either
    database.execute("UPDATE users SET locked_until = '2999-01-01T00:00:00+00:00' "
                     "WHERE username = 'security'")
    cases = {"unknown": ("nobody-here", "whatever-pass"),
             "wrong password": ("teller", "not-the-password"),
             "disabled, right password": ("teller2", PASSWORDS["teller2"]),
             "disabled, wrong password": ("teller2", "not-the-password"),
             "locked before the upgrade, wrong": ("security", "not-the-password")}
    pages = {}
    for case, (username, password) in cases.items():
        hash_checks.clear()
        response = login_from(app, "10.0.0.9", username, password)
        assert response.status_code == 401, case
        assert len(hash_checks) == 1, case
        pages[case] = error_banner(response)
        assert WRONG in pages[case], case
    assert len(set(pages.values())) == 1, pages


def test_repeated_failures_slow_down_that_address_only(app):
    fail(app, "10.0.0.5", "teller")
    refused = login_from(app, "10.0.0.5", "teller", PASSWORDS["teller"])
    assert refused.status_code == 429 and THROTTLED in refused.get_data(as_text=True)
    # The account is not locked: the teller logs in from their own terminal.
    assert login_from(app, "10.0.0.6", "teller", PASSWORDS["teller"]).status_code == 302
    # and the throttled terminal may still log in as somebody else
    assert login_from(app, "10.0.0.5", "teller2", PASSWORDS["teller2"]).status_code == 302


def test_nobody_can_lock_the_admin_out(app):
    for address in ("10.0.1.1", "10.0.1.2", "10.0.1.3"):
        fail(app, address, "admin", times=8)
    assert login_from(app, "10.0.1.4", "admin", PASSWORDS["admin"]).status_code == 302


def test_an_unknown_name_is_throttled_the_same_way(app):
    fail(app, "10.0.0.7", "no-such-user")
    unknown = login_from(app, "10.0.0.7", "no-such-user", "x" * 10)
    fail(app, "10.0.0.7", "teller")
    known = login_from(app, "10.0.0.7", "teller", "x" * 10)
    assert unknown.status_code == known.status_code == 429
    assert THROTTLED in error_banner(unknown)
    assert error_banner(unknown) == error_banner(known)


def test_the_back_off_grows_and_ends():
    from teller_guard import login_throttle

    limits = login_throttle.Limits(max_failures=5, window_minutes=15, backoff_max_seconds=300)
    assert login_throttle.back_off_seconds(4, limits) == 0
    delays = [login_throttle.back_off_seconds(count, limits) for count in range(5, 12)]
    assert delays == [30, 60, 120, 240, 300, 300, 300]


def test_throttling_ends_after_the_back_off(app, database):
    fail(app, "10.0.0.8", "teller")
    assert login_from(app, "10.0.0.8", "teller", PASSWORDS["teller"]).status_code == 429
    database.execute("UPDATE login_failures SET at = at - 31")
    assert login_from(app, "10.0.0.8", "teller", PASSWORDS["teller"]).status_code == 302


def supervisor_attempt(client, session_id, password):
    path = f"/screening/{session_id}/result"
    return client.post(f"/screening/{session_id}/supervisor", data={
        "supervisor_username": "supervisor", "supervisor_password": password,
        "supervisor_reason": "已核实", "csrf_token": csrf_token(client, path)})


def test_a_teller_cannot_block_a_supervisor_through_the_supervisor_form(app, client, auth,
                                                                        database):
    session_id = make_session(app, database, "critical")
    client.environ_base["REMOTE_ADDR"] = "10.0.0.20"
    auth.login("teller")
    for _ in range(8):
        assert supervisor_attempt(client, session_id, "guessing").status_code == 400
    page = supervisor_attempt(client, session_id, PASSWORDS["supervisor"]).get_data(
        as_text=True)
    assert "尝试过于频繁" in page  # this teller is slowed down …
    # … but the supervisor logs in, even at this terminal,
    assert login_from(app, "10.0.0.20", "supervisor", PASSWORDS["supervisor"]).status_code == 302
    # and approves another teller's case at that teller's terminal.
    other = make_session(app, database, "critical", teller="teller2")
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "10.0.0.21"
    token = csrf_token(colleague, "/login")
    colleague.post("/login", data={"username": "teller2", "password": PASSWORDS["teller2"],
                                   "csrf_token": token})
    assert supervisor_attempt(colleague, other, PASSWORDS["supervisor"]).status_code == 302


def test_admins_see_recent_failures_without_the_names_that_do_not_exist(app, client, auth):
    login_from(app, "10.0.0.30", "typed-by-mistake-name", "x" * 10)
    fail(app, "10.0.0.31", "teller", times=3)
    auth.login("admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert "最近登录失败" in html
    assert "10.0.0.31" in html and "10.0.0.30" in html
    assert "不存在的用户名" in html and "typed-by-mistake-name" not in html
    assert b"typed-by-mistake-name" not in database_bytes(app.config["DATABASE"])


def test_failures_are_ledger_events_and_the_back_off_is_logged_once(app, database):
    fail(app, "10.0.0.40", "teller", times=5)
    login_from(app, "10.0.0.40", "teller", "wrong-again")  # refused without a check
    kinds = [row["kind"] for row in database["ledger"].rows_where(order_by="id")]
    assert kinds.count("login.failed") == 5 and kinds.count("login.throttled") == 1
