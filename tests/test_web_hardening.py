from teller_guard.security import CSP


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    assert response.headers["Content-Security-Policy"] == CSP
    assert "frame-ancestors 'none'" in CSP
    assert "unsafe-inline" not in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_404_is_chinese_without_trace(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "页面不存在" in html and "Traceback" not in html


def test_500_is_chinese_without_trace(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "系统错误" in html
    assert "secret internals" not in html and "Traceback" not in html


def test_403_is_chinese(client, auth):
    auth.login("teller")
    response = client.get("/admin/")
    assert response.status_code == 403
    assert "无权访问" in response.get_data(as_text=True)


def test_pages_use_no_inline_script_or_style(client, auth):
    for username, path in [("teller", "/screening/"), ("admin", "/admin/"),
                           ("admin", "/admin/settings"), ("security", "/review/")]:
        auth.login(username)
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "<style" not in html
        assert "http://" not in html and "https://" not in html
        auth.logout()


def test_static_assets_are_served_locally(client):
    assert client.get("/static/css/app.css").status_code == 200


def test_abort_with_a_chinese_message_shows_it(app, client):
    from flask import abort

    @app.route("/conflict")
    def conflict():
        abort(409, "该问询已结束")

    response = client.get("/conflict")
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "该问询已结束" in html and "当前状态不允许此操作" in html
    assert "Not Found" not in client.get("/nowhere").get_data(as_text=True)
