"""/print: who may print what, what the PDFs say, and what each print records."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from urllib.parse import unquote

import pypdf
import pytest
from conftest import csrf_token
from printing_web_helpers import (
    CUSTOMER_ID,
    events,
    make_session,
    pdf_text,
    session_row,
    user_id,
)

from teller_guard import audit
from teller_guard.printing import FontStatus, qr
from teller_guard.printing_web import views

pytestmark = pytest.mark.both_backends


FULL_PAYEE = "6217001234567890123"


@pytest.fixture
def critical(app, database):
    return make_session(app, database, "critical")


def print_alert(client, session_id: int, **kwargs):
    """Press 打印警情通报单: a POST with the page's CSRF token (it reads the vault and queues)."""
    token = csrf_token(client, f"/print/{session_id}/alert")
    return client.post(f"/print/{session_id}/alert.pdf", data={"csrf_token": token}, **kwargs)


def test_teller_prints_own_slip_with_masked_data_only(client, auth, database, critical):
    auth.login("teller")
    response = client.get(f"/print/{critical}/slip.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reference = session_row(database, critical)["reference"]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline; ")
    assert f'filename="risk-warning-{reference}.pdf"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"风险提示单-{reference}.pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.data)
    assert reference in text and "风险提示单" in text
    assert "6217********0123" in text and "冒充公检法" in text and "安全账户" in text
    assert "¥200,000.00" in text and "王**" in text and "TELLER" in text  # teller's staff no
    for secret in (FULL_PAYEE, "王秀英", CUSTOMER_ID, "13912345678"):
        assert secret not in text

    assert client.get(f"/print/{critical}/slip?paper=roll80").status_code == 200
    row = session_row(database, critical)
    assert row["slips_printed"] == 2
    printed = events(database, critical, "print.slip")
    assert [(e["paper"], e["reprint"]) for e in printed] == [("a5", False), ("roll80", True)]
    assert {e["actor_id"] for e in printed} == {user_id(database, "teller")}


def test_stopped_session_slip_says_what_to_do_and_carries_reference_and_hotline_in_its_qr(
        client, auth, database, critical):
    """极高风险: the transfer is stopped, so the slip does not ask the customer to confirm it is
    their own wish; one sheet, on A5 and A4."""
    auth.login("teller")
    reference = session_row(database, critical)["reference"]
    for paper in ("a5", "a4"):
        response = client.get(f"/print/{critical}/slip.pdf?paper={paper}")
        assert response.status_code == 200
        reader = pypdf.PdfReader(io.BytesIO(response.data))
        assert len(reader.pages) == 1
        text = pdf_text(response.data)
        assert "真实意愿" not in text
        assert "本次转账已暂停办理" in text and "拨打96110反诈专线" in text
        assert "贰拾万元整" in text and "主管签字" in text and "网点业务章" in text
        qr_code = qr.qr_operators(f"{reference} 反诈专线96110")[0].encode()
        assert qr_code in reader.pages[0].get_contents().get_data()
    assert [e["paper"] for e in events(database, critical, "print.slip")] == ["a5", "a4"]


def test_slip_of_a_transfer_that_may_go_ahead_asks_for_confirmation(app, client, auth, database):
    medium = make_session(app, database, "medium")
    auth.login("teller")
    text = pdf_text(client.get(f"/print/{medium}/slip.pdf").data)
    assert "确认本次转账系本人真实意愿" in text and "已暂停" not in text


def test_admin_can_make_a4_the_branch_slip_paper(client, auth, database, critical):
    auth.login("admin")
    token = csrf_token(client, "/admin/settings")
    response = client.post("/admin/settings", data={
        "bank_name": "演示银行", "branch_name": "沙河支行", "province": "河北省", "city": "",
        "large_amount": "50000", "elderly_age": "65", "slip_paper": "a4", "csrf_token": token})
    assert response.status_code == 302
    reader = pypdf.PdfReader(io.BytesIO(client.get(f"/print/{critical}/slip").data))
    assert len(reader.pages) == 1
    assert float(reader.pages[0].mediabox.width) == pytest.approx(595.3, abs=0.5)  # A4
    assert events(database, critical, "print.slip")[0]["paper"] == "a4"


def test_slip_paper_defaults_to_the_branch_setting(app, client, auth, database, critical):
    database.execute("UPDATE branches SET slip_paper = 'roll80' WHERE id = 1")
    auth.login("supervisor")
    assert client.get(f"/print/{critical}/slip").status_code == 200
    assert events(database, critical, "print.slip")[0]["paper"] == "roll80"


def test_bad_paper_is_a_chinese_400_and_records_nothing(client, auth, database, critical):
    auth.login("teller")
    response = client.get(f"/print/{critical}/slip?paper=letter")
    assert response.status_code == 400
    assert "纸张类型只能是 a5" in response.get_data(as_text=True)
    assert session_row(database, critical)["slips_printed"] == 0
    assert events(database, critical, "print.slip") == []


def test_slip_access_by_role(client, auth, database, critical):
    auth.login("teller2")
    assert client.get(f"/print/{critical}/slip.pdf").status_code == 404
    assert client.get("/print/999/slip.pdf").status_code == 404
    for role in ("supervisor", "security", "admin"):
        auth.logout()
        auth.login(role)
        assert client.get(f"/print/{critical}/slip.pdf").status_code == 200, role
    assert session_row(database, critical)["slips_printed"] == 3


def test_low_slip_on_demand_but_not_before_assessment(app, client, auth, database):
    low = make_session(app, database, "low")
    draft = make_session(app, database, "low", assessed=False)
    auth.login("teller")
    response = client.get(f"/print/{low}/slip.pdf")
    assert response.status_code == 200 and "防范电信网络诈骗" in pdf_text(response.data)
    refused = client.get(f"/print/{draft}/slip.pdf")
    assert refused.status_code == 409 and "尚未完成风险评估" in refused.get_data(as_text=True)
    assert events(database, draft, "print.slip") == []


def test_a_link_from_another_site_prints_nothing(client, auth, database, critical):
    auth.login("supervisor")
    response = client.get(f"/print/{critical}/slip.pdf", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert client.get(f"/print/{critical}/slip.pdf",
                      headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert [e["kind"] for e in events(database, critical) if e["kind"].startswith("print")] == \
        ["print.slip"]


def test_opening_the_alert_page_prints_and_queues_nothing(app, client, auth, database, critical):
    """A GET (a link, a prefetch, a link on another site) never reads the vault or queues."""
    app.config["ALERT_ENDPOINT"] = "https://soc.bank.example/alerts"
    auth.login("supervisor")
    page = client.get(f"/print/{critical}/alert")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert f'action="/print/{critical}/alert.pdf"' in html and 'method="post"' in html
    assert "王秀英" not in html and FULL_PAYEE not in html
    assert client.get(f"/print/{critical}/alert.pdf").status_code == 405
    row = session_row(database, critical)
    assert row["alerts_printed"] == 0
    assert events(database, critical, "pii.accessed") == []
    assert events(database, critical, "print.alert") == []
    assert database["outbox"].count == 0


def test_printing_the_alert_needs_the_csrf_token(app, client, auth, database, critical):
    app.config["ALERT_ENDPOINT"] = "https://soc.bank.example/alerts"
    auth.login("supervisor")
    response = client.post(f"/print/{critical}/alert.pdf", data={})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert session_row(database, critical)["alerts_printed"] == 0
    assert database["outbox"].count == 0


def test_police_alert_has_the_facts_in_full_and_is_logged(client, auth, database, critical):
    auth.login("supervisor")
    response = print_alert(client, critical)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reference = session_row(database, critical)["reference"]
    assert f"警情通报单-{reference}.pdf" in unquote(response.headers["Content-Disposition"])
    text = pdf_text(response.data)
    for expected in (
        "警情通报单", reference, "演示银行", "沙河支行", FULL_PAYEE, "李四", "王秀英", CUSTOMER_ID,
        "13912345678", "¥200,000.00", "柜面转账", "极高风险", "冒充公检法", "广东省深圳市",
        "示例农商银行",
        "您好，请问这笔钱是转给谁、做什么用的？", "转到“安全账户”、配合调查",  # question, answer
        "转到公安的安全账户", "办理时一直在通话", "说对方要求保密",  # free answer, observations
        "要把钱转到安全账户配合调查",  # customer statement
        "系统处置建议", "办理结果：尚未记录", "打印人：supervisor名（SUPERVISOR）",
        "teller名（TELLER）",
    ):
        assert expected in text, expected

    row = session_row(database, critical)
    assert row["alerts_printed"] == 1 and row["in_queue"] == 1
    assert row["review_status"] == "pending"
    accessed = events(database, critical, "pii.accessed")
    assert len(accessed) == 1 and accessed[0]["purpose"] == "police_alert"
    assert set(accessed[0]["fields"]) == {"customer_name", "customer_id_number", "customer_phone",
                                          "payee_account", "payee_name"}
    ledger_text = json.dumps(events(database, critical), ensure_ascii=False)
    for secret in (FULL_PAYEE, "王秀英", CUSTOMER_ID, "13912345678"):
        assert secret not in ledger_text


def test_every_alert_print_and_reprint_is_logged(client, auth, database, critical):
    for role in ("supervisor", "security", "admin"):
        auth.login(role)
        assert print_alert(client, critical).status_code == 200, role
        auth.logout()
    assert session_row(database, critical)["alerts_printed"] == 3
    printed = events(database, critical, "print.alert")
    assert [(e["paper"], e["reprint"]) for e in printed] == \
        [("a4", False), ("a4", True), ("a4", True)]
    assert len(events(database, critical, "pii.accessed")) == 3
    assert events(database, critical, "alert.queued") == []  # no ALERT_ENDPOINT configured
    assert database["outbox"].count == 0


def test_a_teller_may_not_print_another_tellers_alert(app, client, auth, database):
    critical = make_session(app, database, "critical", teller="teller2")
    auth.login("teller")
    assert client.get(f"/print/{critical}/alert").status_code == 403
    token = csrf_token(client, "/screening/")
    assert client.post(f"/print/{critical}/alert.pdf",
                       data={"csrf_token": token}).status_code == 403
    assert events(database, critical, "pii.accessed") == []
    assert session_row(database, critical)["alerts_printed"] == 0


@pytest.mark.parametrize("level", ["low", "medium"])
def test_no_police_alert_below_high(app, client, auth, database, level):
    session_id = make_session(app, database, level)
    auth.login("supervisor")
    response = print_alert(client, session_id)
    assert response.status_code == 409
    assert "只有高风险、极高风险的问询才能打印警情通报单" in response.get_data(as_text=True)
    assert events(database, session_id, "pii.accessed") == []
    assert events(database, session_id, "print.alert") == []


def test_first_alert_queues_exactly_one_outbox_row_and_reprints_none(app, client, auth, database,
                                                                     critical):
    app.config["ALERT_ENDPOINT"] = "https://soc.bank.example/alerts"
    auth.login("supervisor")
    for _ in range(3):
        assert print_alert(client, critical).status_code == 200
    outbox_rows = list(database["outbox"].rows)
    assert len(outbox_rows) == 1
    row = outbox_rows[0]
    reference = session_row(database, critical)["reference"]
    assert row["kind"] == "police_alert" and row["status"] == "pending"
    assert row["attempts"] == 0 and row["session_id"] == critical
    assert row["idempotency_key"].endswith(f"-{reference}-alert-1")
    payload = json.loads(row["payload"])
    assert payload["idempotency_key"] == row["idempotency_key"]
    assert payload["reference"] == reference and payload["branch"] == "沙河支行"
    assert payload["customer"] == {"name": "王秀英", "id_number": CUSTOMER_ID,
                                   "phone": "13912345678"}
    assert payload["payee"]["account"] == FULL_PAYEE and payload["payee"]["name"] == "李四"
    assert payload["amount"] == "200000.00" and payload["level"] == "critical"
    assert payload["typologies"][0] == {"id": "gov_impersonation", "name": "冒充公检法"}
    assert {"question": "您好，请问这笔钱是转给谁、做什么用的？",
            "answer": "转到“安全账户”、配合调查"} in payload["answers"]
    assert "办理时一直在通话" in payload["observations"] and payload["reasons"]
    assert "安全账户配合调查" in payload["customer_statement"]
    assert payload["teller"] == "teller名（TELLER）" and payload["actions_taken"]

    # pii.accessed, print.alert and alert.queued were written together, in that order.
    kinds = [e["kind"] for e in events(database, critical)]
    first = kinds.index("pii.accessed")
    assert kinds[first:first + 3] == ["pii.accessed", "print.alert", "alert.queued"]
    assert kinds.count("alert.queued") == 1 and kinds.count("print.alert") == 3
    queued = events(database, critical, "alert.queued")[0]
    assert queued["idempotency_key"] == row["idempotency_key"]
    assert FULL_PAYEE not in json.dumps(queued)


def test_ledger_chain_still_verifies_after_prints(app, client, auth, database, critical):
    app.config["ALERT_ENDPOINT"] = "https://soc.bank.example/alerts"
    auth.login("security")
    client.get(f"/print/{critical}/slip.pdf")
    assert print_alert(client, critical).status_code == 200
    _, problems = audit.verify_chain(database, app.extensions["teller_guard"]["ledger_key"])
    assert problems == []


def test_outbox_page_for_security_and_admin_without_personal_data(app, client, auth, database,
                                                                  critical):
    app.config["ALERT_ENDPOINT"] = "https://soc.bank.example/alerts"
    auth.login("supervisor")
    assert print_alert(client, critical).status_code == 200
    assert client.get("/print/outbox").status_code == 403
    auth.logout()
    auth.login("teller")
    assert client.get("/print/outbox").status_code == 403
    auth.logout()
    for role in ("security", "admin"):
        auth.login(role)
        html = client.get("/print/outbox").get_data(as_text=True)
        assert "警情外发" in html and "待发送" in html
        assert session_row(database, critical)["reference"] in html
        assert "6217 **** **** 0123" in html
        for secret in (FULL_PAYEE, "王秀英", CUSTOMER_ID, "13912345678", "李四"):
            assert secret not in html
        auth.logout()


def test_outbox_page_names_a_plain_http_endpoint(app, client, auth):
    app.config["ALERT_ENDPOINT"] = "http://soc.bank.example/alerts"
    auth.login("admin")
    html = client.get("/print/outbox").get_data(as_text=True)
    assert "必须使用 https://" in html


def test_admins_see_the_font_warning(client, auth, monkeypatch):
    warning = FontStatus("STSong-Light", None, False, "未找到可嵌入的中文字体（测试）")
    monkeypatch.setattr(views.printing, "font_status", lambda: warning)
    auth.login("admin")
    assert "未找到可嵌入的中文字体（测试）" in client.get("/admin/").get_data(as_text=True)
    auth.logout()
    auth.login("security")
    assert "未找到可嵌入的中文字体" not in client.get("/print/outbox").get_data(as_text=True)


ALERT_FORM = '<form method="post" action="/print/{id}/alert.pdf"'


def test_result_page_links_to_the_pdfs(app, client, auth, database, critical):
    auth.login("supervisor")
    html = client.get(f"/screening/{critical}/result").get_data(as_text=True)
    assert f"/print/{critical}/slip.pdf" in html and ALERT_FORM.format(id=critical) in html


def test_only_the_slip_may_be_framed_and_only_by_this_site(client, auth, database, critical):
    """The result page prints the slip from a hidden frame of its own (issue 15, item 7); the
    police alert and every HTML page still refuse any frame."""
    auth.login("supervisor")
    slip = client.get(f"/print/{critical}/slip.pdf")
    assert slip.status_code == 200
    assert slip.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in slip.headers["Content-Security-Policy"]
    alert = print_alert(client, critical)
    assert alert.status_code == 200 and alert.mimetype == "application/pdf"
    assert alert.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in alert.headers["Content-Security-Policy"]
    page = client.get(f"/screening/{critical}/result")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_review_detail_links_to_the_alert_for_security(app, client, auth, database, critical):
    auth.login("security")
    html = client.get(f"/review/{critical}").get_data(as_text=True)
    assert ALERT_FORM.format(id=critical) in html


def test_content_module_needs_no_flask():
    code = ("import sys, teller_guard.printing_web.content; "
            "print('flask' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
