"""Statistics (统计) over a date range, as plain numbers the page, the SVG charts and the CSV share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from .. import labels
from . import state
from .filters import day_bounds

DEFAULT_DAYS = 30


@dataclass
class Statistics:
    date_from: date | None
    date_to: date | None
    per_day: list[tuple[str, int]] = field(default_factory=list)
    levels: list[tuple[str, int]] = field(default_factory=list)  # (level or '', count)
    typologies: list[tuple[str, int]] = field(default_factory=list)  # queued, by typology
    tellers: list[tuple[int, int, int]] = field(default_factory=list)  # (teller, all, queued)
    outcomes: list[tuple[str, int, int]] = field(default_factory=list)  # (outcome, n, fen)
    dispositions: list[tuple[str, int]] = field(default_factory=list)  # queued, by status
    durations: list[tuple[int, int]] = field(default_factory=list)  # (seconds, count)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.per_day)

    @property
    def queued(self) -> int:
        return sum(count for _, count in self.dispositions)

    @property
    def protected_fen(self) -> int:
        return sum(fen for outcome, _, fen in self.outcomes if outcome in labels.PROTECTED_OUTCOMES)

    @property
    def protected_count(self) -> int:
        return sum(n for outcome, n, _ in self.outcomes if outcome in labels.PROTECTED_OUTCOMES)

    @property
    def median_duration(self) -> float | None:
        return median_of_histogram(self.durations)

    @property
    def closed(self) -> int:
        return sum(count for status, count in self.dispositions if status in state.CLOSED)

    @property
    def false_alarms(self) -> int:
        return sum(count for status, count in self.dispositions if status == "false_alarm")

    @property
    def false_alarm_share(self) -> float | None:
        return self.false_alarms / self.closed if self.closed else None


def median_of_histogram(histogram: list[tuple[int, int]]) -> float | None:
    """Median of values given as (value, how many); the mean of the two middle ones if even."""
    values = sorted((value, count) for value, count in histogram if count > 0)
    total = sum(count for _, count in values)
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # zero-based positions of the middle value(s)
    found, seen = [], 0
    for value, count in values:
        while wanted and wanted[0] < seen + count:
            found.append(value)
            wanted.pop(0)
        seen += count
    return sum(found) / len(found)


def default_range(today: date | None = None) -> tuple[date, date]:
    today = today or date.today()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def _day_condition(date_from, date_to) -> tuple[str, list]:
    conditions, params = ["1"], []
    if date_from:
        conditions.append("day >= ?")
        params.append(date_from.isoformat())
    if date_to:
        conditions.append("day <= ?")
        params.append(date_to.isoformat())
    return " AND ".join(conditions), params


def compute(db, date_from: date | None, date_to: date | None) -> Statistics:
    """Read the daily tables the triggers keep (review/schema.py): fast at any range."""
    where, params = _day_condition(date_from, date_to)

    def rows(sql):
        return [tuple(row) for row in db.execute(sql.format(where=where), params)]

    return Statistics(
        date_from=date_from, date_to=date_to,
        per_day=rows("SELECT day, sum(n) FROM stats_day_level WHERE {where} GROUP BY day "
                     "HAVING sum(n) > 0 ORDER BY day"),
        levels=rows("SELECT level, sum(n) FROM stats_day_level WHERE {where} GROUP BY level "
                    "HAVING sum(n) > 0"),
        typologies=rows("SELECT typology, sum(n) FROM stats_day_queue WHERE {where} "
                        "GROUP BY typology HAVING sum(n) > 0 ORDER BY 2 DESC, 1"),
        tellers=rows("SELECT teller_id, sum(n), sum(queued) FROM stats_day_teller "
                     "WHERE {where} GROUP BY teller_id HAVING sum(n) > 0 ORDER BY 2 DESC, 1"),
        outcomes=rows("SELECT outcome, sum(n), sum(amount_fen) FROM stats_day_outcome "
                      "WHERE {where} GROUP BY outcome HAVING sum(n) > 0 ORDER BY 2 DESC"),
        dispositions=rows("SELECT review_status, sum(n) FROM stats_day_queue WHERE {where} "
                          "GROUP BY review_status HAVING sum(n) > 0"),
        durations=rows("SELECT seconds, sum(n) FROM stats_day_duration WHERE {where} "
                       "GROUP BY seconds HAVING sum(n) > 0"),
    )


def compute_from_sessions(db, date_from: date | None, date_to: date | None) -> Statistics:
    """The same figures straight from the sessions table (slow at scale; used to check the
    daily tables in tests and by `teller-guard verify --stats`)."""
    low, high = day_bounds(date_from, date_to)
    conditions, params = ["1"], []
    if low:
        conditions.append("started_at >= ?")
        params.append(low)
    if high:
        conditions.append("started_at < ?")
        params.append(high)
    where = " AND ".join(conditions)

    def rows(sql):
        return [tuple(row) for row in db.execute(sql.format(where=where), params)]

    return Statistics(
        date_from=date_from, date_to=date_to,
        per_day=rows("SELECT substr(started_at, 1, 10) AS day, count(*) FROM sessions "
                     "WHERE {where} GROUP BY day ORDER BY day"),
        levels=rows("SELECT IFNULL(level, ''), count(*) FROM sessions WHERE {where} GROUP BY 1"),
        typologies=rows("SELECT IFNULL(typology, ''), count(*) FROM sessions "
                        "WHERE {where} AND in_queue = 1 GROUP BY 1 ORDER BY 2 DESC, 1"),
        tellers=rows("SELECT teller_id, count(*), sum(IFNULL(in_queue, 0)) FROM sessions "
                     "WHERE {where} GROUP BY teller_id ORDER BY 2 DESC, 1"),
        outcomes=rows("SELECT outcome, count(*), IFNULL(sum(amount_fen), 0) FROM sessions "
                      "WHERE {where} AND outcome IS NOT NULL GROUP BY outcome ORDER BY 2 DESC"),
        dispositions=rows("SELECT IFNULL(review_status, 'pending'), count(*) FROM sessions "
                          "WHERE {where} AND in_queue = 1 GROUP BY 1"),
        durations=rows("SELECT duration_seconds, count(*) FROM sessions WHERE {where} "
                       "AND duration_seconds IS NOT NULL GROUP BY duration_seconds"),
    )
