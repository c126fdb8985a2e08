"""Watchlist pages: access, upload, search by POST, removal, export, no plaintext stored."""

import io
import json
import re

import pytest
from conftest import csrf_token, database_bytes

from teller_guard import pii
from teller_guard.watchlist import store

pytestmark = pytest.mark.both_backends


ACCOUNTS = ["6222021234567890123", "6217001234567890", "6228480012345678901"]
ROLES = ["teller", "supervisor", "security", "admin"]


@pytest.fixture
def app(app):
    # Until app.py registers the blueprint, register it here.
    if "watchlist.index" not in app.view_functions:
        from teller_guard.watchlist import views

        app.register_blueprint(views.bp)
    return app


def upload(client, data: bytes, skip_errors=False, default_source="", filename="名单.csv"):
    token = csrf_token(client, "/watchlist/import")
    form = {"csrf_token": token, "upload": (io.BytesIO(data), filename),
            "default_source": default_source}
    if skip_errors:
        form["skip_errors"] = "y"
    return client.post("/watchlist/import", data=form, content_type="multipart/form-data")


def watchlist_get_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("watchlist.") and "GET" in rule.methods:
            yield re.sub(r"<int:\w+>", "1", rule.rule)


@pytest.mark.parametrize("role", ROLES)
def test_only_security_and_admin_reach_the_watchlist(app, client, auth, role):
    auth.login(role)
    paths = list(watchlist_get_routes(app))
    assert "/watchlist/" in paths and "/watchlist/import" in paths
    for path in paths:
        status = client.get(path).status_code
        if role in ("security", "admin"):
            assert status in (200, 302), (path, status)
        else:
            assert status == 403, (path, status)
    if role not in ("security", "admin"):
        assert client.post("/watchlist/export").status_code in (400, 403)


def test_anonymous_goes_to_login(app, client):
    for path in watchlist_get_routes(app):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_upload_search_and_remove(app, client, auth, database):
    auth.login("security")
    response = upload(client, ("账号,来源,日期,备注\n" + "\n".join(ACCOUNTS) + "\n").encode(),
                      default_source="市反诈中心")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "导入完成：新增 3 个账户" in html
    page = client.get("/watchlist/").get_data(as_text=True)
    assert "名单共 <strong>3</strong> 个" in page and "6222 **** **** 0123" in page
    assert "市反诈中心" in page
    assert not any(account in page for account in ACCOUNTS)

    token = csrf_token(client, "/watchlist/")
    found = client.post("/watchlist/search", data={"csrf_token": token,
                                                   "account": "6222 0212 3456 7890 123"})
    html = found.get_data(as_text=True)
    assert "在涉诈名单中" in html and ACCOUNTS[0] not in html and "6222 0212" not in html
    missing = client.post("/watchlist/search", data={"csrf_token": token,
                                                     "account": "6222000011112222"})
    assert "不在涉诈名单中" in missing.get_data(as_text=True)
    bad = client.post("/watchlist/search", data={"csrf_token": token, "account": "12ab"})
    assert bad.status_code == 400 and "只能包含数字" in bad.get_data(as_text=True)

    entry = store.find(database, pii.keyed_hash(app.extensions["teller_guard"]["pii_key"],
                                                 ACCOUNTS[0]))
    confirm = client.get(f"/watchlist/{entry.id}/remove")
    assert confirm.status_code == 200 and "确认移出" in confirm.get_data(as_text=True)
    token = csrf_token(client, f"/watchlist/{entry.id}/remove")
    refused = client.post(f"/watchlist/{entry.id}/remove", data={"csrf_token": token})
    assert refused.status_code == 400 and "请填写移出原因" in refused.get_data(as_text=True)
    done = client.post(f"/watchlist/{entry.id}/remove", follow_redirects=True,
                       data={"csrf_token": token, "reason": f"公安通知解除 {ACCOUNTS[0]}"})
    assert "已将 6222 **** **** 0123 移出名单" in done.get_data(as_text=True)
    assert store.find(database, entry.account_hash) is None
    event = database.execute("SELECT data FROM ledger WHERE kind = 'watchlist.removed'").fetchone()
    assert json.loads(event[0])["account_masked"] == "6222 **** **** 0123"
    assert ACCOUNTS[0] not in event[0]
    gone = client.get(f"/watchlist/{entry.id}/remove", follow_redirects=True)
    assert "已不在名单中" in gone.get_data(as_text=True)


def test_errors_are_listed_and_nothing_imported_without_skip(client, auth, database):
    auth.login("admin")
    data = f"{ACCOUNTS[0]}\n123\n{ACCOUNTS[1]},来源,2026-13-01\n".encode()
    response = upload(client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "没有导入任何账户" in html and "8 至 30 位" in html and "日期无法识别" in html
    assert store.count(database) == 0
    response = upload(client, data, skip_errors=True)
    assert response.status_code == 200 and "新增 1 个账户" in response.get_data(as_text=True)
    assert store.count(database) == 1


@pytest.mark.parametrize(("data", "message"), [
    (b"", "文件为空"),
    (b"\x00\x01\x02binary\x00", "不是文本文件"),
    (b"PK\x03\x04xlsx", "另存为"),
    (b"\x80\x81\xff\xfe\xfd", "编码无法识别"),
])
def test_bad_uploads_get_a_chinese_message(client, auth, database, data, message):
    auth.login("security")
    response = upload(client, data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_missing_file_and_huge_upload(app, client, auth):
    auth.login("security")
    token = csrf_token(client, "/watchlist/import")
    response = client.post("/watchlist/import", data={"csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择要导入的文件" in response.get_data(as_text=True)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    response = upload(client, b"6222021234567890123\n" * 60_000)
    assert response.status_code == 413
    assert "文件过大（上限 1 MB" in response.get_data(as_text=True)


def test_keyset_pagination(client, auth, database):
    rows = [{"account_hash": f"{n:064x}", "account_masked": f"6222 **** **** {n:04d}",
             "source": "批量", "listed_on": "", "note": "", "added_at": "2026-03-01T10:00:00+08:00"}
            for n in range(store.PAGE_SIZE + 5)]
    database["watchlist"].insert_all(rows)
    auth.login("security")
    first = client.get("/watchlist/").get_data(as_text=True)
    assert f"6222 **** **** {store.PAGE_SIZE + 4:04d}" in first and "6222 **** **** 0004" not in first
    next_link = re.search(r'href="(/watchlist/\?before=\d+)"', first).group(1)
    second = client.get(next_link).get_data(as_text=True)
    assert "6222 **** **** 0004" in second and "6222 **** **** 0000" in second
    assert "下一页" not in second and "回到第一页" in second


def test_export_high_risk_payees(app, client, auth, database):
    key = app.extensions["teller_guard"]["pii_key"]
    teller_id = database.execute("SELECT id FROM users WHERE username = 'teller'").fetchone()[0]
    payee = pii.keyed_hash(key, ACCOUNTS[0])
    for number, (level, review, when) in enumerate([
        ("high", "pending", "2026-03-01T09:00:00+08:00"),
        ("critical", None, "2026-03-05T09:00:00+08:00"),
        ("medium", "confirmed_fraud", "2026-02-01T09:00:00+08:00"),
        ("low", None, "2026-03-09T09:00:00+08:00"),
    ]):
        database["sessions"].insert({
            "reference": f"TG{number}", "teller_id": teller_id, "branch_id": 1, "status": "finished",
            "started_at": when, "level": level, "review_status": review,
            "payee_hash": payee, "payee_masked": "6222 **** **** 0123",
            "customer_hash": f"customer{number}"})
    database["sessions"].insert({
        "reference": "TG-false", "teller_id": teller_id, "branch_id": 1, "status": "finished",
        "started_at": "2026-03-09T09:00:00+08:00", "level": "critical",
        "review_status": "false_alarm", "payee_hash": "f" * 64, "payee_masked": "6000 **** **** 0000"})
    auth.login("security")
    token = csrf_token(client, "/watchlist/")
    response = client.post("/watchlist/export", data={"csrf_token": token})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "payee_hash,payee_masked,sessions,last_seen,key_id"
    assert lines[1:] == [f"{payee},6222 **** **** 0123,3,2026-03-05,{store.key_fingerprint(key)}"]
    event = database.execute("SELECT data FROM ledger WHERE kind = 'watchlist.exported'").fetchone()
    assert json.loads(event[0]) == {"rows": 1}
    assert client.post("/watchlist/export").status_code == 400  # no CSRF token


def test_no_plaintext_account_number_in_the_database_files(app, client, auth):
    auth.login("security")
    numbers = [f"62220{n:014d}" for n in range(7, 400, 7)]
    text = "\n".join(f"{number},来源,2026-03-01,备注 {number}" for number in numbers)
    assert upload(client, text.encode()).status_code == 200
    token = csrf_token(client, "/watchlist/")
    client.post("/watchlist/search", data={"csrf_token": token, "account": numbers[0]})
    contents = database_bytes(app.config["DATABASE"])
    assert len(contents) > 10_000
    for number in numbers:
        assert number.encode() not in contents
        assert number.encode("utf-16-le") not in contents


def test_pages_have_no_inline_script_or_style(client, auth):
    auth.login("admin")
    for path in ["/watchlist/", "/watchlist/import"]:
        html = client.get(path).get_data(as_text=True)
        # Scripts only from the app's files (the idle warning's on every logged-in page).
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert " style=" not in html and "<style" not in html
        assert "http://" not in html and "https://" not in html
        assert re.search(r'<label for="\w+"', html)
