"""A story with the words of several scams: the result leads with one primary typology and its
script, folds the others under 也可能是, and asks only the primary's follow-ups (and the API says
the same)."""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from teller_guard.risk import default_rules

from .flow import KeyRecorder, expect_focus, login, session_id_of, session_row, tab_to

pytestmark = pytest.mark.browser

TASK_STORY = "客服说刷单任务没做完，要充值投资平台才能提现，不然影响征信"
FOLLOW_UP_ANSWER = "对方让先垫付三单，说做完才能提现"


def test_result_names_one_primary_typology_and_folds_the_others(page, live_app, artifacts):
    login(page, "teller")
    page.goto("/screening/new")
    page.fill("#amount", "3万")
    page.fill("#payee_account", "6222 0277 1234 5678")
    page.fill("#customer_age", "29")
    page.check("#payee_known-1")  # first time to this payee
    page.click("#facts-form button[type=submit]")
    page.wait_for_url("**/questions")
    for name, value in (("answers.purpose", "online_task"), ("answers.knows_payee", "online_only"),
                        ("answers.relationship", "online_contact"),
                        ("three_checks.paying_stranger", "true"), ("three_checks.possibly_scam", "no")):
        page.check(f"input[name='{name}'][value='{value}']")
    page.fill("#purpose_text", TASK_STORY)
    page.click("#questions-form button.primary")
    page.wait_for_url("**/result")

    # with other scam types folded on the right, the outcome is still 3 Tabs from the banner
    expect_focus(page, "#result-banner")
    assert tab_to(KeyRecorder(page), "#outcome input[type=radio]:not(:disabled)", 3) <= 3

    rules = default_rules()
    task = rules.typology_by_id["task_rebate"]
    primary = page.locator("#primary-typology")
    expect(primary.locator("h2")).to_have_text(f"疑似诈骗类型：{task.name_zh}")
    # the primary's script is the first script on the page, before anything folded
    expect(primary.locator("p.say").first).to_have_text(task.teller_script_zh)
    also = page.locator("details.also")  # folded with the rest, after the outcome
    expect(also.locator("summary")).to_contain_text("也可能是")
    expect(also).not_to_have_attribute("open", "")
    others = also.locator("article.typology h3")
    assert 1 <= others.count() <= 2
    assert task.name_zh not in others.all_inner_texts()
    expect(also.locator("article.typology").first).not_to_be_visible()  # folded until opened

    # the follow-up questions fold under their count, below the outcome (issue 15, item 2)
    folded = page.locator("details#follow-up-questions")
    expect(folded).not_to_have_attribute("open", "")
    expect(folded.locator("summary")).to_contain_text("请继续追问")
    folded.locator("summary").click()
    follow_ups = page.locator("ol.followups > li")
    assert 1 <= follow_ups.count() <= 3
    task_questions = {rules.question_by_id[q].text_zh for q in task.follow_ups}
    assert {text.split("\n")[0] for text in follow_ups.locator("strong").all_inner_texts()} <= task_questions

    also.locator("summary").click()
    expect(also.locator("article.typology").first).to_be_visible()
    assert Axe().run(page).violations_count == 0

    # The stored record (what the review queue, the slip and the API read) has the same primary.
    row = session_row(live_app, session_id_of(page))
    assert row["typology"] == "task_rebate"
    assert json.loads(row["assessment"])["primary_typology"] == "task_rebate"

    # 记录回答并重新评估: the re-scored page says what was recorded and what it changed.
    asked = [text.split("\n")[0] for text in follow_ups.locator("strong").all_inner_texts()]
    level_before = page.locator(".level-word").inner_text()
    expect(page.locator("#follow-up-record")).to_have_count(0)
    page.fill("#statement", FOLLOW_UP_ANSWER)
    page.get_by_role("button", name="记录回答并重新评估").click()
    record = page.locator("#follow-up-record")
    expect(record).to_be_visible()
    level_after = page.locator(".level-word").inner_text()
    words = (f"等级未变（{level_after}）" if level_after == level_before
             else f"{level_before} → {level_after}")
    expect(record.locator("h2 .level-change")).to_have_text(words)
    expect(page.locator(".flash")).to_contain_text(words)
    # the questions and the answer fold under the headline: the outcome stays on the first screen
    detail = record.locator("details.follow-up-detail")
    expect(detail).not_to_have_attribute("open", "")
    outcome = page.locator("#record-outcome").bounding_box()
    assert outcome["y"] + outcome["height"] <= 768
    page.screenshot(path=str(artifacts / "result-after-follow-up.png"))
    detail.locator("summary").first.click()
    expect(record.locator("dd.statement")).to_have_text(FOLLOW_UP_ANSWER)
    assert record.locator("dl.follow-up ol > li").all_inner_texts() == asked
    assert Axe().run(page).violations_count == 0
