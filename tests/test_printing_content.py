"""Pure content helpers of the slip and police alert (no PDF involved)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from teller_guard.printing import content
from teller_guard.printing.content import AlertContent, SlipContent
from teller_guard.printing.samples import sample_alert, sample_slip


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("50000"), "¥50,000.00"),
        (Decimal("1234567.891"), "¥1,234,567.89"),
        (Decimal("0.005"), "¥0.01"),  # banks round half up
        (12, "¥12.00"),
        ("300.5", "¥300.50"),
        (Decimal("-20"), "-¥20.00"),
        (None, "—"),
        ("", "—"),
        ("not a number", "not a number"),
    ],
)
def test_format_amount(amount, expected):
    assert content.format_amount(amount) == expected


def test_format_datetime_and_yes_no():
    assert content.format_datetime(datetime(2026, 3, 5, 7, 8, 9)) == "2026年03月05日 07:08"
    assert content.format_datetime(None) == "—"
    assert [content.format_yes_no(v) for v in (True, False, None)] == ["是", "否", "未知"]


def test_fixed_texts_are_the_seed_wording():
    assert content.slogans_text() == "陌生电话不接、不明链接不点、中奖信息不信、别人要钱不给、一旦被骗报警"
    assert content.four_nos_text() == "不贪心、不轻信、不透露、不转账"
    assert content.hotlines_text() == "110 报警电话　96110 反诈预警劝阻专线"
    assert content.WARNED_SENTENCE.startswith("本人已听取银行工作人员的风险提示")


def test_lists_are_frozen_into_tuples():
    slip = sample_slip(warnings=[["冒充公检法", "text"], "刷单返利", None])
    assert slip.warnings == (("冒充公检法", "text"), ("刷单返利", ""), ("", ""))
    hash(slip)  # usable as a cache key
    alert = sample_alert(typologies=["a"], answers=[("q", "a")], observations=None, reasons="one")
    assert alert.typologies == ("a",)
    assert alert.answers == (("q", "a"),)
    assert alert.observations == ()
    assert alert.reasons == ("one",)


def test_slip_without_typologies_gets_the_general_warning():
    assert content.slip_warnings(sample_slip(warnings=())) == (content.GENERAL_WARNING,)
    assert content.slip_warnings(sample_slip(warnings=[("", None)])) == (content.GENERAL_WARNING,)
    assert content.slip_warnings(sample_slip())[0][0] == "冒充公检法"


def test_slip_summary_rows():
    rows = dict(content.slip_summary_rows(sample_slip()))
    assert rows == {
        "转账金额": "¥50,000.00",
        "是否异地": "是",
        "收款账户": "6222 **** **** 1234",
        "收款人": "张*",
        "风险等级": "高风险",
    }
    minimal = SlipContent("银行", "网点", None, "", None)
    assert dict(content.slip_summary_rows(minimal))["收款账户"] == "—"
    assert "风险等级" not in dict(content.slip_summary_rows(minimal))


def test_alert_headline_has_the_facts_police_act_on():
    headline = content.alert_headline(sample_alert())
    assert headline == (
        "客户王秀英拟向6222020200112341234（张伟，示例农商银行，广东省深圳市）"
        "转账¥200,000.00，疑似冒充公检法。"
    )
    empty = AlertContent("银行", "网点", None, "")
    assert content.alert_headline(empty) == "客户—拟向—转账—，疑似电信网络诈骗。"


def test_alert_rows_show_full_personal_data():
    alert = sample_alert()
    assert dict(content.alert_customer_rows(alert))["证件号码"] == "130500195803120000"
    assert dict(content.alert_transfer_rows(alert))["收款账号"] == "6222020200112341234"
    assert dict(content.alert_risk_rows(alert))["风险评分"] == "92"
    assert content.format_score(87.0) == "87"
    assert content.format_score(None) == "—"


def test_the_slip_names_every_typology_primary_first_and_the_alert_the_primary_only():
    """The customer reads about *their* scam: the slip prints the primary's text and names the
    others (it lays out at most two, under 也可能是); the police alert names the primary only."""
    from teller_guard.printing_web import content as web_content

    row = {"assessment": {"typologies": [
        {"id": "task_rebate", "name_zh": "刷单返利", "slip_text_zh": "兼职刷单都是诈骗。"},
        {"id": "fake_investment", "name_zh": "虚假投资理财", "slip_text_zh": "高回报都是诈骗。"},
        {"id": "fake_customer_service", "name_zh": "冒充电商物流客服", "slip_text_zh": "退款要验证码的都是诈骗。"},
    ]}}
    assert web_content.slip_warnings(row)[0] == ("刷单返利", "兼职刷单都是诈骗。")
    assert [name for name, _ in web_content.slip_warnings(row)] == [
        "刷单返利", "虚假投资理财", "冒充电商物流客服"]
    assert web_content.primary_typology_name(row) == "刷单返利"
    assert web_content.slip_warnings({"assessment": {"typologies": []}}) == ()
    assert web_content.primary_typology_name({"assessment": {"typologies": []}}) == ""


@pytest.mark.parametrize(("row", "stopped"), [
    ({"level": "critical", "assessment": {"action": {"code": "stop_and_report"}}}, True),
    # a critical case is stopped whatever action an old assessment stored
    ({"level": "critical", "assessment": {"action": {"code": "supervisor_hold"}}}, True),
    # a stop-and-report action stops the transfer at any level (a rule file may say so)
    ({"level": "high", "assessment": {"action": {"code": "stop_and_report"}}}, True),
    ({"level": "high", "action": "stop_and_report", "assessment": {}}, True),
    ({"level": "high", "assessment": {"action": "stop_and_report"}}, True),
    ({"level": "high", "assessment": {"action": {"code": "supervisor_hold"}}}, False),
    ({"level": "medium", "assessment": {"action": {"code": "print_slip"}}}, False),
    ({"level": "low", "assessment": None}, False),
    # a supervisor's written release (书面放行) lets the transfer go ahead: the customer confirms
    ({"level": "critical", "supervisor_decision": "override",
      "assessment": {"action": {"code": "stop_and_report"}}}, False),
    ({"level": "critical", "supervisor_decision": "confirmed",
      "assessment": {"action": {"code": "stop_and_report"}}}, True),
])
def test_which_sessions_are_stopped(row, stopped):
    from teller_guard.printing_web import content as web_content

    assert web_content.stopped(row) is stopped


def test_stopped_slip_wording():
    stopped, going_ahead = sample_slip(stopped=True), sample_slip()
    assert content.slip_closing(going_ahead) == content.WARNED_SENTENCE
    assert "真实意愿" in content.slip_closing(going_ahead)
    assert "真实意愿" not in content.slip_closing(stopped)
    assert "已暂停" in content.slip_intro(stopped) and "已暂停" not in content.slip_intro(going_ahead)
    assert all("真实意愿" not in step for step in content.STOPPED_STEPS)
    assert any("96110" in step for step in content.STOPPED_STEPS)


def test_qr_payload_is_reference_and_hotline():
    assert content.qr_payload("TG20261130-000001") == "TG20261130-000001 反诈专线96110"
    assert content.qr_payload("  ") == "反诈专线96110"
    assert content.qr_payload(None) == "反诈专线96110"


@pytest.mark.parametrize(("amount", "expected"), [
    (Decimal("200000.00"), "人民币（大写）贰拾万元整"),
    ("1234.56", "人民币（大写）壹仟贰佰叁拾肆元伍角陆分"),
    (None, ""),
    ("", ""),
    ("not a number", ""),
    (Decimal("-20"), ""),  # a refund is not a transfer: figures only
])
def test_format_amount_capitals(amount, expected):
    assert content.format_amount_capitals(amount) == expected


def test_fixed_texts_hold_the_new_slip_wording():
    fixed = "".join(content.fixed_texts())
    for wording in (content.STOPPED_INTRO, *content.STOPPED_STEPS, content.STAMP_LABEL,
                    content.SUPERVISOR_SIGNATURE_LABEL, content.ALSO_POSSIBLE_LABEL,
                    content.CAPITAL_CHARACTERS):
        assert wording in fixed
