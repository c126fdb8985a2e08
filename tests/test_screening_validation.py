from datetime import date
from decimal import Decimal

import pytest

from teller_guard.screening import inputs, validation
from teller_guard.screening.validation import FieldError

TODAY = date(2026, 11, 30)


def id_with_check(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, validation.ID_WEIGHTS, strict=True))
    return first17 + validation.ID_CHECK_CODES[total % 11]


@pytest.mark.parametrize("raw, expected", [
    ("50000", "50000.00"), ("50,000.00", "50000.00"), ("5万", "50000.00"),
    ("5.5万", "55000.00"), ("５万", "50000.00"), ("¥1,234.5", "1234.50"), ("0.01", "0.01"),
    ("1.2亿", "120000000.00"), (" 800 元", "800.00"), ("1000000000000", "1000000000000.00"),
])
def test_amount_formats(raw, expected):
    assert validation.parse_amount(raw) == Decimal(expected)


@pytest.mark.parametrize("raw, message", [
    ("", "请输入金额"), ("0", "金额必须大于 0"), ("-5", "金额必须大于 0"),
    ("1.234", "最多保留两位小数"), ("1000000000000.01", "超过上限"), ("2e12", "金额格式不正确"),
    ("abc", "金额格式不正确"), ("五万", "金额格式不正确"), ("5万万", "金额格式不正确"),
    ("NaN", "金额格式不正确"), ("1.2.3", "金额格式不正确"),
])
def test_amount_errors(raw, message):
    with pytest.raises(FieldError) as caught:
        validation.parse_amount(raw)
    assert message in caught.value.message and caught.value.field == "amount"


def test_account_digits():
    assert validation.account_digits("6222 0212 3456 7890 123") == "6222021234567890123"
    for bad, message in [("", "请输入"), ("6222abc", "只能包含数字"), ("1234567", "8 至 30"),
                         ("٦٢٢٢٠٢١٢٣٤", "只能包含数字")]:
        with pytest.raises(FieldError, match=message):
            validation.account_digits(bad)


def test_unionpay_luhn_warns_but_does_not_block():
    assert validation.luhn_ok("4539578763621486") and not validation.luhn_ok("4539578763621487")
    good = "622202123456789012"
    check = next(d for d in "0123456789" if validation.luhn_ok(good + d))
    assert validation.account_warning(good + check) is None
    wrong = str((int(check) + 1) % 10)
    assert "校验位不符" in validation.account_warning(good + wrong)
    assert validation.account_warning("12345678901") is None  # not a UnionPay card


def test_resident_id_gives_age():
    number = id_with_check("13052219580315123")
    resident = validation.parse_resident_id(number, TODAY)
    assert resident.birth_date == date(1958, 3, 15)
    assert resident.age_on(TODAY) == 68
    assert resident.age_on(date(2027, 3, 14)) == 68
    assert resident.age_on(date(2027, 3, 15)) == 69


@pytest.mark.parametrize("raw, message", [
    ("1234", "18 位"), ("13052219580315123Y", "18 位"), ("130522195803151230", "校验位"),
])
def test_resident_id_errors(raw, message):
    if message == "校验位":
        good = id_with_check("13052219580315123")
        raw = good[:17] + ("1" if good[17] != "1" else "2")
    with pytest.raises(FieldError, match=message):
        validation.parse_resident_id(raw, TODAY)


def test_resident_id_with_impossible_birth_date():
    with pytest.raises(FieldError, match="出生日期无效"):
        validation.parse_resident_id(id_with_check("13052219581345123"), TODAY)


def facts_form(**overrides):
    values = {"amount": "5万", "channel": "counter_transfer", "payee_account": "6222021234567890",
              "payee_name": "王小明", "payee_province": "河北省", "payee_city": "邢台市",
              "payee_type": "personal", "payee_known": "known", "customer_age": "45",
              "occupation": "other"}
    values.update(overrides)
    return values


def test_parse_facts_ok_and_birth_year():
    checked = inputs.parse_facts(facts_form(customer_age="1958"), TODAY)
    assert checked.ok and checked.value.customer_age == 68
    assert checked.value.amount == Decimal("50000.00")


def test_parse_facts_needs_age_or_id():
    checked = inputs.parse_facts(facts_form(customer_age=""), TODAY)
    assert checked.errors == {"customer_age": "请输入客户年龄、出生年份或身份证号"}
    with_id = inputs.parse_facts(facts_form(customer_age="", customer_id_number=id_with_check(
        "13052219580315123")), TODAY)
    assert with_id.ok and with_id.value.customer_age == 68


def test_parse_facts_reports_every_bad_field():
    checked = inputs.parse_facts(facts_form(amount="-1", payee_account="12ab", payee_known="",
                                            payee_province="火星", customer_phone="call me"),
                                 TODAY)
    assert set(checked.errors) == {"amount", "payee_account", "payee_known", "payee_province",
                                   "customer_phone"}
    assert checked.value is None


def test_province_may_be_left_blank():
    checked = inputs.parse_facts(facts_form(payee_province="", payee_city=""), TODAY)
    assert checked.ok and checked.value.payee_province is None
