"""Made-up content for test prints (admin "print a sample"), tests and benchmarks.

All names and numbers are invented; the story follows a case told in the police seed
(a call from "某某市公安局", money to be moved to a "safe account").
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from .content import AlertContent, SlipContent

#: Typology warnings in the style of the seed; the real ones come from the risk rules.
SAMPLE_WARNING_CATALOG = (
    (
        "冒充公检法",
        "公检法机关从不设立“安全账户”，也不会通过电话、QQ、微信办案或要求转账。"
        "凡是要求您把钱转到“安全账户”配合调查的，都是诈骗。请立即挂断电话，拨打110核实。",
    ),
    (
        "虚假网络贷款",
        "正规贷款在放款前不会收取任何费用。凡是放款前以保证金、解冻费、验资等名义"
        "要求转账的，都是诈骗。",
    ),
    ("刷单返利", "所有刷单、做任务返佣金的兼职都是诈骗。先垫付、后返利，越刷越多，最后血本无归。"),
    ("虚假投资理财", "承诺高回报、零风险、导师带单的投资理财都是诈骗。不要下载陌生人推荐的投资软件。"),
    ("冒充电商物流客服", "退款、理赔不需要您先转账，更不需要提供短信验证码。请通过官方平台核实。"),
    ("冒充领导熟人", "领导、熟人通过微信、QQ要求转账的，务必当面或电话核实，不见面不转账。"),
    ("网络交友诱导投资", "网上交友从未见面，对方推荐投资平台的，都是诈骗。"),
)
SAMPLE_WARNINGS = SAMPLE_WARNING_CATALOG[:2]


def sample_slip(**changes) -> SlipContent:
    """A typical medium/high-risk slip; keyword arguments replace fields."""
    slip = SlipContent(
        bank_name="示例银行",
        branch_name="沙河支行营业部",
        printed_at=datetime(2026, 11, 30, 9, 5),
        reference="TG-20261130-000123",
        amount=Decimal("50000"),
        payee_masked="6222 **** **** 1234",
        payee_name_masked="张*",
        other_region=True,
        level_label="高风险",
        warnings=SAMPLE_WARNINGS,
        teller_id="T0107",
        customer_name_masked="王*",
    )
    return dataclasses.replace(slip, **changes)


def sample_alert(**changes) -> AlertContent:
    """A typical critical-risk police alert; keyword arguments replace fields."""
    alert = AlertContent(
        bank_name="示例银行",
        branch_name="沙河支行营业部",
        occurred_at=datetime(2026, 11, 30, 9, 1),
        reference="TG-20261130-000123",
        teller_id="T0107",
        supervisor_id="S0003",
        customer_name="王秀英",
        customer_id_number="130500195803120000",
        customer_phone="13900000000",
        payee_account="6222020200112341234",
        payee_name="张伟",
        payee_bank="示例农商银行",
        payee_region="广东省深圳市",
        amount=Decimal("200000"),
        channel_label="柜面实时转账",
        level_label="极高风险",
        score=92,
        typologies=("冒充公检法",),
        answers=(
            ("转账用途？", "配合公安调查，转到安全账户"),
            ("是否认识收款人？", "不认识，是警官让转的"),
        ),
        observations=("客户全程在打电话，神色慌张", "要求尽快办理"),
        reasons=("用途为“安全账户”", "收款人不认识", "异地大额"),
        customer_statement=(
            "今天上午接到自称某某市公安局的电话，说我涉嫌洗钱案件，"
            "要求我把存款转到安全账户接受资金核查，并且不能告诉家人。"
        ),
        actions_taken=("暂停办理", "主管到场劝阻", "已拨打110报警"),
        printed_by="S0003",
        printed_at=datetime(2026, 11, 30, 9, 20),
    )
    return dataclasses.replace(alert, **changes)
