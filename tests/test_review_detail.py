"""One session's record: summary, reasons, answers and the ledger timeline in Chinese."""

import re

import pytest
from test_review_support import ledger_key, make_session, user_id

from teller_guard import audit, db
from teller_guard.review import timeline

pytestmark = pytest.mark.both_backends


def test_detail_shows_the_whole_session(app, client, auth, database):
    case = make_session(app, database, level="critical", override=True, outcome="proceeded",
                        vault={"customer_name": "张三丰"})
    teller = user_id(database, "teller")
    with db.write_transaction(database):
        for kind, data in (("print.slip", {"paper": "a5", "reprint": False}),
                           ("print.alert", {"paper": "a4", "reprint": True}),
                           ("alert.sent", {"endpoint": "反诈中心"})):
            audit.append(database, ledger_key(app), audit.AuditEvent(kind, teller, case, data))
    auth.login("supervisor")
    html = client.get(f"/review/{case}").get_data(as_text=True)
    for label in ("开始问询", "风险评估", "主管书面放行", "记录结果", "打印风险提示单", "打印警情通报单",
                  "警情已发送"):
        assert f'<th scope="row">{label}</th>' in html, label
    assert "极高风险，风险评分 90" in html and "规则版本 test-1" in html
    assert "客户称要转到“安全账户”" in html and "+60 分" in html  # reasons
    assert "<li>办理时一直在通话</li><li>说对方要求保密</li>" in html  # observations
    assert "<dt>转账目的</dt><dd>转到“安全账户”、配合调查</dd>" in html  # answer, short name
    assert "A4 纸（补打）" in html
    assert "主管书面放行" in html and "客户坚持" in html
    assert "张*" in html and "张三丰" not in html
    assert "客户姓名" in html and "页面只显示脱敏信息" in html
    times = re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td><th", html)
    assert len(times) == 7


def test_every_event_kind_has_a_chinese_description():
    names = {1: "王柜员"}
    samples = {
        "screening.step_saved": {"step": "facts", "fields": ["amount"]},
        "review.transition": {"from": "in_review", "to": "false_alarm", "note": "客户为购房"},
        "review.assigned": {"assignee_id": 1},
        "pii.accessed": {"fields": ["customer_name"], "purpose": "导出"},
        "screening.outcome": {"outcome": "delayed", "amount_fen": 150000, "duration_seconds": 75},
    }
    assert timeline.describe("screening.step_saved", samples["screening.step_saved"], names, {}) == \
        "交易信息；修改 1 项"
    assert timeline.describe("review.transition", samples["review.transition"], names, {}) == \
        "复核中 → 误报；备注：客户为购房"
    assert timeline.describe("review.assigned", samples["review.assigned"], names, {}) == "复核人：王柜员"
    assert timeline.describe("pii.accessed", samples["pii.accessed"], names, {}) == "用途：导出；字段：客户姓名"
    assert timeline.describe("screening.outcome", samples["screening.outcome"], names, {}) == \
        "改为延时到账；金额 1,500.00 元；用时 1 分 15 秒"


def test_damaged_stored_json_does_not_break_the_page(app, client, auth, database):
    case = make_session(app, database, level="high")
    database.execute("UPDATE sessions SET form = 'not json', assessment = '[1, 2]' WHERE id = ?", [case])
    auth.login("security")
    response = client.get(f"/review/{case}")
    assert response.status_code == 200
    assert "无法读取" in response.get_data(as_text=True)


def test_ledger_bytes_that_are_not_utf8_do_not_break_the_pages(app, client, auth, database,
                                                               backend):
    # Written around the app (verify reports it): the timeline and the access log still show.
    if backend == "postgresql":
        pytest.skip("PostgreSQL refuses text that is not UTF-8 when it is written")
    case = make_session(app, database, level="high")
    with db.write_transaction(database):
        audit.append(database, ledger_key(app), audit.AuditEvent(
            "pii.accessed", user_id(database, "admin"), case, {"fields": [], "purpose": "x"}))
    database.execute("UPDATE ledger SET data = CAST(x'7b22ff22' AS TEXT), "
                     "at = CAST(x'32303236ff' AS TEXT) WHERE session_id = ?", [case])
    auth.login("security")
    for path in (f"/review/{case}", "/review/access-log"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "\ufffd" in response.get_data(as_text=True)
