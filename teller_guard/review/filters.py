"""Queue and statistics filters: raw query-string values in, typed values (or Chinese messages) out.

Pure: no Flask. A bad value never fails the page; it is ignored and named in a message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date

from .. import clock, labels
from . import state

REFERENCE_PATTERN = re.compile(r"^[A-Z0-9-]{1,32}$")
MAX_RANGE_DAYS = 3660
ACCOUNT_TAIL = re.compile(r"^[0-9]{4}$")
ID_TAIL = re.compile(r"^[0-9]{3}[0-9X]$")
SURNAME = re.compile(r"^[\u4e00-\u9fff]{1,2}$")  # 张, 欧阳: what a masked name (张*) still shows


@dataclass(frozen=True)
class Search:
    """Find a case by what its masked columns still show: the payee account's last four
    digits, the customer's surname and the last four characters of their ID number. The
    terms never go into a URL (they travel in the signed session cookie; the URL says
    `search=1`)."""
    account_tail: str | None = None
    surname: str | None = None
    id_tail: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {name: value for name, value in (
            ("account_tail", self.account_tail), ("surname", self.surname),
            ("id_tail", self.id_tail)) if value}

    def describe(self) -> str:
        parts = []
        if self.account_tail:
            parts.append(f"收款账号尾号 {self.account_tail}")
        if self.surname:
            parts.append(f"客户姓氏“{self.surname}”")
        if self.id_tail:
            parts.append(f"客户身份证号尾号 {self.id_tail}")
        return "，".join(parts)


SEARCH_FIELDS = {  # field -> (pattern, message when it does not match)
    "account_tail": (ACCOUNT_TAIL, "收款账号尾号应为 4 位数字"),
    "surname": (SURNAME, "客户姓氏应为 1 至 2 个汉字"),
    "id_tail": (ID_TAIL, "身份证号尾号应为 4 位，最后一位可以是 X"),
}


def parse_search(args: Mapping) -> tuple[Search | None, dict[str, str]]:
    """The search form's terms; returns (search, {field: message}). Full-width digits and a
    lower-case x are accepted as typed on a Chinese keyboard."""
    values, errors = {}, {}
    for name, (pattern, message) in SEARCH_FIELDS.items():
        raw = unicodedata.normalize("NFKC", _text(args, name)).replace(" ", "").upper()
        if not raw:
            continue
        if pattern.match(raw):
            values[name] = raw
        else:
            errors[name] = message
    if not values and not errors:
        errors["account_tail"] = "请至少填写一项：收款账号尾号、客户姓氏或身份证号尾号"
    return (Search(**values) if values and not errors else None), errors


def search_from(stored) -> Search | None:
    """The search kept in the session (a dict written by Search.as_dict), checked again."""
    if not isinstance(stored, dict):
        return None
    search, errors = parse_search(stored)
    return None if errors else search


@dataclass(frozen=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    level: str | None = None
    typology: str | None = None
    teller_id: int | None = None
    status: str | None = None
    outcome: str | None = None
    reference: str | None = None
    search: Search | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as query-string values (the inverse of parse)."""
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "level": self.level, "typology": self.typology,
            "teller": str(self.teller_id) if self.teller_id is not None else None,
            "status": self.status, "outcome": self.outcome, "reference": self.reference,
            "search": "1" if self.search else None,
        }
        return {name: value for name, value in values.items() if value}

    def without_status(self) -> Filters:
        return replace(self, status=None)

    def is_empty(self) -> bool:
        return all(getattr(self, item.name) is None for item in fields(self))


def _text(args: Mapping, name: str) -> str:
    value = args.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_date(raw: str, label: str, errors: list[str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{label}“{raw[:20]}”格式不正确（应为 年-月-日，如 2026-11-30），已忽略该条件")
        return None


def parse_choice(raw: str, allowed, label: str, errors: list[str]) -> str | None:
    if not raw:
        return None
    if raw in allowed:
        return raw
    errors.append(f"{label}“{raw[:20]}”无法识别，已忽略该条件")
    return None


def parse_dates(args: Mapping, errors: list[str]) -> tuple[date | None, date | None]:
    date_from = parse_date(_text(args, "date_from"), "开始日期", errors)
    date_to = parse_date(_text(args, "date_to"), "结束日期", errors)
    if date_from and date_to and date_from > date_to:
        errors.append("开始日期晚于结束日期，已忽略日期条件")
        return None, None
    if date_from and date_to and (date_to - date_from).days > MAX_RANGE_DAYS:
        errors.append("日期范围超过十年，已忽略日期条件")
        return None, None
    return date_from, date_to


def parse(args: Mapping, teller_ids=None, typologies=None,
          search: Search | None = None) -> tuple[Filters, list[str]]:
    """Read the queue filters; returns (filters, messages about ignored values). `search`
    (kept in the session) applies when the query string says search=1."""
    errors: list[str] = []
    date_from, date_to = parse_dates(args, errors)
    typologies = typologies if typologies is not None else labels.typology_labels()
    teller_id = None
    raw_teller = _text(args, "teller")
    if raw_teller:
        number = int(raw_teller) if re.fullmatch(r"[0-9]{1,18}", raw_teller) else None
        if number is not None and (teller_ids is None or number in teller_ids):
            teller_id = number
        else:
            errors.append("柜员条件无法识别，已忽略该条件")
    reference = _text(args, "reference").upper() or None
    if reference and not REFERENCE_PATTERN.match(reference):
        errors.append("业务编号只能包含字母、数字和短横线，已忽略该条件")
        reference = None
    filters = Filters(
        date_from=date_from, date_to=date_to,
        level=parse_choice(_text(args, "level"), labels.LEVELS, "风险等级", errors),
        typology=parse_choice(_text(args, "typology"), typologies, "诈骗类型", errors),
        teller_id=teller_id,
        status=parse_choice(_text(args, "status"), state.STATUS_LABELS, "复核状态", errors),
        outcome=parse_choice(_text(args, "outcome"), labels.OUTCOMES, "办理结果", errors),
        reference=reference,
        search=search if _text(args, "search") == "1" else None,
    )
    return filters, errors


def parse_cursor(args: Mapping) -> int | None:
    """The keyset cursor: show sessions with an id below this one."""
    raw = _text(args, "after")
    return int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else None


def day_bounds(date_from: date | None, date_to: date | None) -> tuple[str | None, str | None]:
    """Bounds for started_at (stored in UTC): [from 00:00, the day after `to` 00:00) in the
    bank's zone (clock.day_range). Up to 9999-12-31, the last day a date can hold, is no
    upper bound at all."""
    return clock.day_range(date_from, date_to)
