"""Checks for what the teller types (and the API sends): amounts, account and ID numbers.

Pure functions with Chinese messages, shared by the web form and the JSON API so a rule exists
once. Each returns a typed value or raises FieldError naming the field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

MAX_AMOUNT = Decimal("1000000000000")  # 1e12 CNY
# Above this (1,000万元) an amount is more often a slip of the keyboard (an extra 0, 万 typed
# after a full number) than a counter transfer: the teller (or the calling system) must confirm
# it explicitly (amount_confirmed), having seen it in capitals.
HUGE_AMOUNT = Decimal("10000000")
# Limits the JSON API's schema states too (api_schema.py reads these, so they exist once).
ACCOUNT_DIGITS = (8, 30)
PHONE_DIGITS = (5, 20)
AGE_RANGE = (1, 130)  # an age of 0 is what an unset integer field looks like: refused
UNITS = {"万": Decimal("10000"), "亿": Decimal("100000000")}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CODES = "10X98765432"


class FieldError(ValueError):
    """`code` is the API's machine-readable reason (api_schema.FIELD_CODES), the message the
    Chinese text shown beside the field."""

    def __init__(self, field: str, message: str, code: str = "invalid_value"):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


def _halfwidth(text: str) -> str:
    # NFKC turns full-width digits, commas and letters (５万, ，) into ASCII.
    return unicodedata.normalize("NFKC", text).strip()


def parse_amount(raw, field: str = "amount") -> Decimal:
    """'50000', '50,000.00', '5万', '5.5万', '¥1.2亿' -> Decimal yuan with at most 2 decimals."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise FieldError(field, "请输入金额", "required")
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise FieldError(field, "金额应为数字，如 50000、5万", "wrong_type")
    text = _halfwidth(str(raw)).replace(",", "").replace("，", "").replace(" ", "")
    text = text.removeprefix("¥").removeprefix("￥").removesuffix("元")
    multiplier = Decimal(1)
    if text and text[-1] in UNITS:
        multiplier = UNITS[text[-1]]
        text = text[:-1]
    # ASCII digits, at most 20 characters: Decimal arithmetic rounds past 28 digits and cannot
    # quantize a huge number, and no real amount is that long.
    if len(text) > 20 or not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", text or ""):
        raise FieldError(field, "金额格式不正确，请输入数字，如 50000、50,000.00、5万")
    try:
        amount = Decimal(text) * multiplier
    except InvalidOperation:
        raise FieldError(field, "金额格式不正确，请输入数字，如 50000、5万") from None
    if amount <= 0:
        raise FieldError(field, "金额必须大于 0", "out_of_range")
    if amount > MAX_AMOUNT:
        raise FieldError(field, "金额超过上限（1 万亿元），请核对", "out_of_range")
    if amount != amount.quantize(Decimal("0.01")):
        raise FieldError(field, "金额最多保留两位小数（到分）")
    return amount.quantize(Decimal("0.01"))


def confirmed(raw) -> bool:
    """A confirmation flag: JSON true, or a ticked checkbox's value."""
    if isinstance(raw, bool):
        return raw
    return isinstance(raw, str) and raw.strip().lower() in ("1", "on", "true", "yes")


def account_digits(raw, field: str = "payee_account") -> str:
    """Account numbers: digits only once spaces and dashes are removed, 8-30 of them."""
    text = re.sub(r"[\s-]", "", _halfwidth(str(raw or "")))
    if not text:
        raise FieldError(field, "请输入收款账号", "required")
    if not re.fullmatch(r"[0-9]+", text):  # isdigit() would accept other scripts' digits
        raise FieldError(field, "账号只能包含数字")
    low, high = ACCOUNT_DIGITS
    if not low <= len(text) <= high:
        raise FieldError(field, f"账号应为 {low} 至 {high} 位数字", "out_of_range")
    return text


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def account_warning(digits: str) -> str | None:
    """UnionPay cards (62…, 16-19 digits) carry a Luhn check digit: a typo is likely."""
    if digits.startswith("62") and 16 <= len(digits) <= 19 and not luhn_ok(digits):
        return "该银联卡号校验位不符，可能录入有误，请与客户核对（仍可继续）"
    return None


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date

    def age_on(self, today: date) -> int:
        before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
        return today.year - self.birth_date.year - before_birthday


def parse_resident_id(raw, today: date, field: str = "customer_id_number") -> ResidentId:
    """18-character resident ID (GB 11643): check digit and birth date."""
    text = _halfwidth(str(raw or "")).replace(" ", "").upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", text):  # str.isdigit() accepts "⓵", int() does not
        raise FieldError(field, "身份证号应为 18 位（最后一位可为 X）")
    check = ID_CHECK_CODES[sum(int(d) * w for d, w in zip(text[:17], ID_WEIGHTS, strict=True)) % 11]
    if check != text[17]:
        raise FieldError(field, "身份证号校验位不正确，请核对")
    try:
        birth = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise FieldError(field, "身份证号中的出生日期无效") from None
    if birth > today or today.year - birth.year > 130:
        raise FieldError(field, "身份证号中的出生日期无效")
    return ResidentId(text, birth)


def parse_age(raw, field: str = "customer_age") -> int | None:
    text = _halfwidth(str(raw if raw is not None else ""))
    if not text:
        return None
    if not re.fullmatch(r"[0-9]+", text):
        raise FieldError(field, "年龄应为整数")
    digits = text.lstrip("0")
    age = int(digits or "0") if len(digits) <= 3 else 1000  # int() refuses 4,300+ digits
    low, high = AGE_RANGE
    if not low <= age <= high:
        raise FieldError(field, f"年龄应在 {low} 至 {high} 岁之间", "out_of_range")
    return age


def parse_phone(raw, field: str = "customer_phone") -> str | None:
    text = re.sub(r"[\s-]", "", _halfwidth(str(raw or "")))
    if not text:
        return None
    low, high = PHONE_DIGITS
    if not re.fullmatch(rf"\+?[0-9]{{{low},{high}}}", text):
        raise FieldError(field, "电话号码只能包含数字")
    return text


def clean_text(raw, field: str, max_length: int, label: str) -> str | None:
    if raw is not None and not isinstance(raw, str):  # a JSON list read as "['安全账户']" once
        raise FieldError(field, f"{label}应为文字", "wrong_type")
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > max_length:
        raise FieldError(field, f"{label}过长（最多 {max_length} 字）", "too_long")
    if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in text):
        raise FieldError(field, f"{label}包含无法识别的控制字符")
    return text
