"""Bank-wide statistics: the rows of storage/head_office.statistics folded into figures per
period (day, week, month), per group of the level below (branches of the bank, tellers of a
branch) and per typology.

Definitions (docs/head_office.md):
- 问询量: screenings started in the range, discarded ones left out;
- 劝阻: a 高/极高 screening whose outcome is 取消交易 (cancelled) or 已报警 (police_called); its
  amount is the amount protected;
- 误报率: of the queued cases closed with a disposition, the share closed as 误报 (false_alarm);
- 用时中位数: read from a histogram of 30-second buckets (5 minutes above 10 minutes, one
  bucket above an hour): the middle of the bucket holding the median (the lower median for an
  even count), so within 15 s (150 s between 10 minutes and an hour).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from .. import clock
from ..storage.branch_stats import COARSE_LIMIT, bucket_width

GRANULARITIES = {"day": "按日", "week": "按周", "month": "按月"}
LEVEL_ORDER = ("critical", "high", "medium", "low", "")


@dataclass
class Figures:
    """One row of the tables: a period, a branch, a teller, or the whole range."""
    n: int = 0
    amount_fen: int = 0
    stopped: int = 0
    stopped_fen: int = 0
    closed: int = 0
    false_alarms: int = 0
    levels: dict[str, int] = field(default_factory=dict)
    durations: dict[int, int] = field(default_factory=dict)  # bucket -> finished screenings

    def add(self, row) -> None:
        for name in ("n", "amount_fen", "stopped", "stopped_fen", "closed", "false_alarms"):
            setattr(self, name, getattr(self, name) + int(row[name] or 0))
        if int(row["n"] or 0):  # the tables keep rows whose count went back to 0
            self.levels[row["level"]] = self.levels.get(row["level"], 0) + int(row["n"])

    @property
    def false_alarm_share(self) -> float | None:
        return self.false_alarms / self.closed if self.closed else None

    @property
    def median_bucket(self) -> int | None:
        return median_bucket(self.durations)

    @property
    def median_seconds(self) -> int | None:
        bucket = self.median_bucket
        if bucket is None:
            return None
        return bucket if bucket >= COARSE_LIMIT else bucket + bucket_width(bucket) // 2


def median_bucket(histogram: dict[int, int]) -> int | None:
    """The bucket holding the lower median (the ((N + 1) // 2)-th smallest value)."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank, seen = (total + 1) // 2, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return None


def period_of(day: str, granularity: str) -> str:
    """The period a day (YYYY-MM-DD) falls in: the day, its week's Monday, or YYYY-MM (as
    storage/head_office.period_expression computes it in SQL)."""
    if granularity == "month":
        return day[:7]
    if granularity == "week":
        moment = date.fromisoformat(day)
        return (moment - timedelta(days=moment.weekday())).isoformat()
    return day


@dataclass
class Statistics:
    total: Figures
    periods: list[tuple[str, Figures]]
    groups: list[tuple[int, Figures]]
    typologies: list[tuple[str, int, int, int]]  # typology, n, stopped, stopped_fen


def fold(rows: dict) -> Statistics:
    """The figures from storage/head_office.statistics' rows (grouped by period already)."""
    total = Figures()
    periods: dict[str, Figures] = defaultdict(Figures)
    groups: dict[int, Figures] = defaultdict(Figures)
    for row in rows["periods"]:
        total.add(row)
        periods[row["period"]].add(row)
    for row in rows["period_durations"]:
        bucket, n = int(row["bucket"]), int(row["n"] or 0)
        if not n:
            continue
        for figures in (total, periods[row["period"]]):
            figures.durations[bucket] = figures.durations.get(bucket, 0) + n
    group_column = next((name for name in ("branch_id", "teller_id")
                         if rows["groups"] and name in rows["groups"][0]), None)
    for row in rows["groups"]:
        groups[int(row[group_column] or 0)].add(row)
    for row in rows["group_durations"]:
        if not int(row["n"] or 0):
            continue
        key = int(row.get("branch_id", row.get("teller_id")) or 0)
        groups[key].durations[int(row["bucket"])] = (
            groups[key].durations.get(int(row["bucket"]), 0) + int(row["n"] or 0))
    typologies = sorted(((row["typology"], int(row["n"] or 0), int(row["stopped"] or 0),
                          int(row["stopped_fen"] or 0)) for row in rows["typologies"]
                         if int(row["n"] or 0) > 0), key=lambda item: (-item[1], item[0]))
    return Statistics(
        total,
        sorted((key, figures) for key, figures in periods.items() if figures.n
               or figures.durations),
        sorted(((key, figures) for key, figures in groups.items() if figures.n),
               key=lambda item: (-item[1].n, item[0])),
        typologies)


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last 30 days up to today."""
    today = today or clock.today()
    return today - timedelta(days=29), today
