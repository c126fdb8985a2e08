"""The one clock (issue 14): stored times are UTC, the bank's zone is at the edges.

The bank here is in Asia/Shanghai (UTC+8) and the screening happens at 01:30 on 3 December
there, still 2 December in UTC: every place that used the server's date or started_at's first
ten characters would put it on the wrong day. The test machine itself runs in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from api_helpers import BENIGN, call, post
from conftest import open_database

from teller_guard import clock, config
from teller_guard.storage import branch_stats, business_day, duration_months, review, stats_triggers

pytestmark = pytest.mark.both_backends

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATE = datetime(2026, 12, 2, 17, 30, tzinfo=UTC)  # 2026-12-03 01:30 in Shanghai


@pytest.fixture(autouse=True)
def bank_in_shanghai(monkeypatch):
    """Before the app is made (autouse fixtures come first): the bank's zone, and a clock
    stopped at LATE."""
    monkeypatch.setenv("TELLER_GUARD_TIME_ZONE", "Asia/Shanghai")
    monkeypatch.setattr(clock, "now", lambda: LATE)


# --- the clock alone -----------------------------------------------------------------------------

def test_stored_times_are_utc_and_read_back_in_the_banks_zone():
    clock.use_zone("Asia/Shanghai")
    local = datetime(2026, 12, 3, 1, 30, tzinfo=SHANGHAI)
    assert clock.stamp(local) == "2026-12-02T17:30:00+00:00"
    assert clock.stamp(datetime(2026, 12, 3, 1, 30)) == "2026-12-02T17:30:00+00:00"  # naive: local
    assert clock.local("2026-12-02T17:30:00+00:00") == local
    # A time stored before the clock was UTC, with its server's offset, is the same instant.
    assert clock.parse("2026-12-03T01:30:00+08:00") == LATE
    assert clock.business_day("2026-12-02T17:30:00+00:00") == date(2026, 12, 3)
    assert clock.today() == date(2026, 12, 3)


def test_a_business_days_range_is_its_hours_in_utc():
    clock.use_zone("Asia/Shanghai")
    assert clock.day_range(date(2026, 12, 3), date(2026, 12, 3)) == (
        "2026-12-02T16:00:00+00:00", "2026-12-03T16:00:00+00:00")
    assert clock.day_range(None, None) == (None, None)
    # The calendar's ends have no UTC time before or after them: open bounds, not an error.
    assert clock.day_range(date.min, date.max) == (None, None)


def test_the_servers_own_zone_when_none_is_set():
    clock.use_zone(None)
    assert clock.zone().utcoffset(None) == datetime.now(UTC).astimezone().utcoffset()
    assert clock.local(LATE) == LATE.astimezone()
    assert clock.day_range(date.min, date.max) == (None, None)


def test_an_unknown_zone_stops_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv("TELLER_GUARD_TIME_ZONE", "Asia/Shangai")
    with pytest.raises(config.ConfigError, match="TIME_ZONE.*未知的时区"):
        config.build_config(tmp_path, {"SECRET_KEY": "x" * 40})
    with pytest.raises(ValueError, match="Asia/Shangai"):
        clock.use_zone("Asia/Shangai")


# --- a screening at 01:30 in Shanghai -------------------------------------------------------------

def _screen(client, token) -> dict:
    response = post(client, token, BENIGN)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _day_keys(database) -> dict[str, set]:
    """Every statistics table's days (or months) that hold a screening."""
    keys = {}
    tables = {**stats_triggers.TABLES, **branch_stats.TABLES, duration_months.TABLE: (("month",),)}
    for table, (columns, *_) in tables.items():
        for column in ("day", "month"):
            if column in columns:
                rows = database.execute(
                    f"SELECT DISTINCT {column} FROM {table} WHERE n > 0").fetchall()  # noqa: S608
                keys[table] = {row[0] for row in rows}
    return keys


def test_a_screening_after_midnight_belongs_to_the_banks_day(app, client, token):
    screening = _screen(client, token)
    assert screening["reference"].startswith("TG20261203-")
    assert call(client, token, "post", f"/api/v1/screenings/{screening['id']}/outcome",
                {"outcome": "proceeded"}).status_code == 200
    database = open_database(app)
    try:
        row = database.execute("SELECT started_at, business_day, finished_at FROM sessions "
                               "WHERE id = ?", [screening["id"]]).fetchone()
        assert tuple(row) == ("2026-12-02T17:30:00+00:00", "2026-12-03",
                              "2026-12-02T17:30:00+00:00")
        keys = _day_keys(database)
        # (stats_day_queue stays empty: a 低风险 screening is not queued)
        wrong = {table: found for table, found in keys.items()
                 if found - {"2026-12-03", "2026-12"} or not found and table != "stats_day_queue"}
        assert len(keys) == 17 and not wrong, wrong
        # The daily tables and a recount from sessions (a branch's statistics) agree.
        one_day = date(2026, 12, 3)
        tables = review.statistics(database, one_day, one_day)
        recount = review.statistics_from_sessions(database, one_day, one_day, (1,))
        for figures in (tables, recount):
            assert [(row["day"], row["count"]) for row in figures["per_day"]] == \
                [("2026-12-03", 1)]
        assert review.statistics(database, one_day - timedelta(days=1),
                                 one_day - timedelta(days=1))["per_day"] == []
    finally:
        database.conn.close()


def test_the_teller_reads_local_times_and_today_is_the_banks(app, client, token, auth):
    _screen(client, token)
    auth.login()
    page = client.get("/screening/").get_data(as_text=True)
    assert "2026-12-03 01:30" in page and "2026-12-02 17:30" not in page
    searched = client.get("/screening/search?date_from=2026-12-03&date_to=2026-12-03")
    assert "2026-12-03 01:30" in searched.get_data(as_text=True)
    earlier = client.get("/screening/search?date_from=2026-12-02&date_to=2026-12-02")
    assert "2026-12-03 01:30" not in earlier.get_data(as_text=True)


def test_a_row_stored_before_the_clock_was_utc_keeps_its_day(app):
    """Rows from before 0017 have no business_day and a local started_at: the statistics
    count them under the date they were written with."""
    database = open_database(app)
    try:
        database.execute(
            "INSERT INTO sessions (reference, teller_id, started_at, status, branch_id) "
            "VALUES ('TG20261201-000001', 1, '2026-12-01T23:30:00+08:00', 'draft', 1)")
        assert _day_keys(database)["stats_day_bank_mix"] == {"2026-12-01"}
        assert database.execute(f"SELECT {business_day.day()} FROM sessions").fetchone()[0] \
            == "2026-12-01"
    finally:
        database.conn.close()


def test_the_web_flow_stores_utc_and_the_banks_day(app, client, auth):
    from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, screen

    auth.login()
    session_id = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    database = open_database(app)
    try:
        row = database.execute("SELECT reference, started_at, business_day FROM sessions "
                               "WHERE id = ?", [session_id]).fetchone()
    finally:
        database.conn.close()
    assert row[0].startswith("TG20261203-") and tuple(row)[1:] == (
        "2026-12-02T17:30:00+00:00", "2026-12-03")


# --- one zone for the bank ------------------------------------------------------------------------

def test_the_banks_zone_is_recorded_and_another_refused(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from teller_guard.cli import main

    instance = tmp_path / "instance"
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--instance", str(instance)]).exit_code == 0
    database = open_database(create_app_for(instance))
    try:
        assert database.execute("SELECT value FROM instance_facts WHERE key = 'time_zone'"
                                ).fetchone()[0] == "Asia/Shanghai"
    finally:
        database.conn.close()
    monkeypatch.setenv("TELLER_GUARD_TIME_ZONE", "Europe/Berlin")
    refused = runner.invoke(main, ["migrate", "--instance", str(instance)])
    assert refused.exit_code == 1 and "数据库记录的银行时区为 Asia/Shanghai" in refused.output
    assert "Traceback" not in refused.output
    monkeypatch.delenv("TELLER_GUARD_TIME_ZONE")
    unset = runner.invoke(main, ["migrate", "--instance", str(instance)])
    assert unset.exit_code == 1 and "未设置 TIME_ZONE" in unset.output
    monkeypatch.setenv("TELLER_GUARD_TIME_ZONE", "Asia/Shanghai")
    assert runner.invoke(main, ["migrate", "--instance", str(instance)]).exit_code == 0


def create_app_for(instance):
    from teller_guard import create_app

    return create_app({"TESTING": True}, instance_path=instance)
