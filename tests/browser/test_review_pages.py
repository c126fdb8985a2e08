"""Issue 15 item 11 at 1366x768: the review record fits the screen, the queue shows eight
cases and more under its filters, a case closes in one step and 下一条 opens the next, a
refused close puts the focus on the field, and a search keeps its terms out of the URL."""

from __future__ import annotations

import pytest
from conftest import open_database  # tests/conftest.py
from playwright.sync_api import expect
from test_review_support import make_session

from .conftest import VIEWPORT
from .flow import expect_focus, login, session_row, write_artifact

pytestmark = pytest.mark.browser

WORDS = ("警官说我涉嫌洗钱，要把钱转到安全账户配合调查，不能告诉家里人，他们在电话里一直催我今天必须"
         "转完，否则就要冻结我的全部账户并上门抓人。") * 2
FORM = {
    "facts": {"amount": "200000.00", "channel": "counter_transfer",
              "payee_account": "6217 **** **** 0123", "payee_name": "李*", "payee_city": "深圳市",
              "customer_name": "王**", "customer_id_number": "110***********123X",
              "customer_age": 66},
    "answers": {
        "answers": {"purpose": "safe_account", "purpose_text": WORDS, "use_confirmed": False,
                    "destination_text": "转到公安的安全账户", "knows_payee": "phone_only",
                    "relationship": "stranger", "verified_by_phone": False},
        "three_checks": {"paying_stranger": True, "possibly_scam": "no", "family_consulted": False},
        "observations": ["on_phone", "told_keep_secret", "hurried", "remote_app"]},
}
SEARCHED_TAIL = "9371"


@pytest.fixture(scope="module")
def cases(live_app):
    """Twelve queued cases as the screening writes them, every third a supervisor override,
    and one whose payee account ends in SEARCHED_TAIL."""
    database = open_database(live_app)
    try:
        made = [make_session(live_app, database, level="critical" if index % 2 else "high",
                             form=FORM, override=index % 3 == 0, customer_masked="王**",
                             payee_masked=f"6217 **** **** {SEARCHED_TAIL if index == 4 else '0123'}",
                             started_at=f"2026-11-{index + 1:02d}T10:{index:02d}:00+08:00")
                for index in range(12)]
    finally:
        database.conn.close()
    return made


def measure(page) -> dict:
    return page.evaluate("""() => ({
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
        visibleRows: [...document.querySelectorAll('table.queue-table tbody tr')]
            .filter(row => row.getBoundingClientRect().bottom <= window.innerHeight).length,
    })""")


def test_the_review_record_fits_1366_and_names_each_answer_once(page, live_app, cases, artifacts):
    login(page, "security")
    page.goto(f"/review/{cases[5]}")
    figures = measure(page)
    assert figures["scrollWidth"] <= VIEWPORT["width"], figures
    answers = page.locator("dl.facts.answers")
    names = answers.locator("dt").all_inner_texts()
    assert len(names) == len(set(names)) == 10, names
    assert "purpose_text" not in page.locator("main").inner_text()
    words = answers.locator("dd", has_text="警官说我涉嫌洗钱")
    box = words.bounding_box()
    assert box["width"] > 400 and box["x"] + box["width"] <= VIEWPORT["width"], box
    page.screenshot(path=str(artifacts / "review-record-1366.png"), full_page=True)
    write_artifact("review-record-1366.json", {"session": cases[5], **figures,
                                               "answer_names": names, "answer_box": box})


def test_the_queue_shows_eight_cases_and_more_at_1366x768(page, cases, artifacts):
    login(page, "security")
    page.goto("/review/")
    figures = measure(page)
    assert figures["visibleRows"] >= 8, figures
    assert figures["scrollWidth"] <= VIEWPORT["width"], figures
    expect(page.locator("table.queue-table .override-mark").first).to_have_text("主管书面放行")
    page.screenshot(path=str(artifacts / "review-queue-1366x768.png"))
    write_artifact("review-queue-1366x768.json", figures)


def test_close_in_one_step_then_the_next_case(page, live_app, cases, artifacts):
    login(page, "security")
    case = cases[7]
    page.goto(f"/review/{case}?level=critical")
    reference = session_row(live_app, case)["reference"]
    page.check("#close-dissuaded")
    page.fill("#close-note", "客户子女到场，客户放弃转账")
    page.click("#close-next")
    expect(page.locator(".flashes")).to_contain_text(f"业务 {reference} 已结案：成功劝阻")
    next_id = int(page.url.split("/review/", 1)[1].split("?", 1)[0])
    assert page.url.endswith("?level=critical") and next_id != case
    assert session_row(live_app, case)["review_status"] == "dissuaded"
    following = session_row(live_app, next_id)
    assert following["level"] == "critical" and following["review_status"] == "pending"
    expect(page.locator("h1")).to_contain_text(following["reference"])
    page.screenshot(path=str(artifacts / "review-close-next.png"))


def test_a_refused_close_puts_the_focus_on_the_note(page, live_app, cases, artifacts):
    login(page, "security")
    case = cases[9]
    page.goto(f"/review/{case}")
    page.check("#close-false_alarm")
    page.click("#close-next")
    expect_focus(page, "#close-note")
    error = page.locator("#close-note-error")
    expect(error).to_have_text("结案必须填写复核备注")
    box, note = error.bounding_box(), page.locator("#close-note").bounding_box()
    assert 0 <= note["y"] and box["y"] + box["height"] <= VIEWPORT["height"], (note, box)
    assert abs(box["y"] - note["y"]) < 200  # the message is at its field
    expect(page.locator("#close-false_alarm")).to_be_checked()  # the choice is kept
    assert session_row(live_app, case)["review_status"] == "pending"
    page.screenshot(path=str(artifacts / "review-close-error-focus.png"))


def test_search_by_account_tail_keeps_it_out_of_the_url(page, live_app, cases, artifacts):
    login(page, "security")
    page.goto("/review/")
    page.fill("#account_tail", SEARCHED_TAIL)
    page.click("#search-form button[type=submit]")
    page.wait_for_url("**/review/?search=1")
    assert SEARCHED_TAIL not in page.url
    expect(page.locator("table.queue-table tbody tr")).to_have_count(1)
    expect(page.locator("table.queue-table tbody")).to_contain_text(
        session_row(live_app, cases[4])["reference"])
    expect(page.locator(".search-active")).to_contain_text(f"收款账号尾号 {SEARCHED_TAIL}")
    page.screenshot(path=str(artifacts / "review-search.png"))
    page.click(".search-active button")
    page.wait_for_url("**/review/")
    assert measure(page)["visibleRows"] >= 8
