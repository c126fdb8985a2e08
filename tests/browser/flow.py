"""Helpers for driving the screening pages in a real browser (shared by the browser tests)."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from conftest import PASSWORDS  # tests/conftest.py
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def is_focused(page, selector: str) -> bool:
    """True when the element matching `selector` has the focus (answers at once, no waiting;
    uses no page JavaScript, so it works with JavaScript turned off)."""
    return page.locator(f"{selector}:focus").count() > 0


def describe_focus(page) -> str:
    element = page.locator(":focus")
    if element.count() == 0:
        return "nothing (the page itself)"
    element = element.first
    return (f"id={element.get_attribute('id')!r} name={element.get_attribute('name')!r} "
            f"text={element.inner_text()[:30]!r}")


def tab_to(keys, selector: str, max_tabs: int, back: bool = False) -> int:
    """Press Tab (Shift+Tab when `back`) until `selector` has the focus; fail after max_tabs."""
    key = "Shift+Tab" if back else "Tab"
    for count in range(1, max_tabs + 1):
        keys.press(key)
        if is_focused(keys.page, selector):
            return count
    raise AssertionError(f"{selector} not reached with {max_tabs} x {key}; the focus is on "
                         f"{describe_focus(keys.page)}")


def expect_focus(page, selector: str, seconds: float = 2.0) -> None:
    """Wait briefly for the focus (autofocus runs just after the page has loaded)."""
    for _ in range(int(seconds / 0.02)):
        if is_focused(page, selector):
            return
        page.wait_for_timeout(20)
    raise AssertionError(f"expected the focus on {selector}, it is on {describe_focus(page)}")


def login_by_keyboard(page, keys, username: str) -> None:
    """Log in typing only: the user name field has the focus when the page opens."""
    page.goto("/login")
    expect_focus(page, "#username")
    keys.type(username)
    keys.press("Tab")
    expect_focus(page, "#password")
    keys.type(PASSWORDS[username])
    keys.press("Enter")
    page.wait_for_url("**/screening/")


def login(page, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORDS[username])
    page.click("button[type=submit]")
    expect(page.locator(".whoami")).to_contain_text(f"{username}名")


def session_row(app, session_id: int) -> dict:
    with closing(sqlite3.connect(app.config["DATABASE"])) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute("SELECT * FROM sessions WHERE id = ?", [session_id]).fetchone()
    return dict(row)


def session_id_of(page) -> int:
    parts = page.url.split("/screening/", 1)[1].split("/")
    return int(parts[0])


class KeyRecorder:
    """Wraps page.keyboard: every key press (a chord like Shift+Tab counts once) and every
    character typed is counted, by kind, with the wall-clock time from start() to stop()."""

    NAVIGATION = {"Tab", "Shift+Tab", "ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight",
                  "Home", "End", "PageDown", "PageUp"}

    def __init__(self, page):
        self.page = page
        self.presses: list[str] = []
        self.typed = 0
        self.started = self.stopped = None

    def start(self):
        self.started = time.perf_counter()

    def stop(self):
        self.stopped = time.perf_counter()

    def press(self, key: str, times: int = 1):
        for _ in range(times):
            self.presses.append(key)
            self.page.keyboard.press(key)

    def type(self, text: str):
        self.typed += len(text)
        self.page.keyboard.type(text)

    @property
    def total(self) -> int:
        return len(self.presses) + self.typed

    def summary(self) -> dict:
        by_key: dict[str, int] = {}
        for key in self.presses:
            by_key[key] = by_key.get(key, 0) + 1
        return {
            "keystrokes": self.total,
            "characters_typed": self.typed,
            "key_presses": len(self.presses),
            "navigation_keys": sum(1 for key in self.presses if key in self.NAVIGATION),
            "by_key": dict(sorted(by_key.items(), key=lambda item: -item[1])),
            "seconds": round((self.stopped or time.perf_counter()) - self.started, 2),
        }


def write_artifact(name: str, data: dict) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
