"""At a branch terminal's 1366x768: a teller discards a screening the customer walked away
from (reason, confirmation, gone from 未完成 and from 今日), and a 2000万 amount is taken only
after the tick beside the amount in capitals, with everything typed kept.

Screenshots go to test-artifacts/teller-desk-*.png, what was seen to teller-desk.json.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .flow import login, session_id_of, session_row, write_artifact

pytestmark = pytest.mark.browser

FACTS = {"#amount": "3000", "#payee_account": "6222 0288 7766 1357", "#customer_age": "45",
         "#customer_name": "欧阳娜娜", "#customer_phone": "13912345678"}


def start(page, facts: dict) -> None:
    page.goto("/screening/new")
    for selector, value in facts.items():
        page.fill(selector, value)
    page.check("#payee_known-2")
    page.click("#facts-form button[type=submit]")


def test_discard_an_unfinished_screening(new_context, live_app, artifacts):
    page = new_context().new_page()
    page.set_default_timeout(5000)
    login(page, "teller")
    start(page, FACTS)
    page.wait_for_url("**/questions")
    session_id = session_id_of(page)
    reference = session_row(live_app, session_id)["reference"]

    page.goto("/screening/")
    row = page.locator("table.data tbody tr", has_text=reference)
    expect(row).to_contain_text("欧***")
    expect(row).to_contain_text("6222 **** **** 1357")
    expect(row).not_to_contain_text("欧阳娜娜")
    today_before = page.locator("#today-summary").inner_text()
    page.screenshot(path=str(artifacts / "teller-desk-01-mine.png"))

    page.get_by_role("link", name=f"作废 {reference}").click()
    expect(page.locator("#discard-title")).to_contain_text(reference)
    expect(page.locator("#cancel")).to_be_focused()  # Enter alone does not discard
    page.screenshot(path=str(artifacts / "teller-desk-02-discard-confirm.png"))
    page.click("#confirm-discard")
    expect(page.locator("#reason-error")).to_be_visible()
    page.check("input[name=reason][value=other]")
    page.click("#confirm-discard")
    expect(page.locator("#note-error")).to_contain_text("请写明原因")
    page.screenshot(path=str(artifacts / "teller-desk-03-discard-errors.png"))
    page.fill("#note", "客户接到家人电话后离开")
    page.click("#confirm-discard")
    page.wait_for_url("**/screening/")
    expect(page.locator(".flashes")).to_contain_text(f"问询 {reference} 已作废")
    expect(page.locator("table.data tbody tr", has_text=reference)).to_have_count(0)
    today_after = page.locator("#today-summary").inner_text()
    page.screenshot(path=str(artifacts / "teller-desk-04-discarded.png"))
    assert session_row(live_app, session_id)["status"] == "discarded"

    page.goto(f"/screening/{session_id}/questions")
    page.wait_for_url("**/screening/")
    expect(page.locator(".flashes")).to_contain_text("该问询已作废")

    page.goto(f"/screening/search?reference={reference[-6:]}")
    expect(page.locator("table.data tbody tr", has_text=reference)).to_contain_text("已作废")
    page.screenshot(path=str(artifacts / "teller-desk-05-search.png"))
    before = int(re.search(r"问询\s*(\d+)", today_before).group(1))
    after = int(re.search(r"问询\s*(\d+)", today_after).group(1))
    assert after == before - 1
    write_artifact("teller-desk.json", {"today_before": today_before, "today_after": today_after})


def test_a_huge_amount_needs_the_tick(new_context, live_app, artifacts):
    page = new_context().new_page()
    page.set_default_timeout(5000)
    login(page, "teller")
    start(page, {**FACTS, "#amount": "2000万", "#payee_name": "李四"})
    error = page.locator("#amount_confirmed-error")
    expect(error).to_contain_text("贰仟万元整")
    expect(error).to_contain_text("20,000,000.00")
    expect(page.locator("#amount_confirmed")).to_be_focused()
    expect(page.locator("#payee_name")).to_have_value("李四")  # what was typed is kept
    expect(page.locator("#customer_name")).to_have_value("欧阳娜娜")
    box = page.locator("#amount_confirmed").bounding_box()
    assert box and box["y"] + box["height"] <= 768, box  # the tick is on the first screen
    page.screenshot(path=str(artifacts / "teller-desk-06-huge-amount.png"))
    page.keyboard.press("Space")
    page.click("#facts-form button[type=submit]")
    page.wait_for_url("**/questions")
    assert session_row(live_app, session_id_of(page))["amount_fen"] == 2_000_000_000
