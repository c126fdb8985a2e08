"""Issue 15 item 4 at a branch terminal (1366x768): a teller's 极高 case, the customer's details
the police alert needs, the alert printed by the teller, and 已报警 with the 接警回执号."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from printing_web_helpers import CUSTOMER_ID

from .flow import login, session_id_of, session_row

pytestmark = pytest.mark.browser

NAME, PHONE, RECEIPT = "王秀英", "13912345678", "JJ20261202-0031"
FACTS = {"#amount": "20万", "#payee_account": "6217 0099 8877 6655 443", "#payee_name": "李四",
         "#customer_age": "66"}  # no customer name, phone or ID at step 1


def ledger(app, session_id: int, kind: str) -> list[dict]:
    with closing(sqlite3.connect(app.config["DATABASE"])) as connection:
        rows = connection.execute("SELECT data FROM ledger WHERE session_id = ? AND kind = ? "
                                  "ORDER BY id", [session_id, kind]).fetchall()
    return [json.loads(data) for (data,) in rows]


def test_the_tellers_police_path(page, live_app, artifacts):
    login(page, "teller")
    page.goto("/screening/new")
    for selector, value in FACTS.items():
        page.fill(selector, value)
    page.select_option("#payee_province", "广东省")
    page.check("#payee_known-1")
    page.click("#facts-form button[type=submit]")
    page.wait_for_url("**/questions")
    page.check("input[name='answers.purpose'][value='safe_account']")
    page.fill("#purpose_text", "市公安局的警官打电话说我涉嫌洗钱，要把钱转到安全账户配合调查")
    for name, value in (("answers.use_confirmed", "true"), ("answers.knows_payee", "phone_only"),
                        ("answers.relationship", "stranger"),
                        ("answers.verified_by_phone", "false"),
                        ("three_checks.paying_stranger", "true"),
                        ("three_checks.possibly_scam", "no"),
                        ("three_checks.family_consulted", "false")):
        page.check(f"input[name='{name}'][value='{value}']")
    page.fill("#destination-text", "转到公安的安全账户")
    page.check("#obs-on_phone")
    page.click("#questions-form button.primary")
    page.wait_for_url("**/result")
    expect(page.locator(".level-word")).to_have_text("极高风险")
    session_id = session_id_of(page)
    page.screenshot(path=str(artifacts / "police-path-1-result.png"))

    # The teller's own alert: the button asks for the customer's details first.
    link = page.locator("#alert-customer-link")
    expect(link).to_be_visible()
    link.click()
    page.wait_for_url(f"**/print/{session_id}/alert")
    form = page.locator("#alert-customer-form")
    expect(form).to_be_visible()
    expect(page.locator("#customer_name")).to_be_focused()
    page.fill("#customer_name", NAME)
    page.fill("#customer_phone", PHONE)
    page.fill("#customer_id_number", CUSTOMER_ID[:-1] + ("1" if CUSTOMER_ID[-1] == "0" else "0"))
    form.locator("button[type=submit]").click()
    expect(page.locator("#customer_id_number-error")).to_have_text("身份证号校验位不正确，请核对")
    expect(page.locator("#customer_name")).to_have_value(NAME)  # kept
    page.screenshot(path=str(artifacts / "police-path-2-customer-errors.png"))
    assert Axe().run(page).violations_count == 0

    page.fill("#customer_id_number", CUSTOMER_ID)
    page.locator("#alert-customer-form button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("已补录客户信息")
    body = page.locator("main").inner_text()
    assert PHONE not in body and CUSTOMER_ID not in body and NAME not in body  # masked
    assert "139****5678" in body
    page.screenshot(path=str(artifacts / "police-path-3-ready-to-print.png"))

    with page.expect_response(lambda response: response.url.endswith(
            f"/print/{session_id}/alert.pdf")) as printed:
        page.get_by_role("button", name="打印警情通报单").click()
    assert printed.value.status == 200
    assert printed.value.headers["content-type"] == "application/pdf"
    assert session_row(live_app, session_id)["alerts_printed"] == 1
    assert [event["purpose"] for event in ledger(live_app, session_id, "pii.accessed")] == \
        ["police_alert"]

    # 已报警, with the receipt the police gave.
    page.goto(f"/screening/{session_id}/result")
    # The fields fold (the outcome form stays on the first screen) until 已报警 is chosen.
    expect(page.locator("#police-response-fields")).not_to_have_attribute("open", "")
    expect(page.locator("#police_receipt_no")).not_to_be_visible()
    page.check("#outcome-police_called")
    expect(page.locator("#police-response-fields")).to_have_attribute("open", "")
    expect(page.locator("#police-response-fields")).to_contain_text("本案已打印警情通报单")
    page.fill("#police_receipt_no", RECEIPT)
    page.locator("#outcome").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "police-path-4-outcome.png"))
    page.click("#record-outcome")
    page.wait_for_url("**/screening/")
    expect(page.locator(".flash")).to_contain_text("已报警")
    assert [event.get("police") for event in ledger(live_app, session_id, "screening.outcome")] \
        == [{"receipt_no": RECEIPT}]

    page.goto(f"/screening/{session_id}/result")
    expect(page.locator("#police-response")).to_have_text(f"警方接警：接警回执号 {RECEIPT}")
    page.screenshot(path=str(artifacts / "police-path-5-recorded.png"))
    assert Axe().run(page).violations_count == 0
