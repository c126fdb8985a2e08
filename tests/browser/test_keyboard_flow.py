"""A teller screens two transfers with the keyboard only, JavaScript off, in Chromium.

Every key goes through KeyRecorder (conftest.py), so the benign screening's keystrokes and
wall-clock seconds are measured and written to test-artifacts/keystrokes.json. Where the next
field is reached by Tab, tab_to() fails if it takes more Tabs than the page should need.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .flow import (
    KeyRecorder,
    expect_focus,
    login_by_keyboard,
    session_id_of,
    session_row,
    tab_to,
    write_artifact,
)

pytestmark = [pytest.mark.browser, pytest.mark.browser_context_args(java_script_enabled=False)]

RESULTS: dict = {}


def test_benign_family_transfer_by_keyboard(page, live_app):
    keys = KeyRecorder(page)
    login_by_keyboard(page, keys, "teller")
    login_keys = keys.total
    keys = KeyRecorder(page)

    # 我的问询: 新建问询 has the focus.
    expect_focus(page, "#new-screening")
    keys.start()
    keys.press("Enter")
    page.wait_for_url("**/screening/new")

    # 新建问询: the amount has the focus; page order is the order of the paper form.
    expect_focus(page, "#amount")
    keys.type("3000")
    assert tab_to(keys, "#payee_account", 2) == 2  # 业务类型 keeps 柜面转账
    keys.type("6222021234567890")
    assert tab_to(keys, "#payee_province", 3) == 3  # name and bank are optional
    keys.press("ArrowDown")  # （不清楚） → 河北省（本网点所在省）, listed first
    expect(page.locator("#payee_province")).to_have_value("河北省")
    assert tab_to(keys, "#payee_known-1", 3) == 3  # city optional, 个人账户 preselected
    keys.press("ArrowDown")  # 以前转过（老收款人）
    expect(page.locator("#payee_known-2")).to_be_checked()
    assert tab_to(keys, "#customer_age", 2) == 2
    keys.type("45")
    keys.press("Enter")
    page.wait_for_url("**/questions")

    # 五必问 · 三是否: the first question has the focus; Space picks the first option.
    expect(page.locator("h1")).to_contain_text("五必问 · 三是否")
    expect_focus(page, "#purpose-1")
    keys.press("Space")  # 家庭生活费
    assert tab_to(keys, "#knows_payee-1", 2) == 2  # past the optional 客户原话
    keys.press("Space")  # 当面认识
    assert tab_to(keys, "#relationship-1", 1) == 1
    keys.press("Space")  # 家人亲属
    # No observations: the skip link jumps over the nine checkboxes to 三是否.
    assert tab_to(keys, ".skip-observations a", 1) == 1
    keys.press("Enter")
    assert tab_to(keys, "#paying_stranger-1", 1) == 1
    keys.press("ArrowDown")  # 不是
    expect(page.locator("#paying_stranger-2")).to_be_checked()
    assert tab_to(keys, "#possibly_scam-1", 1) == 1
    keys.press("Space")  # 不会
    keys.press("Enter")  # submits the form: 评估风险
    page.wait_for_url("**/result")

    # Result: 低风险, 正常办理; 已办理 preselected and the record button focused.
    session_id = session_id_of(page)
    expect(page.locator(".result-banner .level-word")).to_have_text("低风险")
    expect(page.locator(".result-banner .action-label")).to_have_text("正常办理（温馨提示）")
    expect(page.locator("#outcome-proceeded")).to_be_checked()
    expect_focus(page, "#record-outcome")
    keys.press("Enter")
    page.wait_for_url("**/screening/")
    expect(page.locator(".flash")).to_contain_text("已记录：已办理")
    keys.stop()

    row = session_row(live_app, session_id)
    assert (row["level"], row["outcome"], row["status"]) == ("low", "proceeded", "finished")
    assert row["amount_fen"] == 300_000 and row["other_region"] == 0 and row["in_queue"] == 0
    first = page.locator("table.data").last.locator("tbody tr").first
    expect(first).to_contain_text("低风险")
    expect(first).to_contain_text("已办理")

    summary = keys.summary()
    RESULTS["benign_family_transfer"] = {**summary, "login_keystrokes": login_keys,
                                         "from": "我的问询 (logged in)", "to": "已办理 recorded"}
    write_artifact("keystrokes.json", RESULTS)
    print(f"\nbenign screening by keyboard: {summary['keystrokes']} keystrokes "
          f"({summary['key_presses']} key presses, of which {summary['navigation_keys']} "
          f"Tab/arrow; {summary['characters_typed']} characters typed) in "
          f"{summary['seconds']} s; login {login_keys} more")
    assert summary["keystrokes"] <= 60
    assert summary["navigation_keys"] <= 25


def test_safe_account_case_by_keyboard_with_supervisor_override(page, live_app):
    keys = KeyRecorder(page)
    login_by_keyboard(page, keys, "teller2")
    keys = KeyRecorder(page)
    keys.start()
    expect_focus(page, "#new-screening")
    keys.press("Enter")
    page.wait_for_url("**/screening/new")

    expect_focus(page, "#amount")
    keys.type("20万")
    tab_to(keys, "#payee_account", 2)
    keys.type("6217001234567890123")
    tab_to(keys, "#payee_name", 1)
    keys.type("李四")
    tab_to(keys, "#payee_province", 2)
    keys.press("ArrowDown", 19)  # the branch's 河北省 first, then GB/T 2260 order
    expect(page.locator("#payee_province")).to_have_value("广东省")
    tab_to(keys, "#payee_city", 1)
    keys.type("深圳市")
    tab_to(keys, "#payee_known-1", 2)
    keys.press("Space")  # 首次转给该收款人
    tab_to(keys, "#customer_age", 2)
    keys.type("66")
    tab_to(keys, "#occupation", 1)
    keys.press("ArrowDown")  # 离退休人员
    expect(page.locator("#occupation")).to_have_value("retired")
    tab_to(keys, "#customer_name", 1)
    keys.press("Enter")
    page.wait_for_url("**/questions")

    # Large, elderly, 异地: seven 五必问 items and three 三是否.
    expect_focus(page, "#purpose-1")
    keys.press("ArrowDown", 9)  # the tenth option: 转到“安全账户”、配合调查
    expect(page.locator("input[name='answers.purpose'][value='safe_account']")).to_be_checked()
    tab_to(keys, "#purpose_text", 1)
    keys.type("市公安局的警官打电话说我涉嫌洗钱，要把钱转到安全账户配合调查")
    tab_to(keys, "#large_amount_confirm-1", 1)
    keys.press("Space")
    tab_to(keys, "#destination-text", 1)
    keys.type("转到公安的安全账户")
    tab_to(keys, "#knows_payee-1", 1)
    keys.press("ArrowDown", 2)  # 只通过电话联系
    tab_to(keys, "#relationship-1", 1)
    keys.press("ArrowDown", 9)  # 陌生人
    expect(page.locator("input[name='answers.relationship'][value='stranger']")).to_be_checked()
    tab_to(keys, "#knows_payee_again-1", 1)
    keys.press("ArrowDown")  # 没有核实
    tab_to(keys, "#obs-hurried", 2)  # past the skip link: this customer shows signs
    keys.press("Space")
    tab_to(keys, "#obs-on_phone", 2)
    keys.press("Space")
    tab_to(keys, "#obs-told_keep_secret", 4)
    keys.press("Space")
    tab_to(keys, "#paying_stranger-1", 5)  # past 劝阻后仍坚持 and the two mitigating observations
    keys.press("Space")  # 是，给陌生人
    tab_to(keys, "#possibly_scam-1", 1)
    keys.press("Space")  # 不会
    tab_to(keys, "#family_consulted-1", 1)
    keys.press("ArrowDown")  # 没有商量
    keys.press("Enter")
    page.wait_for_url("**/result")
    session_id = session_id_of(page)

    # 极高风险: stop and call the police; 已办理 is disabled until a supervisor's written override.
    expect(page.locator(".result-banner .level-word")).to_have_text("极高风险")
    expect(page.locator(".result-banner .action-label")).to_have_text("停止办理，立即报警")
    expect(page.locator("#primary-typology h2")).to_have_text("疑似诈骗类型：冒充公检法")
    expect(page.locator("#outcome-proceeded")).to_be_disabled()
    expect(page.locator("#proceed-blocked")).to_contain_text("主管书面放行")

    # The supervisor comes to this terminal and types: first forgetting the reason. From the
    # level banner, where the page opens: 跳到记录办理结果, the print button, the outcome, the
    # folded 报警信息, 记录结果并结束 and the teller's 打印警情通报单 (the supervisor step is below).
    expect_focus(page, "#result-banner")
    prints = page.locator(".result-act .button-row a").count()
    to_supervisor = tab_to(keys, "#supervisor_username", 6 + prints)
    keys.type("supervisor")
    tab_to(keys, "#supervisor_password", 1)
    keys.type("supervisor-pass")
    tab_to(keys, "#supervisor button[type=submit]", 2)
    keys.press("Enter")
    expect(page.locator("#supervisor_reason-error")).to_have_text("极高风险放行必须填写书面理由")
    expect_focus(page, "#supervisor_reason")
    expect(page.locator("#supervisor_username")).to_have_value("supervisor")
    reason = "已与客户子女视频核实，系其本人购房定金"
    keys.type(reason)
    tab_to(keys, "#supervisor_password", 1, back=True)
    keys.type("supervisor-pass")
    tab_to(keys, "#supervisor button[type=submit]", 2)
    keys.press("Enter")
    page.wait_for_url(f"**/screening/{session_id}/result")
    expect(page.locator(".flash")).to_contain_text("主管已书面放行")
    expect(page.locator("#supervisor .ok")).to_contain_text(reason)
    expect(page.locator(".whoami")).to_contain_text("teller2名")  # the teller stays logged in

    # Now 已办理 is possible, and the focus waits on the outcome.
    expect(page.locator("#outcome-proceeded")).to_be_enabled()
    expect_focus(page, "#outcome-proceeded")
    keys.press("Space")
    keys.press("Enter")
    page.wait_for_url("**/screening/")
    expect(page.locator(".flash")).to_contain_text("已记录：已办理")
    keys.stop()

    row = session_row(live_app, session_id)
    assert (row["level"], row["action"]) == ("critical", "stop_and_report")
    assert row["supervisor_decision"] == "override" and row["supervisor_reason"] == reason
    assert row["outcome"] == "proceeded" and row["in_queue"] == 1
    assert row["other_region"] == 1 and row["amount_fen"] == 20_000_000

    summary = keys.summary()
    RESULTS["safe_account_case"] = {**summary, "tabs_to_supervisor_step": to_supervisor,
                                    "from": "我的问询 (logged in)",
                                    "to": "supervisor override, 已办理 recorded"}
    write_artifact("keystrokes.json", RESULTS)
    print(f"\nsafe-account case by keyboard: {summary['keystrokes']} keystrokes "
          f"({summary['characters_typed']} characters typed) in {summary['seconds']} s; "
          f"{to_supervisor} Tabs from the result's top to the supervisor step")
