"""Amounts in Chinese capitals (大写金额): the PBOC examples, edges, and a decoder round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from teller_guard.printing.capitals import DIGITS, LIMIT, amount_in_capitals


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        # the examples
        ("200000.00", "贰拾万元整"),
        ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
        ("100.05", "壹佰元零伍分"),
        # the examples of the PBOC rules (where they allow two forms, ours is the first listed
        # in capitals.py: no 零 for a zero 万/元 before a non-zero 千/角)
        ("1409.50", "壹仟肆佰零玖元伍角"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("107000.53", "壹拾万柒仟元伍角叁分"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        # zero, 角 only, 分 only
        ("0", "零元整"),
        ("0.00", "零元整"),
        ("0.50", "伍角"),
        ("0.05", "伍分"),
        ("0.56", "伍角陆分"),
        ("3.50", "叁元伍角"),
        ("3.05", "叁元零伍分"),
        # a leading ten is 壹拾
        ("10", "壹拾元整"),
        ("15", "壹拾伍元整"),
        ("110", "壹佰壹拾元整"),
        # 万 and 亿 boundaries, zeros inside and across them
        ("10000", "壹万元整"),
        ("10010", "壹万零壹拾元整"),
        ("10001", "壹万零壹元整"),
        ("1000.10", "壹仟元壹角"),
        ("1001", "壹仟零壹元整"),
        ("99999999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        ("100000000", "壹亿元整"),
        ("100000001", "壹亿零壹元整"),
        ("100010000", "壹亿零壹万元整"),
        ("110000000", "壹亿壹仟万元整"),
        ("1000100", "壹佰万零壹佰元整"),
        ("10100000", "壹仟零壹拾万元整"),
        ("1000000001", "壹拾亿零壹元整"),
        ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        # rounded half up to the fen, like the figures
        ("0.005", "壹分"),
        ("0.004", "零元整"),
        (Decimal("2.675"), "贰元陆角捌分"),
        (12, "壹拾贰元整"),
    ],
)
def test_examples(amount, expected):
    assert amount_in_capitals(amount) == expected


@pytest.mark.parametrize("amount", ["-1", "abc", "", None, "NaN", "Infinity", str(LIMIT)])
def test_unwritable_amounts_are_refused(amount):
    with pytest.raises(ValueError):
        amount_in_capitals(amount)


_VALUES = {ch: value for value, ch in enumerate(DIGITS)}
_SMALL = {"拾": 10, "佰": 100, "仟": 1000}


def decode(capitals: str) -> int:
    """Capitals back to fen, written independently of the encoder (and strict about order)."""
    yuan_part, fraction = capitals.split("元") if "元" in capitals else ("", capitals)
    total = section = digit = 0
    for ch in yuan_part:
        if ch in _VALUES:
            digit = _VALUES[ch]
        elif ch in _SMALL:
            assert digit, f"{ch} without a digit before it in {capitals}"
            section, digit = section + digit * _SMALL[ch], 0
        elif ch == "万":
            total, section, digit = total + (section + digit) * 10**4, 0, 0
        elif ch == "亿":
            total, section, digit = (total + section + digit) * 10**8, 0, 0
        else:
            raise AssertionError(f"unexpected {ch} in {capitals}")
    fraction = fraction.removesuffix("整").removeprefix("零")
    jiao = fen = 0
    if "角" in fraction:
        jiao_part, fraction = fraction.split("角")
        jiao = _VALUES[jiao_part]
    if fraction:
        fen_part, rest = fraction.split("分")
        assert rest == "", capitals
        fen = _VALUES[fen_part]
    return (total + section + digit) * 100 + jiao * 10 + fen


@given(st.integers(min_value=0, max_value=LIMIT * 100 - 1))
@example(0)
@example(10_000_000_000)  # 壹亿元整
@example(1_001_000)
@example(5)
@example(50)
def test_round_trip_and_the_rules(fen):
    amount = Decimal(fen) / 100
    capitals = amount_in_capitals(amount)
    assert decode(capitals) == fen
    # 整 exactly when the amount ends at 元; never after 角 or 分
    assert capitals.endswith("整") == (fen % 100 == 0)
    assert capitals.count("整") <= 1
    # one 零 for a run of zeros; none at the end or before a unit
    assert "零零" not in capitals
    assert capitals == "零元整" or not capitals.startswith("零")
    for unit in "拾佰仟万亿元角分整":
        assert f"零{unit}" not in capitals or capitals == "零元整"
    # every 拾 has its digit (壹拾, not 拾)
    assert not capitals.startswith("拾")
    assert all(capitals[i - 1] in DIGITS for i, ch in enumerate(capitals) if ch == "拾")
    # 零 between 元 and 分 exactly when 角 is zero and 分 is not (and there are yuan)
    yuan, jiao, fen_digit = fen // 100, fen // 10 % 10, fen % 10
    assert ("元零" in capitals) == (yuan > 0 and jiao == 0 and fen_digit > 0)
    assert set(capitals) <= set(DIGITS + "拾佰仟万亿元角分整")
