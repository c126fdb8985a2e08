"""Issue 15, items 2 and 7: the 高/极高 result page at 1366x768, and printing the slip in place.

The result leads with the level, the one script to read and the steps; the outcome form sits
beside them, reached in at most 3 Tabs from the focused level banner (or Alt+0, the skip link
that is the banner's first Tab stop); the reasons, the follow-up questions and the transaction
are folded. Page heights go to test-artifacts/result-page.json, the pages to PNGs.

Printing: headless Chromium cannot show a print dialog (calling print() on a PDF frame crashes
the headless renderer), so an init script replaces window.print in every frame with a counter;
what is tested is that the button loads the slip PDF into a hidden frame of the result page,
asks that frame to print once, records the print in the ledger as the PDF link does, and gives
the focus back to the button, without opening a tab or leaving the page.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .flow import KeyRecorder, expect_focus, login, session_id_of, tab_to, write_artifact

pytestmark = pytest.mark.browser

VIEWPORT_HEIGHT = 768
HIGH = {"#amount": "4万", "#payee_account": "6222 0299 1122 3355", "#customer_age": "45"}
HIGH_ANSWERS = (("answers.purpose", "investment"), ("answers.knows_payee", "in_person"),
                ("answers.relationship", "friend"), ("three_checks.paying_stranger", "false"),
                ("three_checks.possibly_scam", "unsure"), ("observations", "hurried"))
CRITICAL = {"#amount": "20万", "#payee_account": "6217001234567890124", "#payee_name": "李四",
            "#payee_city": "深圳市", "#customer_age": "66"}
CRITICAL_ANSWERS = (("answers.purpose", "safe_account"), ("answers.use_confirmed", "true"),
                    ("answers.knows_payee", "phone_only"), ("answers.relationship", "stranger"),
                    ("answers.verified_by_phone", "false"), ("three_checks.paying_stranger", "true"),
                    ("three_checks.possibly_scam", "no"), ("three_checks.family_consulted", "false"),
                    ("observations", "on_phone"))
LEVEL_WORDS = {"high": "高风险", "critical": "极高风险"}
# Headless Chromium has no print dialog: count the print() calls of each frame instead.
COUNT_PRINTS = """
window.print = function () {
  try { window.top.__prints = (window.top.__prints || []).concat([location.pathname]); }
  catch (error) { /* a frame of another origin: not ours */ }
};
"""
MEASURED: dict = {}


def screen(page, level: str) -> int:
    """A 高 or 极高 screening through the pages, as test_accessibility does; its id."""
    page.goto("/screening/new")
    for selector, value in (HIGH if level == "high" else CRITICAL).items():
        page.fill(selector, value)
    if level == "critical":
        page.select_option("#payee_province", "广东省")
        page.select_option("#occupation", "retired")
    page.check("#payee_known-1")
    page.click("#facts-form button[type=submit]")
    page.wait_for_url("**/questions")
    for name, value in (HIGH_ANSWERS if level == "high" else CRITICAL_ANSWERS):
        page.check(f"input[name='{name}'][value='{value}']")
    if level == "critical":
        page.fill("#purpose_text", "警官说我涉嫌洗钱，要把钱转到安全账户配合调查")
        page.fill("#destination-text", "转到公安的安全账户")
    page.click("#questions-form button.primary")
    page.wait_for_url("**/result")
    expect(page.locator(".result-banner .level-word")).to_have_text(LEVEL_WORDS[level])
    return session_id_of(page)


def top_of(page, selector: str) -> float:
    return page.locator(selector).first.bounding_box()["y"]


@pytest.mark.parametrize("level", ["high", "critical"])
def test_result_leads_with_action_script_and_outcome_and_folds_the_rest(page, level, artifacts):
    login(page, "teller")
    screen(page, level)
    keys = KeyRecorder(page)

    # The page opens on the level banner; the outcome is 3 Tabs away: 跳到记录办理结果, the
    # print button, the first outcome that may be chosen (已办理 waits for the supervisor).
    expect_focus(page, "#result-banner")
    expect(page.locator("#outcome-proceeded")).to_be_disabled()
    tabs = tab_to(keys, "#outcome-cancelled", 3)
    assert tabs <= 3

    # Or: the skip link is the banner's first Tab stop, and Enter then Tab lands on the outcome.
    page.locator("#result-banner").focus()
    keys.press("Tab")
    expect_focus(page, "#result-banner a.skip-to-outcome")
    expect(page.locator("#result-banner a.skip-to-outcome")).to_contain_text("Alt+0")
    keys.press("Enter")
    keys.press("Tab")
    expect_focus(page, "#outcome-cancelled")
    # The outcomes' access keys Alt+1 … Alt+5 are written beside them. (Playwright's keyboard
    # cannot trigger access keys: an Alt chord sends no character event, so only the markup is
    # checked here.)
    expect(page.locator("#outcome-cancelled")).to_have_attribute("accesskey", "2")
    expect(page.locator("#result-banner a.skip-to-outcome")).to_have_attribute("accesskey", "0")
    expect(page.locator("#outcome .shortcut-hint")).to_contain_text("Alt+1 至 Alt+5")

    # Reading order: level, the script, the steps with the print button, then the outcome; the
    # print button and the whole outcome form are on the first 1366x768 screen.
    page.evaluate("window.scrollTo(0, 0)")
    assert (top_of(page, "#result-banner") < top_of(page, "#primary-typology p.say")
            < top_of(page, "#steps ol.steps"))
    box = page.locator("#record-outcome").bounding_box()
    assert box["y"] + box["height"] <= VIEWPORT_HEIGHT
    printing = page.locator("#print-slip").bounding_box()
    assert printing["y"] + printing["height"] <= VIEWPORT_HEIGHT
    order = page.evaluate("""[...document.querySelectorAll(
        '#result-banner, #primary-typology, #steps, #outcome, #supervisor, details.fold')]
        .map(element => element.id)""")
    assert order[:5] == ["result-banner", "primary-typology", "steps", "outcome", "supervisor"]

    # The rest is folded and still there: the reasons, the follow-up questions, the facts.
    for name in ("reasons", "follow-up-questions", "facts-summary"):
        details = page.locator(f"details#{name}")
        expect(details).not_to_have_attribute("open", "")
    expect(page.locator("#reasons table.data")).not_to_be_visible()
    expect(page.locator("#reasons summary")).to_contain_text("评估依据")
    height = page.evaluate("document.body.scrollHeight")
    page.screenshot(path=str(artifacts / f"result-page-{level}.png"), full_page=True)
    page.locator("#reasons summary").click()
    expect(page.locator("#reasons table.data tbody tr").first).to_be_visible()
    page.locator("#facts-summary summary").click()
    expect(page.locator("#facts-summary dl.summary")).to_be_visible()
    page.locator("#follow-up-questions summary").click()
    expect(page.locator("#statement")).to_be_visible()
    assert Axe().run(page).violations_count == 0  # everything unfolded

    MEASURED[level] = {"scroll_height_px": height, "tabs_from_banner_to_outcome": tabs,
                       "outcome_form_bottom_px": round(box["y"] + box["height"]),
                       "scroll_height_all_open_px": page.evaluate("document.body.scrollHeight")}
    write_artifact("result-page.json", MEASURED)
    # Before: 2172 px (高) and 2298 px (极高), the outcome form at 1877 / 2003 px, 11 / 12 Tabs.
    assert height < 1400


def ledger_prints(app, session_id: int) -> list[dict]:
    with closing(sqlite3.connect(app.config["DATABASE"])) as connection:
        rows = connection.execute(
            "SELECT data FROM ledger WHERE session_id = ? AND kind = 'print.slip' ORDER BY id",
            [session_id]).fetchall()
    return [json.loads(data) for (data,) in rows]


def wait_for_prints(page, count: int, seconds: float = 5.0) -> None:
    """Wait until the page's frames have called print() `count` times (page.wait_for_function
    would evaluate a string, which the app's CSP forbids)."""
    for _ in range(int(seconds / 0.05)):
        if len(page.evaluate("window.__prints || []")) >= count:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"print() called {page.evaluate('window.__prints || []')}, "
                         f"expected {count} calls")


def test_print_button_prints_the_slip_without_leaving_the_result(page, live_app, artifacts):
    page.add_init_script(COUNT_PRINTS)
    login(page, "teller")
    session_id = screen(page, "high")
    result_url = page.url
    keys = KeyRecorder(page)
    expect_focus(page, "#result-banner")
    assert tab_to(keys, "#print-slip", 2) == 2  # skip link, then the print button
    assert ledger_prints(live_app, session_id) == []

    keys.press("Enter")
    wait_for_prints(page, 1)
    assert page.evaluate("window.__prints") == [f"/print/{session_id}/slip.pdf"]
    frame = page.locator("iframe#print-frame")
    expect(frame).to_have_count(1)
    assert frame.evaluate("f => f.contentDocument.contentType") == "application/pdf"
    assert frame.evaluate("f => new URL(f.src).pathname") == f"/print/{session_id}/slip.pdf"
    expect_focus(page, "#print-slip")  # back on the result, ready for the next key
    expect(page.locator("#print-status")).to_contain_text("已送去打印")
    assert page.url == result_url and len(page.context.pages) == 1
    assert ledger_prints(live_app, session_id) == [{"paper": "a5", "reprint": False}]
    page.screenshot(path=str(artifacts / "result-page-printed.png"))

    # Printing again (a click this time): a fresh frame replaces the old, a reprint is logged.
    page.locator("#print-slip").click()
    wait_for_prints(page, 2)
    expect(page.locator("iframe#print-frame")).to_have_count(1)
    expect_focus(page, "#print-slip")
    assert ledger_prints(live_app, session_id) == [{"paper": "a5", "reprint": False},
                                                   {"paper": "a5", "reprint": True}]


def test_a_slip_that_cannot_be_shown_in_the_page_says_so_and_prints_nothing(page, live_app):
    """No PDF in the frame (here: the server's answer is replaced by an HTML page): nothing is
    printed, the page says how to open the PDF in a tab, the button works again."""
    page.add_init_script(COUNT_PRINTS)
    login(page, "teller")
    session_id = screen(page, "critical")
    page.route(f"**/print/{session_id}/slip.pdf", lambda route: route.fulfill(
        status=409, content_type="text/html; charset=utf-8",
        body="<!doctype html><title>暂不能打印</title><p>暂不能打印</p>"))
    page.locator("#print-slip").click()
    expect(page.locator("#print-status")).to_contain_text("无法在本页打印风险提示单")
    expect(page.locator("#print-status")).to_have_class("hint print-status error")
    expect_focus(page, "#print-slip")
    expect(page.locator("#print-slip")).not_to_have_attribute("aria-disabled", "true")
    assert page.evaluate("window.__prints || []") == []
    assert ledger_prints(live_app, session_id) == []


@pytest.mark.browser_context_args(java_script_enabled=False)
def test_without_javascript_the_print_button_is_the_pdf_link(page, live_app):
    login(page, "teller")
    session_id = screen(page, "high")
    link = page.locator("#print-slip")
    expect(link).to_have_attribute("href", f"/print/{session_id}/slip.pdf")
    expect(link).to_have_attribute("target", "_blank")
    expect_focus(page, "#result-banner")  # autofocus needs no script
    assert page.locator("iframe").count() == 0
