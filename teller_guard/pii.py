"""Personal data: keyed hashes for matching, masked forms for people to read."""

from __future__ import annotations

import hashlib
import hmac


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
