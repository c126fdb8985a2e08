"""Statistics: the daily tables the triggers keep equal the sessions table; the page shows
inline SVG charts and the same figures as tables."""

import random
import re
from datetime import date

import pytest
from test_review_support import make_session

from teller_guard import labels
from teller_guard.review import stats, svg

pytestmark = pytest.mark.both_backends


NOV = (date(2026, 11, 1), date(2026, 11, 30))


def figures_equal(first: stats.Statistics, second: stats.Statistics) -> None:
    for name in ("per_day", "levels", "typologies", "tellers", "outcomes", "dispositions",
                 "durations", "level_outcomes"):
        assert sorted(getattr(first, name)) == sorted(getattr(second, name)), name


@pytest.fixture
def november(app, database):
    make_session(app, database, level="critical", outcome="police_called", amount_fen=8_000_000,
                 started_at="2026-11-03T09:00:00+08:00", duration_seconds=600)
    make_session(app, database, "teller2", level="high", outcome="cancelled", amount_fen=2_000_000,
                 typology="task_rebate", started_at="2026-11-03T10:00:00+08:00", duration_seconds=300)
    make_session(app, database, level="low", outcome="proceeded", amount_fen=100_000,
                 started_at="2026-11-04T10:00:00+08:00", duration_seconds=60)
    make_session(app, database, level="medium", outcome=None, started_at="2026-11-05T10:00:00+08:00")
    make_session(app, database, level="high", outcome="cancelled", amount_fen=999,
                 started_at="2026-10-01T10:00:00+08:00")  # outside the range


def test_figures(database, november):
    figures = stats.compute(database, *NOV)
    # one day per day of the period, days without a screening as 0
    assert len(figures.per_day) == 30 and figures.per_day[0] == ("2026-11-01", 0)
    assert [item for item in figures.per_day if item[1]] == [
        ("2026-11-03", 2), ("2026-11-04", 1), ("2026-11-05", 1)]
    assert figures.per_day[-1] == ("2026-11-30", 0)
    assert dict(figures.levels) == {"critical": 1, "high": 1, "low": 1, "medium": 1}
    assert dict(figures.typologies) == {"gov_impersonation": 1, "task_rebate": 1}
    assert figures.protected_fen == 10_000_000 and figures.protected_count == 2
    assert figures.median_duration == 300
    assert figures.total == 4 and figures.queued == 2
    assert figures.false_alarm_share is None
    figures_equal(figures, stats.compute_from_sessions(database, *NOV))


def test_the_daily_tables_follow_every_kind_of_write(app, database, november):
    """Inserts, updates of every watched column, deletes: the tables still equal a recount."""
    rng = random.Random(5)
    ids = [row[0] for row in database.execute("SELECT id FROM sessions")]
    for _ in range(40):
        ids.append(make_session(app, database, rng.choice(["teller", "teller2"]),
                                level=rng.choice(["low", "medium", "high", "critical"]),
                                outcome=rng.choice([None, "proceeded", "cancelled", "police_called"]),
                                started_at=f"2026-11-{rng.randint(1, 30):02d}T10:00:00+08:00",
                                duration_seconds=rng.randint(30, 900)))
    changes = [
        ("level", lambda: rng.choice(["low", "high", None])),
        ("review_status", lambda: rng.choice(["pending", "in_review", "false_alarm", None])),
        ("in_queue", lambda: rng.choice([0, 1])),
        ("outcome", lambda: rng.choice(["cancelled", "delayed", None])),
        ("amount_fen", lambda: rng.randint(0, 10**7)),
        ("duration_seconds", lambda: rng.choice([None, rng.randint(1, 999)])),
        ("typology", lambda: rng.choice(["fake_loan", None])),
        # discarded and back (0006): the row leaves its day's figures and returns
        ("status", lambda: rng.choice(["draft", "finished", "discarded", "discarded"])),
        ("started_at", lambda: f"2026-{rng.choice(['10', '11', '12'])}-0{rng.randint(1, 9)}T08:00:00+08:00"),
    ]
    for session_id in rng.sample(ids, 30):
        column, value = rng.choice(changes)
        database.execute(f"UPDATE sessions SET {column} = ? WHERE id = ?", [value(), session_id])
    for session_id in rng.sample(ids, 5):
        database.execute("DELETE FROM sessions WHERE id = ?", [session_id])
    # whole months (the month table), parts of months (the daily one) and both together
    for date_range in (NOV, (None, None), (date(2026, 12, 1), date(2026, 12, 31)),
                       (date(2026, 10, 5), date(2026, 12, 3)), (date(2026, 11, 2), None),
                       (None, date(2026, 11, 7)), (date(2026, 11, 3), date(2026, 11, 20)),
                       (date(2026, 10, 1), date(2026, 11, 30)), (date(2026, 12, 9), date(2026, 10, 2)),
                       (date(2026, 11, 5), date.max), (date.max, None), (None, date.max)):
        figures_equal(stats.compute(database, *date_range),
                      stats.compute_from_sessions(database, *date_range))
    assert month_durations(database) == month_durations_recounted(database)


def month_durations(database) -> list[tuple]:
    return [tuple(row) for row in database.execute(
        "SELECT month, seconds, n FROM stats_month_duration WHERE n <> 0 ORDER BY 1, 2")]


def month_durations_recounted(database) -> list[tuple]:
    return [tuple(row) for row in database.execute(
        "SELECT substr(started_at, 1, 7), duration_seconds, count(*) FROM sessions "
        "WHERE duration_seconds IS NOT NULL AND status != 'discarded' GROUP BY 1, 2 ORDER BY 1, 2")]


@pytest.mark.parametrize(("period", "months"), [
    ((date(2026, 11, 1), date(2026, 11, 30)), (date(2026, 11, 1), date(2026, 12, 1))),
    ((date(2026, 10, 15), date(2027, 1, 10)), (date(2026, 11, 1), date(2027, 1, 1))),
    ((date(2026, 11, 2), date(2026, 11, 29)), (date(2026, 12, 1), date(2026, 11, 1))),
    ((None, date(2026, 2, 28)), (None, date(2026, 3, 1))),
    ((date(2026, 12, 31), None), (date(2027, 1, 1), None)),
])
def test_whole_months_of_a_period(period, months):
    from teller_guard.storage import review

    assert review.whole_months(*period) == months


def test_false_alarm_share(app, database):
    for status in ("false_alarm", "false_alarm", "dissuaded", "confirmed_fraud", "in_review"):
        session_id = make_session(app, database, level="high", started_at="2026-11-09T10:00:00+08:00")
        database.execute("UPDATE sessions SET review_status = ? WHERE id = ?", [status, session_id])
    figures = stats.compute(database, *NOV)
    assert figures.closed == 4 and figures.false_alarms == 2 and figures.false_alarm_share == 0.5


@pytest.mark.parametrize(("histogram", "median"), [
    ([], None), ([(10, 1)], 10), ([(10, 1), (20, 1)], 15), ([(10, 2), (20, 1)], 10),
    ([(30, 1), (10, 1), (20, 1)], 20), ([(5, 0), (7, 3), (100, 2)], 7), ([(1, 2), (9, 2)], 5),
])
def test_median_of_histogram(histogram, median):
    assert stats.median_of_histogram(histogram) == median


def test_statistics_page(client, auth, november):
    auth.login("supervisor")
    html = client.get("/review/statistics?date_from=2026-11-01&date_to=2026-11-30").get_data(as_text=True)
    assert html.count("<svg") == 4 and 'role="img"' in html and "<title" in html
    assert "每日问询量" in html and "风险等级分布" in html and "复核队列按诈骗类型" in html
    assert "100,000.00" in html  # amount protected, in yuan
    assert "5 分 0 秒" in html  # median duration
    assert re.search(r'<th scope="row">极高风险</th><td class="num">1</td>', html)
    assert re.search(r'<th scope="row">2026-11-03</th><td class="num">2</td>', html)
    assert " style=" not in html and "<style" not in html


def test_statistics_default_and_bad_dates(client, auth):
    auth.login("security")
    response = client.get("/review/statistics")
    assert response.status_code == 200 and "统计期间" in response.get_data(as_text=True)
    bad = client.get("/review/statistics?date_from=2026-02-30&date_to=x")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200
    assert "开始日期“2026-02-30”格式不正确" in html and "结束日期“x”格式不正确" in html


def test_svg_escapes_labels_and_uses_presentation_attributes():
    chart = str(svg.bar_chart([("<b>柜员</b>", 3), ("张&三", 0)], "标题<x>"))
    assert "<b>" not in chart and "&lt;b&gt;柜员" in chart and "张&amp;三" in chart
    assert 'fill="#0b4f8a"' in chart and "style" not in chart
    columns = str(svg.column_chart([("2026-11-01", 2), ("2026-11-02", 0)], "每日"))
    assert columns.count("<rect") == 2 and "11-01" in columns
    assert "无数据" in str(svg.column_chart([], "空"))


def test_yuan_and_duration_labels():
    assert labels.yuan(123456789) == "1,234,567.89" and labels.yuan(5) == "0.05"
    assert labels.yuan(None) == "" and labels.duration(59) == "59 秒"
    assert labels.duration(125.4) == "2 分 5 秒"


def test_protected_amount_counts_only_high_and_critical_cancelled_or_reported(app, database,
                                                                             november):
    """A 低/中风险 transfer the customer dropped was not stopped by the screening."""
    make_session(app, database, level="low", outcome="cancelled", amount_fen=70_000_000,
                 started_at="2026-11-06T10:00:00+08:00")
    make_session(app, database, level="medium", outcome="police_called", amount_fen=30_000_000,
                 started_at="2026-11-07T10:00:00+08:00")
    make_session(app, database, level="critical", outcome="proceeded", amount_fen=5_000_000,
                 override=True, started_at="2026-11-08T10:00:00+08:00")
    figures = stats.compute(database, *NOV)
    assert figures.protected_fen == 10_000_000 and figures.protected_count == 2
    table = {level: (cells, total) for level, cells, total in figures.level_outcome_table()}
    outcomes = list(labels.OUTCOMES)
    assert list(table) == ["low", "medium", "high", "critical"]
    assert table["low"] == ([1, 1, 0, 0, 0], 2)
    assert table["medium"][0][outcomes.index("police_called")] == 1
    assert table["critical"] == ([1, 0, 0, 1, 0], 2)
    figures_equal(figures, stats.compute_from_sessions(database, *NOV))


def test_an_open_period_runs_from_the_first_to_the_last_day_found(database, november):
    figures = stats.compute(database, None, None)
    assert [day for day, _ in figures.per_day] == [
        "2026-10-01", *(f"2026-10-{day:02d}" for day in range(2, 32)),
        *(f"2026-11-{day:02d}" for day in range(1, 6))]
    assert dict(figures.per_day)["2026-10-15"] == 0


def test_the_page_shows_the_level_by_outcome_table_and_a_column_a_day(client, auth, november):
    auth.login("supervisor")
    html = client.get("/review/statistics?date_from=2026-11-01&date_to=2026-11-30").get_data(
        as_text=True)
    table = html.split('<table class="data level-outcome"', 1)[1].split("</table>", 1)[0]
    assert [labels.OUTCOMES[code] in table for code in labels.OUTCOMES] == [True] * 5
    assert '<th scope="row">极高风险</th><td class="num">0</td><td class="num">0</td>' in table
    chart = html.split("每日问询量", 2)[2].split("</svg>", 1)[0]
    assert chart.count("<rect") == 30  # one column per day of the period, zeros included
