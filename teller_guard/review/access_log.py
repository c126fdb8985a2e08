"""Who exported what, and who read full personal data (the 导出与查阅记录 page).

These are ledger events (export.queue, export.statistics, watchlist.exported, pii.accessed),
so the list is as tamper-evident as the ledger; this module only finds and words them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import audit, labels
from ..storage import review
from . import queries, state, timeline

KINDS = review.ACCESS_KINDS
PAGE_SIZE = 50
FILTER_LABELS = {"date_from": "开始日期", "date_to": "结束日期", "level": "风险等级",
                 "typology": "诈骗类型", "teller": "柜员", "status": "复核状态",
                 "outcome": "办理结果", "reference": "业务编号",
                 "search": "按账号尾号、客户姓氏或身份证号尾号查找"}


@dataclass(frozen=True)
class AccessEvent:
    id: int
    at: str
    actor: str
    kind: str
    label: str
    details: str
    session_id: int | None
    reference: str | None


def page(db, names: dict[int, str], typologies: dict[str, str], *, kind: str | None = None,
         actor_id: int | None = None, before: int | None = None,
         limit: int = PAGE_SIZE,
         branch_ids: tuple[int, ...] | None = None) -> tuple[list[AccessEvent], int | None]:
    """Newest first, of these branches (None: all); returns the events and the `before` of the
    next page (None at the end)."""
    rows = review.access_events(db, kind, actor_id, before, limit + 1, branch_ids)
    events = [_event(row, names, typologies) for row in rows[:limit]]
    return events, (events[-1].id if len(rows) > limit else None)


def _event(row, names: dict[int, str], typologies: dict[str, str]) -> AccessEvent:
    at, data = queries.shown(row["at"]), queries.event_data(queries.shown(row["data"]))
    actor_id, kind = row["actor_id"], row["kind"]
    actor = names.get(actor_id, f"用户 {actor_id}") if actor_id is not None else "系统"
    return AccessEvent(row["id"], at, actor, kind, audit.KINDS.get(kind, kind),
                       describe(kind, data, names, typologies), row["session_id"],
                       row["reference"])


def describe(kind: str, data: dict, names: dict[int, str], typologies: dict[str, str]) -> str:
    """One event's details in Chinese: what was exported, how many rows, with which filters."""
    if kind == "export.queue":
        text = (f"复核队列 CSV，{data.get('rows', '?')} 条；"
                + ("含完整个人信息" if data.get("full") else "个人信息已脱敏"))
        filters = data.get("filters")
        if isinstance(filters, dict) and filters:
            text += "；筛选：" + "，".join(
                f"{FILTER_LABELS.get(name, name)} {_filter_value(name, value, names, typologies)}"
                for name, value in filters.items())
        return text
    if kind == "export.statistics":
        return f"统计 CSV，{data.get('date_from', '')} 至 {data.get('date_to', '')}"
    if kind == "watchlist.exported":
        return f"高风险收款账户 CSV，{data.get('rows', '?')} 条"
    return timeline.describe(kind, data, names, typologies)


def _filter_value(name: str, value, names: dict[int, str], typologies: dict[str, str]) -> str:
    if name == "level":
        return labels.LEVELS.get(value, str(value))
    if name == "typology":
        return typologies.get(value, str(value))
    if name == "status":
        return state.label(value)
    if name == "outcome":
        return labels.OUTCOMES.get(value, str(value))
    if name == "search":  # the terms are not logged: the search was applied
        return "是"
    if name == "teller":
        user_id = int(value) if isinstance(value, str) and value.isascii() and value.isdigit() \
            else None
        return names.get(user_id, str(value))
    return str(value)
