"""A real browser shows the Chinese login page, and each role lands on its own home page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .flow import PASSWORDS

pytestmark = pytest.mark.browser

HOMES = {
    "teller": ("/screening/", "我的问询"),
    "supervisor": ("/screening/", "我的问询"),
    "security": ("/review/", "待复核"),
    "admin": ("/admin/", "用户管理"),
}


@pytest.mark.parametrize("username", list(HOMES))
def test_each_role_lands_on_its_home(page, username):
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("#username", username)
    page.fill("#password", PASSWORDS[username])
    page.press("#password", "Enter")
    path, heading = HOMES[username]
    page.wait_for_url(f"**{path}")
    expect(page.locator("h1")).to_contain_text(heading)
