"""CSV exports (UTF-8 with BOM so Excel opens the Chinese correctly). Pure: no Flask.

Personal data is masked unless the caller passes the vault values it has read (and logged).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from .. import labels
from . import state
from .stats import Statistics

BOM = "\ufeff"
MAX_FULL_ROWS = 1000  # a full personal-data export is for one case file, not the whole queue
QUEUE_HEADER = ["业务编号", "开始时间", "柜员", "风险等级", "风险评分", "主要诈骗类型", "金额（元）",
                "收款账户（脱敏）", "客户姓名（脱敏）", "客户身份证号（脱敏）", "主管书面放行",
                "办理结果", "复核状态", "复核人"]


def excel_time(iso: str | None) -> str:
    """'2026-11-30T02:05:09+00:00' -> '2026-11-30 10:05:09': the bank's local time, in the
    form Excel and WPS read as a date and time, not text."""
    return labels.when(iso)


def masked_customer(row: dict) -> tuple[str, str]:
    """(masked name, masked ID number) from the stored form's facts; sessions.customer_masked
    holds only one of them (the name when there is one)."""
    form = row.get("form") or {}
    try:
        form = json.loads(form) if isinstance(form, (str, bytes)) else form
    except ValueError:
        form = {}
    facts = form.get("facts") if isinstance(form, dict) else None
    if not isinstance(facts, dict):
        facts = {}
    name, id_number = facts.get("customer_name") or "", facts.get("customer_id_number") or ""
    if not name and not id_number:  # an older or odd form: the column is all there is
        return row.get("customer_masked") or "", ""
    return str(name), str(id_number)


def _safe(value) -> str | int | float:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _line(values: Iterable) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_safe(value) for value in values])
    return buffer.getvalue()


def queue_lines(rows: Iterable[dict], names: dict[int, str], typologies: dict[str, str],
                vault: dict[int, dict[str, str]] | None = None) -> Iterator[str]:
    """The header, then one line per session; with `vault`, the full personal data columns."""
    pii_fields = list(labels.PII_FIELDS)
    if vault is not None:
        extra = sorted({name for values in vault.values() for name in values} - set(pii_fields))
        pii_fields += extra
    header = QUEUE_HEADER + ([labels.PII_FIELDS.get(name, name) for name in pii_fields]
                             if vault is not None else [])
    yield BOM + _line(header)
    for row in rows:
        values = [
            row["reference"], excel_time(row["started_at"]),
            names.get(row["teller_id"], row["teller_id"]),
            labels.LEVELS.get(row["level"], "未评估"), row["score"],
            typologies.get(row["typology"], row["typology"] or ""),
            labels.yuan_plain(row["amount_fen"]), row["payee_masked"], *masked_customer(row),
            "是" if row["supervisor_decision"] == "override" else "否",
            labels.OUTCOMES.get(row["outcome"], row["outcome"] or "未记录"),
            state.label(row["review_status"]), names.get(row["assignee_id"], ""),
        ]
        if vault is not None:
            session_vault = vault.get(row["id"], {})
            values += [session_vault.get(name, "") for name in pii_fields]
        yield _line(values)


def statistics_text(stats: Statistics, names: dict[int, str], typologies: dict[str, str]) -> str:
    period = (f"{stats.date_from or '最早'} 至 {stats.date_to or '今天'}")
    median = stats.median_duration
    share = stats.false_alarm_share
    lines = [
        _line(["统计期间", period]),
        _line([]),
        _line(["指标", "数值"]),
        _line(["问询总数", stats.total]),
        _line(["进入复核队列", stats.queued]),
        _line(["保护金额（元，高风险、极高风险中已取消或已报警）", labels.yuan_plain(stats.protected_fen)]),
        _line(["保护笔数", stats.protected_count]),
        _line(["问询时长中位数（秒）", "" if median is None else round(median, 1)]),
        _line(["已结案", stats.closed]),
        _line(["误报", stats.false_alarms]),
        _line(["误报占已结案比例", "" if share is None else f"{share:.1%}"]),
        _line([]),
        _line(["日期", "问询数"]),
        *(_line([day, count]) for day, count in stats.per_day),
        _line([]),
        _line(["风险等级", "问询数"]),
        *(_line([labels.LEVELS.get(level, "未评估"), count]) for level, count in
          ordered_levels(stats.levels)),
        _line([]),
        _line(["诈骗类型（复核队列）", "预警数"]),
        *(_line([typologies.get(typology, typology) if typology else "未识别类型", count])
          for typology, count in stats.typologies),
        _line([]),
        _line(["柜员", "问询数", "进入复核队列"]),
        *(_line([names.get(teller, teller), total, queued or 0])
          for teller, total, queued in stats.tellers),
        _line([]),
        _line(["办理结果", "笔数", "金额（元）"]),
        *(_line([labels.OUTCOMES.get(outcome, outcome), count, labels.yuan_plain(fen)])
          for outcome, count, fen in stats.outcomes),
        _line([]),
        _line(["复核状态", "案件数"]),
        *(_line([state.label(status), count]) for status, count in stats.dispositions),
        _line([]),
        _line(["风险等级 × 办理结果", *labels.OUTCOMES.values(), "合计"]),
        *(_line([labels.LEVELS.get(level, "未评估"), *cells, total])
          for level, cells, total in stats.level_outcome_table()),
    ]
    return BOM + "".join(lines)


def ordered_levels(levels: list[tuple[str, int]]) -> list[tuple[str, int]]:
    order = [*labels.LEVELS, ""]
    return sorted(levels, key=lambda item: order.index(item[0]) if item[0] in order else 99)
