"""The one clock: every stored time is UTC; the bank's time zone appears only at the edges.

Stored times are ISO 8601 text in UTC to the second ('2026-12-02T12:00:00+00:00'), so they
sort and compare as text on both backends whatever zone a server runs in. What a person reads
(pages, slips, exports) and the business day a screening belongs to (references, daily
statistics, 今日, watchlist expiry dates) are in the bank's zone: `TIME_ZONE` (for example
Asia/Shanghai), or when unset the server's own zone. Every application process of a bank must
use the same zone: the business day decides which day's statistics a screening counts in.

No Flask here: the app factory calls `use_zone` from its configuration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_zone: tzinfo | None = None  # None: the server's own zone, as the operating system says


def use_zone(name: str | None) -> None:
    """The bank's zone by IANA name (None: the server's own). Raises ValueError for an
    unknown name, so a typo stops start-up instead of shifting every business day."""
    global _zone
    if not name:
        _zone = None
        return
    try:
        _zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") \
            from error


def zone() -> tzinfo:
    """The bank's zone; unset, the server's offset now (for building local times: the
    conversions below use the server's own rules, summer time included)."""
    return _zone or datetime.now(UTC).astimezone().tzinfo


def _aware(moment: datetime) -> datetime:
    """A naive moment is the bank's local time."""
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=_zone) if _zone else moment.astimezone()


def now() -> datetime:
    """This moment, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime | None = None) -> str:
    """The stored form of a moment (now when None): UTC ISO 8601 to the second. A naive
    moment is taken as the bank's local time."""
    return as_utc(moment or now()).isoformat(timespec="seconds")


def as_utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC).replace(microsecond=0)


def parse(text: str | None) -> datetime | None:
    """A stored time back as an aware moment (None for none). Times stored before the clock
    was UTC carry their server's offset and read back as the same instant; a naive text is
    the bank's local time."""
    if not text:
        return None
    return _aware(datetime.fromisoformat(text))


def local(moment: datetime | str | None) -> datetime | None:
    """A moment (or stored text) in the bank's zone, for people to read."""
    moment = parse(moment) if isinstance(moment, str) or moment is None else _aware(moment)
    return moment.astimezone(_zone) if moment is not None else None


def business_day(moment: datetime | str | None = None) -> date:
    """The bank's calendar day of a moment (today when None)."""
    return local(moment or now()).date()


def today() -> date:
    return business_day()


def day_start(day: date) -> datetime:
    """The first moment of a business day, in UTC (for ranges over stored times)."""
    return _aware(datetime.combine(day, time())).astimezone(UTC)


def day_range(first: date | None, last: date | None) -> tuple[str | None, str | None]:
    """Stored-time bounds [low, high) for the business days first..last (None: open; so are
    the days at the calendar's ends, which no stored time reaches)."""
    return _bound(first), _bound(last + timedelta(days=1) if last and last < date.max else None)


def _bound(day: date | None) -> str | None:
    if day is None:
        return None
    try:
        return stamp(day_start(day))
    except (OverflowError, ValueError):  # year 0 or 10000 on the way to UTC
        return None
