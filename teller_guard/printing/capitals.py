"""An amount of yuan in Chinese capital numerals (大写金额), as written on bank vouchers.

Follows the PBOC rules for filling in payment instruments (《支付结算办法》附件 "正确填写票据和结算
凭证的基本规定"):

- capitals 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 万 亿, 元角分; a leading ten is 壹拾 (¥15 -> 壹拾伍元整);
- zeros between digits are written as one 零 (¥6,007.14 -> 陆仟零柒元壹角肆分);
- an amount that ends at 元 gets 整; one ending at 角 or 分 does not (¥1,409.50 -> 壹仟肆佰零玖元伍角);
- 角 zero and 分 not: 零 after 元 (¥325.04 -> 叁佰贰拾伍元零肆分).

Where the rules allow either form, the one without 零 is written: a 万/元 position that is zero
before a non-zero 千/角 (¥107,000.53 -> 壹拾万柒仟元伍角叁分, ¥1,680.32 -> 壹仟陆佰捌拾元叁角贰分).
Pure, no dependencies.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("仟", "佰", "拾", "")  # within a group of four digits, highest first
_WAN, _YI = 10**4, 10**8

#: Amounts from this many yuan on are refused: no transfer is that large; a figure this long is a
#: data error, and 万亿 readings are not standardised on vouchers.
LIMIT = 10**12


def _group(number: int) -> str:
    """1..9999 -> capitals; zeros between digits become one 零, trailing zeros nothing."""
    digits = f"{number:04d}"
    words, pending_zero = [], False
    for digit, unit in zip(digits, _SMALL_UNITS, strict=True):
        if digit == "0":
            pending_zero = bool(words)
            continue
        if pending_zero:
            words.append("零")
            pending_zero = False
        words.append(DIGITS[int(digit)] + unit)
    return "".join(words)


def _integer(number: int) -> str:
    """A positive whole number of yuan in capitals, without 元."""
    for size, unit in ((_YI, "亿"), (_WAN, "万")):
        if number >= size:
            high, low = divmod(number, size)
            if not low:
                return _integer(high) + unit
            # low has fewer digits than the group below the unit: zeros in between
            joint = "零" if low < size // 10 else ""
            return _integer(high) + unit + joint + _integer(low)
    return _group(number)


def to_fen(amount) -> int:
    """The amount in fen, rounded half up like the figures; ValueError when it cannot be written."""
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"not an amount: {amount!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a writable amount: {amount!r}")
    fen = int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen >= LIMIT * 100:
        raise ValueError(f"amount too large: {amount!r}")
    return fen


def amount_in_capitals(amount) -> str:
    """``Decimal("200000")`` -> ``"贰拾万元整"``; ``"1234.56"`` -> ``"壹仟贰佰叁拾肆元伍角陆分"``.

    Accepts Decimal, int, str (float works but is not exact). Raises ValueError for a negative,
    non-numeric or absurdly large amount (LIMIT).
    """
    yuan, cents = divmod(to_fen(amount), 100)
    jiao, fen = divmod(cents, 10)
    if not yuan and not cents:
        return "零元整"
    words = _integer(yuan) + "元" if yuan else ""
    if not cents:
        return words + "整"
    if jiao:
        words += DIGITS[jiao] + "角"
    elif yuan:
        words += "零"  # 元 followed directly by 分
    if fen:
        words += DIGITS[fen] + "分"
    return words
