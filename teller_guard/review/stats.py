"""Statistics (统计) over a date range, as plain numbers the page, the SVG charts and the CSV share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from .. import clock, labels
from . import state

DEFAULT_DAYS = 30
PROTECTED_LEVELS = ("high", "critical")
MAX_CHART_DAYS = 3660  # filters.MAX_RANGE_DAYS: the longest period a page can ask for


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
    # (level or '', outcome, count, fen): sessions with an outcome, by both
    level_outcomes: list[tuple[str, str, int, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.per_day)

    @property
    def queued(self) -> int:
        return sum(count for _, count in self.dispositions)

    def _protected(self) -> list[tuple[str, str, int, int]]:
        """保护金额 counts a transfer stopped because of the screening: a 高/极高风险 case the
        customer cancelled or that was reported to the police, nothing else."""
        return [row for row in self.level_outcomes
                if row[0] in PROTECTED_LEVELS and row[1] in labels.PROTECTED_OUTCOMES]

    @property
    def protected_fen(self) -> int:
        return sum(fen for _, _, _, fen in self._protected())

    @property
    def protected_count(self) -> int:
        return sum(n for _, _, n, _ in self._protected())

    def level_outcome_table(self) -> list[tuple[str, list[int], int]]:
        """(level, count per labels.OUTCOMES in order, row total) for every level that has
        one, in LEVELS order: the 风险等级 x 办理结果 table."""
        counts = {(level, outcome): n for level, outcome, n, _ in self.level_outcomes}
        order = [*labels.LEVELS, ""]
        found = sorted({level for level, _, _, _ in self.level_outcomes},
                       key=lambda level: order.index(level) if level in order else 99)
        table = []
        for level in found:
            cells = [counts.get((level, outcome), 0) for outcome in labels.OUTCOMES]
            table.append((level, cells, sum(n for (row_level, _), n in counts.items()
                                            if row_level == level)))
        return table

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
    today = today or clock.today()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def _figures(db_rows: dict[str, list[dict]]) -> dict[str, list[tuple]]:
    return {name: [tuple(row.values()) for row in rows] for name, rows in db_rows.items()}


def every_day(per_day: list[tuple[str, int]], date_from: date | None,
              date_to: date | None) -> list[tuple[str, int]]:
    """One (day, count) per day of the period, days without a screening as 0, so the chart's
    columns are the period's days. An open end is taken from the first or last day found."""
    counts = dict(per_day)
    days = sorted(counts)
    try:
        first = date_from or (date.fromisoformat(days[0]) if days else None)
        last = date_to or (date.fromisoformat(days[-1]) if days else None)
    except ValueError:  # a stored day that is no date: show what is stored
        return per_day
    if first is None or last is None or (last - first).days > MAX_CHART_DAYS:
        return per_day
    span = [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]
    return [(day, counts.get(day, 0)) for day in span]


def _compute(db_rows: dict[str, list[dict]], date_from: date | None,
             date_to: date | None) -> Statistics:
    figures = _figures(db_rows)
    figures["per_day"] = every_day(figures["per_day"], date_from, date_to)
    return Statistics(date_from=date_from, date_to=date_to, **figures)


def compute(db, date_from: date | None, date_to: date | None,
            branch_ids: tuple[int, ...] | None = None) -> Statistics:
    """The whole bank's (branch_ids None) from the daily tables the triggers keep (migration
    m007): fast at any range; some branches' from their sessions (storage.review.statistics)."""
    from ..storage import review  # here, so the figures and export.py import without Flask

    return _compute(review.statistics(db, date_from, date_to, branch_ids), date_from, date_to)


def compute_from_sessions(db, date_from: date | None, date_to: date | None) -> Statistics:
    """The same figures straight from the sessions table (slow at scale; used to check the
    daily tables in tests)."""
    from ..storage import review

    return _compute(review.statistics_from_sessions(db, date_from, date_to), date_from, date_to)
