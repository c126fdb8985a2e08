"""Typing pinyin picks a province on 新建问询 (static/js/typeahead.js), in Chromium with
JavaScript on; test_keyboard_flow.py covers the same select with JavaScript off."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .flow import login, session_id_of, session_row

pytestmark = pytest.mark.browser

PAUSE_SECONDS = 1.1  # typeahead.js starts a new word after a pause of one second


@pytest.fixture
def province(page, live_app):
    problems = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    login(page, "teller")
    page.goto("/screening/new")
    select = page.locator("#payee_province")
    select.focus()
    yield select
    assert problems == []  # no script error, no CSP violation


def type_word(page, letters: str) -> None:
    page.wait_for_timeout(PAUSE_SECONDS * 1000)
    page.keyboard.type(letters)  # one key after another, well within the second


def test_initials_and_pinyin_pick_the_province(page, province):
    type_word(page, "gd")
    expect(province).to_have_value("广东省")
    type_word(page, "hub")
    expect(province).to_have_value("湖北省")
    type_word(page, "shaa")
    expect(province).to_have_value("陕西省")


def test_shared_initials_take_the_first_in_list_order(page, province):
    # The branch's 河北省 is listed first, so "hb" is the branch's own province.
    type_word(page, "hb")
    expect(province).to_have_value("河北省")
    type_word(page, "hn")
    expect(province).to_have_value("河南省")


def test_letters_that_match_nothing_keep_the_choice(page, province):
    type_word(page, "cq")
    expect(province).to_have_value("重庆市")
    type_word(page, "v")
    expect(province).to_have_value("重庆市")


def test_the_picked_province_is_submitted(page, province, live_app):
    type_word(page, "gd")
    page.fill("#amount", "3000")
    page.fill("#payee_account", "6222021234567890")
    page.fill("#customer_age", "45")
    page.locator("#payee_known-2").check()
    page.locator("#facts-form button[type=submit]").click()
    page.wait_for_url("**/screening/*/questions")
    form = json.loads(session_row(live_app, session_id_of(page))["form"])
    assert form["facts"]["payee_province"] == "广东省"
