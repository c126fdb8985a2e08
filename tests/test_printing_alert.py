"""The police alert: the facts in full, A4, numbered pages when long, odd data."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pypdf
import pytest
from reportlab.lib.pagesizes import A4

from teller_guard.printing import AlertContent, build_police_alert
from teller_guard.printing.samples import sample_alert


def pages_of(pdf: bytes):
    assert pdf.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(pdf)).pages


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in pages_of(pdf)))


def test_alert_has_the_facts_in_full():
    text = text_of(build_police_alert(sample_alert()))
    for expected in (
        "警情通报单", "示例银行", "沙河支行营业部", "2026年11月30日09:01", "TG-20261130-000123",
        "王秀英", "130500195803120000", "13900000000",  # customer, unmasked
        "6222020200112341234", "张伟", "示例农商银行", "广东省深圳市",  # payee, unmasked
        "¥200,000.00", "柜面实时转账", "极高风险", "92", "冒充公检法",
        "用途为“安全账户”", "转账用途？", "配合公安调查，转到安全账户",
        "客户全程在打电话，神色慌张", "要求我把存款转到安全账户接受资金核查",
        "已拨打110报警", "经办柜员（签字）", "复核主管（签字）",
        "打印人：S0003", "打印时间：2026年11月30日09:20", "T0107",
    ):
        assert expected in text, expected
    for heading in ("基本信息", "客户信息", "交易信息", "风险研判", "问询记录", "柜员观察",
                    "客户陈述", "已采取措施"):
        assert heading in text


def test_typical_alert_is_one_a4_page_without_page_number():
    pdf = build_police_alert(sample_alert())
    pages = pages_of(pdf)
    assert len(pages) == 1
    assert float(pages[0].mediabox.width) == pytest.approx(A4[0], abs=0.5)
    assert float(pages[0].mediabox.height) == pytest.approx(A4[1], abs=0.5)
    assert "第1页" not in text_of(pdf)


def test_long_statement_flows_to_numbered_pages_with_footer_on_each():
    statement = "\n".join(f"第{i}段：对方自称警官，要求我转账到安全账户。" * 8 for i in range(60))
    pdf = build_police_alert(sample_alert(customer_statement=statement))
    pages = pages_of(pdf)
    assert len(pages) >= 3
    for number, page in enumerate(pages, 1):
        page_text = re.sub(r"\s+", "", page.extract_text())
        assert f"第{number}页/共{len(pages)}页" in page_text
        assert "打印人：S0003" in page_text
        assert "编号：TG-20261130-000123" in page_text  # a loose sheet still names its case
    assert "第59段" in text_of(pdf)


def test_invariant_alerts_are_byte_identical():
    assert build_police_alert(sample_alert(), invariant=True) == build_police_alert(
        sample_alert(), invariant=True
    )


def test_empty_alert_prints_dashes_and_no_records():
    pdf = build_police_alert(AlertContent(bank_name=None, branch_name=None, occurred_at=None,
                                          reference=None))
    text = text_of(pdf)
    assert "警情通报单" in text and "（无记录）" in text and "打印人：—" in text


def test_odd_data_never_breaks_the_alert():
    odd = "𠀀龘彧😀<b>&amp;</b>"
    pdf = build_police_alert(
        sample_alert(
            customer_name=odd * 30,
            payee_name="张" * 200,
            payee_account="<6222&0000>",
            amount=Decimal("12345678901.239"),
            score=87.0,
            typologies=[f"类型{i}" for i in range(40)],
            answers=[(odd, "回答" * 400)] * 12 + [("问题", None)],
            observations=["观察" * 300, None, ""],
            reasons=[odd] * 30,
            customer_statement="一" * 20000,  # one enormous line
            actions_taken=["处置" * 1000],
            printed_by="😀" * 100,
        )
    )
    text = text_of(pdf)
    assert "龘彧□<b>&amp;</b>" in text  # escaped markup printed literally
    assert "<6222&0000>" in text
    assert "¥12,345,678,901.24" in text
    assert "类型39" in text
    assert len(pages_of(pdf)) > 3
