import json
import re

from conftest import csrf_token

from teller_guard import settings, users


def test_admin_adds_a_user_with_a_generated_password(client, auth, database):
    auth.login("admin")
    token = csrf_token(client, "/admin/")
    response = client.post("/admin/users", data={
        "username": "newteller", "display_name": "新柜员", "staff_no": "T009",
        "role": "teller", "csrf_token": token}, follow_redirects=True)
    html = response.get_data(as_text=True)
    match = re.search(r"初始密码：(\w+)", html)
    assert match, html
    auth.logout()
    assert auth.login("newteller", match.group(1)).status_code == 302


def test_duplicate_username_is_refused_on_the_page(client, auth):
    auth.login("admin")
    token = csrf_token(client, "/admin/")
    response = client.post("/admin/users", data={"username": "teller", "role": "teller",
                                                 "staff_no": "T100", "csrf_token": token})
    assert response.status_code == 400
    assert "用户名已存在" in response.get_data(as_text=True)


def test_admin_disables_and_resets(client, auth, database):
    auth.login("admin")
    teller_id = users.find_user(database, "teller")["id"]
    token = csrf_token(client, "/admin/")
    client.post(f"/admin/users/{teller_id}/disable", data={"csrf_token": token, "confirmed": "1"})
    assert users.find_user(database, "teller")["active"] == 0
    hash_before = users.find_user(database, "teller")["password_hash"]
    asked = client.post(f"/admin/users/{teller_id}/reset", data={"csrf_token": token},
                        follow_redirects=True)
    assert "确认重置用户 teller 的密码" in asked.get_data(as_text=True)
    assert users.find_user(database, "teller")["password_hash"] == hash_before
    response = client.post(f"/admin/users/{teller_id}/reset",
                           data={"csrf_token": token, "confirmed": "1"}, follow_redirects=True)
    new_password = re.search(r"新密码：(\w+)", response.get_data(as_text=True)).group(1)
    client.post(f"/admin/users/{teller_id}/enable", data={"csrf_token": token})
    auth.logout()
    assert auth.login("teller", new_password).status_code == 302


def test_admin_cannot_disable_self(client, auth, database):
    auth.login("admin")
    admin_id = users.find_user(database, "admin")["id"]
    token = csrf_token(client, "/admin/")
    html = client.post(f"/admin/users/{admin_id}/disable", data={"csrf_token": token, "confirmed": "1"},
                       follow_redirects=True).get_data(as_text=True)
    assert "不能停用自己的账户" in html
    assert users.find_user(database, "admin")["active"] == 1


def settings_form(token, **overrides):
    data = {"bank_name": "测试银行", "branch_name": "测试支行", "province": "广东省",
            "city": "深圳市", "large_amount": "20000", "elderly_age": "65",
            "slip_paper": "roll80", "csrf_token": token}
    data.update(overrides)
    return data


def test_settings_change_is_saved_and_logged(client, auth, database):
    auth.login("admin")
    token = csrf_token(client, "/admin/settings")
    response = client.post("/admin/settings", data=settings_form(token))
    assert response.status_code == 302
    saved = settings.load(database)
    assert saved.province == "广东省" and str(saved.large_amount) == "20000.00"
    assert saved.elderly_age == 65 and saved.slip_paper == "roll80"
    event = list(database["ledger"].rows_where("kind = 'settings.changed'", order_by="id desc"))[0]
    data = json.loads(event["data"])
    assert data["province"] == {"before": "河北省", "after": "广东省"}
    assert event["actor_id"] == users.find_user(database, "admin")["id"]


def test_the_branch_province_can_be_typed_in_pinyin(client, auth):
    auth.login("admin")
    html = client.get("/admin/settings").get_data(as_text=True)
    assert 'data-typeahead=""' in html and "js/typeahead.js" in html
    assert '<option data-pinyin="gd guangdong" value="广东省">广东省</option>' in html \
        or '<option value="广东省" data-pinyin="gd guangdong">广东省</option>' in html
    assert html.count("data-pinyin=") == 34


def test_bad_settings_show_chinese_messages_and_keep_input(client, auth, database):
    auth.login("admin")
    token = csrf_token(client, "/admin/settings")
    response = client.post("/admin/settings", data=settings_form(
        token, large_amount="-5", elderly_age="abc", branch_name="保留我"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "大额标准应在 1 至 1 亿元之间" in html
    assert "Not a valid" not in html and "不是有效的整数" in html
    assert 'accesskey="None"' not in html
    assert "保留我" in html
    assert settings.load(database).branch_name == "沙河支行"


def test_branch_settings_are_cached_but_never_stale_for_long(app, database, monkeypatch):
    """A save in this process shows at once; one made by another process (written here
    straight into the table) shows once the recheck interval has passed."""
    from dataclasses import replace

    from teller_guard.screening import context

    clock = [1000.0]
    monkeypatch.setattr(context.time, "monotonic", lambda: clock[0])
    key = app.extensions["teller_guard"]["ledger_key"]
    with app.app_context():
        first = context.branch()
        settings.save(database, key, replace(first, branch_name="新网点"))
        assert context.branch().branch_name == "新网点"
        database.execute("UPDATE branches SET name = ? WHERE id = 1", ["别的进程改的"])
        assert context.branch().branch_name == "新网点"  # cached
        clock[0] += context.SETTINGS_RECHECK_SECONDS + 0.1
        assert context.branch().branch_name == "别的进程改的"
