"""At a branch terminal's 1366x768: the menu stays on one line whatever the bank's name, and a
user whose password the admin set is led to 修改密码 and changes it with the keyboard alone.

Boxes are read with Playwright's bounding_box (no page script). Screenshots go to
test-artifacts/; the measured heights to test-artifacts/menu.json.
"""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from .flow import KeyRecorder, expect_focus, login, tab_to, write_artifact

pytestmark = pytest.mark.browser

BANK = "中国农业银行股份有限公司广州市天河区分行"  # a real bank's full name runs to 20 characters
BRANCH = "天河区体育西路支行营业部"
assert (len(BANK), len(BRANCH)) == (20, 12)

MENUS = {  # the menu items each role sees, in order
    "admin": ["待复核", "统计", "涉诈名单", "警情外发", "导出与查阅记录", "用户管理", "网点设置", "接口令牌"],
    "security": ["待复核", "统计", "涉诈名单", "警情外发", "导出与查阅记录"],
    "supervisor": ["我的问询", "待主管处理", "待复核", "统计"],
    "teller": ["我的问询"],
}


def save_names(page, bank: str, branch: str) -> tuple[str, str]:
    """Set the bank and branch names on 网点设置; returns the names there before."""
    page.goto("/admin/settings")
    before = (page.input_value("#bank_name"), page.input_value("#branch_name"))
    page.fill("#bank_name", bank)
    page.fill("#branch_name", branch)
    page.click("main form button[type=submit]")
    expect(page.locator(".flashes")).to_contain_text("网点设置")
    return before


def measure(page) -> dict:
    links = page.locator(".mainnav > a")
    boxes = [links.nth(index).bounding_box() for index in range(links.count())]
    nav, header = page.locator(".mainnav").bounding_box(), page.locator(".topbar").bounding_box()
    brand, whoami = page.locator(".brand").bounding_box(), page.locator(".whoami").bounding_box()
    return {"items": [links.nth(index).inner_text().split()[0] for index in range(links.count())],
            "tops": sorted({round(box["y"]) for box in boxes}),
            "item_height": max(box["height"] for box in boxes),
            "nav": nav, "header": header, "brand": brand, "whoami": whoami,
            "nav_right": max(box["x"] + box["width"] for box in boxes)}


def test_the_menu_stays_on_one_line_at_1366(new_context, artifacts):
    admin = new_context().new_page()
    login(admin, "admin")
    before = save_names(admin, BANK, BRANCH)
    measured = {}
    try:
        pages = {"admin": admin}
        for role in ("security", "supervisor", "teller"):
            pages[role] = new_context().new_page()
            login(pages[role], role)
        for role, page in pages.items():
            page.goto("/")
            expect(page.locator(".brand-bank")).to_have_text(BANK)
            expect(page.locator(".brand-office")).to_have_text(BRANCH)
            page.screenshot(path=str(artifacts / f"menu-1366-{role}.png"))
            found = measure(page)
            measured[role] = {"header_height": round(found["header"]["height"]),
                              "nav_height": round(found["nav"]["height"]),
                              "item_height": round(found["item_height"])}
            assert found["items"] == MENUS[role]
            # One line: every item at the same height, each item's words on one line (27 px at
            # 18 px type; squeezed, they stood one character a line, 108 px), the menu no
            # taller than one item...
            assert len(found["tops"]) == 1, (role, found["tops"])
            assert found["item_height"] < 40, (role, found)
            assert found["nav"]["height"] <= found["item_height"] + 1, (role, found)
            # ...on the same row as the names and the user, none of them overlapping.
            for other in ("brand", "whoami"):
                box = found[other]
                assert box["y"] < found["nav"]["y"] + found["nav"]["height"], (role, other)
                assert found["nav"]["y"] < box["y"] + box["height"], (role, other)
            assert found["brand"]["x"] + found["brand"]["width"] <= found["nav"]["x"]
            assert found["nav_right"] <= found["whoami"]["x"], (role, found)
            assert found["whoami"]["x"] + found["whoami"]["width"] <= 1366
            assert found["header"]["height"] <= 64, (role, found["header"])
    finally:
        save_names(admin, *before)
    write_artifact("menu.json", measured)


def test_a_new_user_changes_the_admins_password_first_by_keyboard(new_context, artifacts):
    admin = new_context().new_page()
    login(admin, "admin")
    username = f"new{secrets.token_hex(3)}"
    admin.goto("/admin/")
    admin.fill("#username", username)
    admin.fill("#display_name", "新柜员")
    admin.fill("#staff_no", "T0901")
    admin.select_option("#role", "teller")
    admin.click("form.grid-form button[type=submit]")
    initial = re.search(r"初始密码：(\w+)", admin.locator(".flashes").inner_text()).group(1)
    expect(admin.get_by_text("待本人修改初始密码")).to_be_visible()

    page = new_context(java_script_enabled=False).new_page()
    keys = KeyRecorder(page)
    page.goto("/login")
    expect_focus(page, "#username")
    keys.type(username)
    keys.press("Tab")
    keys.type(initial)
    keys.press("Enter")
    page.wait_for_url("**/account/password")
    expect(page.locator("#forced-note")).to_be_visible()
    expect(page.locator(".mainnav")).to_have_count(0)
    page.screenshot(path=str(artifacts / "password-forced.png"))

    page.goto("/screening/new")  # every other page leads back here
    page.wait_for_url("**/account/password")

    expect_focus(page, "#current_password")
    keys.type(initial)
    keys.press("Tab")
    keys.type("my-own-secret-1")
    assert tab_to(keys, "#new_password_again", 1) == 1
    keys.type("my-own-secret-2")  # a typo: said, and nothing changes
    keys.press("Enter")
    expect(page.locator("#new_password_again-error")).to_have_text("两次输入的新密码不一致")
    expect_focus(page, "#current_password")  # password fields come back empty: from the top
    keys.type(initial)
    keys.press("Tab")
    keys.type("my-own-secret-1")
    keys.press("Tab")
    keys.type("my-own-secret-1")
    keys.press("Enter")
    page.wait_for_url("**/screening/")
    expect(page.locator(".flashes")).to_contain_text("密码已修改")
    expect(page.locator(".mainnav")).to_contain_text("我的问询")

    page.locator(".whoami button").click()
    page.wait_for_url("**/login")
    page.fill("#username", username)
    page.fill("#password", "my-own-secret-1")
    page.press("#password", "Enter")
    page.wait_for_url("**/screening/")  # no detour any more
    admin.goto("/admin/")
    expect(admin.get_by_text("待本人修改初始密码")).to_have_count(0)
