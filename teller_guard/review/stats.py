"""Statistics (统计) over a date range, as plain numbers the page, the SVG charts and the CSV share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from .. import labels
from . import state

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


def _figures(db_rows: dict[str, list[dict]]) -> dict[str, list[tuple]]:
    return {name: [tuple(row.values()) for row in rows] for name, rows in db_rows.items()}


def compute(db, date_from: date | None, date_to: date | None) -> Statistics:
    """Read the daily tables the triggers keep (migration m007): fast at any range."""
    from ..storage import review  # here, so the figures and export.py import without Flask

    return Statistics(date_from=date_from, date_to=date_to,
                      **_figures(review.statistics(db, date_from, date_to)))


def compute_from_sessions(db, date_from: date | None, date_to: date | None) -> Statistics:
    """The same figures straight from the sessions table (slow at scale; used to check the
    daily tables in tests)."""
    from ..storage import review

    return Statistics(date_from=date_from, date_to=date_to,
                      **_figures(review.statistics_from_sessions(db, date_from, date_to)))
