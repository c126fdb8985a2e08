"""Issue 15 item 1 in a real browser: the idle warning, its one-key extension, and answers that
outlive the idle logout.

The app here has an idle limit of seconds (SESSION_IDLE_MINUTES only takes whole minutes in a
config file, so it is set on the app object), served from its own thread like the live app."""

from __future__ import annotations

import shutil
import threading

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from werkzeug.serving import make_server

from teller_guard import create_app

from .flow import PASSWORDS, session_id_of, write_artifact

pytestmark = pytest.mark.browser

IDLE_SECONDS = 12
WARN_SECONDS = 6
WAIT_MS = 30_000  # the most any wait below may take before the test fails
FACTS = {"#amount": "3000", "#payee_account": "6222 0288 7766 5544", "#customer_age": "45"}


@pytest.fixture(scope="module")
def short_idle_server(tmp_path_factory, template_instance):
    instance = tmp_path_factory.mktemp("idle") / "instance"
    shutil.copytree(template_instance, instance)
    from conftest import TEST_CONFIG  # tests/conftest.py

    app = create_app({**TEST_CONFIG, "SESSION_IDLE_WARNING_SECONDS": WARN_SECONDS},
                     instance_path=instance)
    app.config["SESSION_IDLE_MINUTES"] = IDLE_SECONDS / 60
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="idle-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def open_page(browser, browser_context_args, short_idle_server):
    """A page of its own context on the short-idle app (`javascript`: on or off)."""
    contexts = []

    def open_(javascript: bool = True):
        args = {**browser_context_args, "base_url": short_idle_server,
                "java_script_enabled": javascript}
        contexts.append(browser.new_context(**args))
        page = contexts[-1].new_page()
        page.set_default_timeout(5000)
        return page

    yield open_
    for context in contexts:
        context.close()


def log_in(page, username: str = "teller") -> None:
    page.fill("#username", username)
    page.fill("#password", PASSWORDS[username])
    page.press("#password", "Enter")


def start_screening(page) -> int:
    page.goto("/login")
    log_in(page)
    page.wait_for_url("**/screening/")
    page.goto("/screening/new")
    for selector, value in FACTS.items():
        page.fill(selector, value)
    page.check("#payee_known-2")
    page.click("#facts-form button[type=submit]")
    page.wait_for_url("**/questions")
    return session_id_of(page)


def answer_some(page) -> None:
    page.check("input[name='answers.purpose'][value='family_living']")
    page.fill("#purpose_text", "给女儿交大学学费")
    page.check("input[name='three_checks.possibly_scam'][value='no']")


def expect_answers_kept(page) -> None:
    expect(page.locator("input[name='answers.purpose'][value='family_living']")).to_be_checked()
    expect(page.locator("#purpose_text")).to_have_value("给女儿交大学学费")
    expect(page.locator("input[name='three_checks.possibly_scam'][value='no']")).to_be_checked()


def test_the_warning_comes_before_the_limit_and_one_key_keeps_the_login(
        open_page, artifacts):
    page = open_page()
    start_screening(page)
    answer_some(page)
    expect(page.locator("#autosave-status")).to_contain_text("已自动保存")
    dialog = page.get_by_role("alertdialog", name="即将因长时间未操作自动退出")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#idle-extend")).to_be_focused()
    expect(page.locator("#idle-countdown")).to_contain_text("秒")
    page.screenshot(path=str(artifacts / "idle-warning.png"))
    axe = Axe().run(page, options={"resultTypes": ["violations"]}).response["violations"]
    blocking = [item["id"] for item in axe if item["impact"] in ("serious", "critical")]
    write_artifact("idle-warning-axe.json", {"violations": [
        {"id": item["id"], "impact": item["impact"]} for item in axe]})
    assert blocking == []

    page.keyboard.press("Enter")  # the one key
    expect(dialog).to_be_hidden()
    # The warning comes again only after another quiet spell; extending a second time, past
    # the first limit, still works: the first key press restarted the limit on the server.
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    page.check("input[name='answers.knows_payee'][value='in_person']")
    page.check("input[name='answers.relationship'][value='family']")
    page.check("input[name='three_checks.paying_stranger'][value='false']")
    page.click("#questions-form button.primary")
    page.wait_for_url("**/result")  # still logged in: not the login page
    expect(page.locator(".level-word")).to_have_text("低风险")


def test_after_the_limit_the_teller_logs_in_again_and_finds_the_answers(
        open_page):
    page = open_page()
    session_id = start_screening(page)
    answer_some(page)
    expect(page.locator("#autosave-status")).to_contain_text("已自动保存")
    ended = page.get_by_role("alertdialog", name="已因长时间未操作自动退出")
    expect(ended).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#idle-extend")).to_have_text("重新登录")
    page.keyboard.press("Enter")
    page.wait_for_url("**/login")
    expect(page.locator(".error.banner, .error")).to_contain_text("已自动退出")
    log_in(page)
    page.wait_for_url(f"**/screening/{session_id}/questions")
    expect(page.locator(".draft-note")).to_contain_text("自动保存")
    expect_answers_kept(page)


def test_without_javascript_a_form_posted_after_the_limit_is_kept(
        open_page):
    page = open_page(javascript=False)
    session_id = start_screening(page)
    answer_some(page)
    page.wait_for_timeout((IDLE_SECONDS + 2) * 1000)  # the customer is still talking
    page.click("#questions-form button.primary")
    page.wait_for_url("**/login")
    expect(page.locator("main")).to_contain_text("刚才填写的内容已保存")
    log_in(page)
    page.wait_for_url(f"**/screening/{session_id}/questions")
    expect_answers_kept(page)
