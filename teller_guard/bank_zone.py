"""One bank, one time zone. The zone decides the business day of every reference and
statistics row (clock.py), so every process of a bank must run with the same one: the first
that runs with `TIME_ZONE` set records it in the database, and a process with another zone, or
with none once one is recorded, refuses to start instead of splitting the bank's days."""

from __future__ import annotations

from .storage import settings as settings_store

ZONE_FACT = "time_zone"


class ZoneMismatch(Exception):
    """This process's TIME_ZONE is not the bank's (message in Chinese)."""


def check_unchanged(db, configured: str | None) -> None:
    """Record `configured` on first use; refuse another zone, or none, afterwards. Call inside
    a transaction."""
    recorded = settings_store.instance_fact(db, ZONE_FACT)
    if recorded is None:
        if configured:
            settings_store.record_instance_fact(db, ZONE_FACT, configured)
        return
    if configured != recorded:
        mine = f"配置为 {configured}" if configured else "未设置 TIME_ZONE（使用服务器本机时区）"
        raise ZoneMismatch(
            f"数据库记录的银行时区为 {recorded}，本进程{mine}：同一银行的所有进程必须使用相同的时区"
            f"（它决定业务编号和统计的日期）。请在 config.toml 中设置 time_zone = \"{recorded}\"。")
