"""Personal data: keyed hashes for matching, masked forms for people to read."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata


def pii_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), b"teller_guard pii", hashlib.sha256).digest()


def keyed_hash(key: bytes, value: str) -> str:
    """Same value, same instance secret -> same hash; useless without the secret."""
    return hmac.new(key, normalize(value).encode("utf-8"), hashlib.sha256).hexdigest()


def normalize(value: str) -> str:
    return "".join(value.split()).upper()


def mask_account(number: str | None) -> str:
    """6222 **** **** 1234: first four and last four digits only."""
    digits = normalize(number or "")
    if not digits:
        return ""
    if len(digits) <= 8:
        return "*" * (len(digits) - 2) + digits[-2:]
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_id_number(number: str | None) -> str:
    value = normalize(number or "")
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(name: str | None) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***; an empty name stays empty."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str:
    digits = normalize(phone or "")
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


# A run of digits, possibly grouped by single spaces or dashes (6222 0212 3456 7890,
# 139-1234-5678), possibly ending in the X of a resident ID number. A screening reference
# (TG20261130-000123) is matched first, so that it is kept.
_NUMBER_RUN = re.compile(
    r"(TG\d{8}-\d{6})|(\d(?:[ \-\u3000\uff0d]?\d)*(?:[ \-\u3000\uff0d]?[Xx\uff38\uff58])?)")
MIN_RUN_DIGITS = 8  # a run of 8 or more digits in a row
MIN_GROUPED_DIGITS = 11  # or of 11 or more when grouped: a phone, an ID or an account


def mask_numbers_in_text(text: str | None) -> str:
    """Free text (the customer's words, notes, reasons, sources) may quote an account, ID or
    phone number: mask each so no full number is stored, logged or shown. Dates, amounts and
    screening references stay readable. The one masker for every free-text field."""
    if not text:
        return text or ""
    return _NUMBER_RUN.sub(_mask_run, text)


def _mask_run(match: re.Match) -> str:
    run = match.group(0)
    if match.group(1):
        return run
    plain = unicodedata.normalize("NFKC", run)
    digits = "".join(char for char in plain if char.isdigit())
    grouped = len(digits) + plain[-1:].upper().count("X") != len(plain)
    if len(digits) < (MIN_GROUPED_DIGITS if grouped else MIN_RUN_DIGITS):
        return run
    number = digits + ("X" if plain[-1] in "Xx" else "")
    if 8 < len(number) < 12:  # a phone number: its last four digits, as phones are masked
        return "*" * (len(number) - 4) + number[-4:]
    return mask_account(number)
