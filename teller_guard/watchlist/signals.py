"""Cross-session signals for the screening flow: pure lookups, no Flask, no writes.

The risk engine never touches the database; the screening service calls
`cross_session_facts` and passes the dict on as the engine's `cross_session` input.

Time windows: a session counts when `now - days <= started_at <= now` (both ends included).
`sessions.started_at` is an ISO 8601 string; one without a UTC offset is read as server local
time, and so is a naive `now`. Sessions without a customer hash are not counted as "other
customers" (they cannot be told apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..config import DEFAULTS
from ..storage import watchlist as watchlist_store

HIGH_LEVELS = frozenset({"high", "critical"})


@dataclass(frozen=True)
class PayeeSignal:
    """Other customers who paid this payee recently: how many and on which days, nothing else."""

    other_customers: int  # distinct customer_hash values other than this customer's
    seen_on: tuple[date, ...]  # distinct local dates of those sessions, oldest first
    days: int
    min_customers: int

    @property
    def repeated(self) -> bool:
        return self.other_customers >= self.min_customers


@dataclass(frozen=True)
class PriorScreening:
    started_at: datetime
    level: str | None  # low | medium | high | critical, None if never assessed
    outcome: str | None  # proceeded | cancelled | delayed | police_called | postponed | None


@dataclass(frozen=True)
class CustomerHistory:
    """This customer's own earlier screenings in the window, newest first."""

    screenings: tuple[PriorScreening, ...]
    days: int
    min_screenings: int

    @property
    def count(self) -> int:
        return len(self.screenings)

    @property
    def prior_high(self) -> int:
        return sum(1 for screening in self.screenings if screening.level in HIGH_LEVELS)

    @property
    def repeated(self) -> bool:
        return self.count >= self.min_screenings


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.astimezone()


def _parse_started_at(text: str | None) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(text)) if text else None
    except ValueError:
        return None


def _window(db, fetch, value: str, now: datetime, days: int,
            exclude_session_id: int | None) -> list[dict]:
    """The sessions `fetch` (a storage.watchlist query) finds for `value` inside
    [now - days, now], started_at parsed.

    The text range asked for (widened by two days, which covers any UTC offset) lets the
    (column, started_at) index do the search; the exact comparison is done on parsed times.
    """
    now = _aware(now)
    start = now - timedelta(days=days)
    rows = []
    for row in fetch(db, value, (start.date() - timedelta(days=2)).isoformat(),
                     (now.date() + timedelta(days=2)).isoformat(), exclude_session_id):
        started_at = _parse_started_at(row["started_at"])
        if started_at is not None and start <= started_at <= now:
            rows.append({**row, "started_at": started_at})
    return rows


def is_watchlisted(db, account_hash: str, today: date | None = None) -> bool:
    """Is this keyed account hash on the watchlist (涉诈账户名单) on `today`, the local date
    (default: the server's)? Proposals and entries past their 到期日 are not; an entry
    expiring today still is."""
    if not account_hash:
        return False
    return watchlist_store.is_listed(db, account_hash, (today or date.today()).isoformat())


def payee_signals(db, payee_hash: str, customer_hash: str | None, now: datetime, *,
                  min_customers: int = 2, days: int = 30,
                  exclude_session_id: int | None = None) -> PayeeSignal:
    """How many OTHER customers screened a transfer to this payee in the last `days` days."""
    if not payee_hash:
        return PayeeSignal(0, (), days, min_customers)
    rows = _window(db, watchlist_store.sessions_to_payee, payee_hash, now, days, exclude_session_id)
    others = [(row["started_at"], row["customer_hash"]) for row in rows
              if row["customer_hash"] and row["customer_hash"] != customer_hash]
    return PayeeSignal(
        other_customers=len({customer for _, customer in others}),
        seen_on=tuple(sorted({started_at.astimezone().date() for started_at, _ in others})),
        days=days, min_customers=min_customers,
    )


def customer_history(db, customer_hash: str | None, now: datetime, *, min_screenings: int = 2,
                     days: int = 30, exclude_session_id: int | None = None) -> CustomerHistory:
    """This customer's earlier screenings in the last `days` days (for the teller to see)."""
    if not customer_hash:
        return CustomerHistory((), days, min_screenings)
    rows = _window(db, watchlist_store.sessions_of_customer, customer_hash, now, days,
                   exclude_session_id)
    screenings = sorted((PriorScreening(row["started_at"], row["level"], row["outcome"])
                         for row in rows),
                        key=lambda screening: screening.started_at, reverse=True)
    return CustomerHistory(tuple(screenings), days, min_screenings)


def cross_session_facts(db, payee_hash: str | None, customer_hash: str | None, now: datetime,
                        config: Mapping, *, exclude_session_id: int | None = None) -> dict:
    """The risk engine's `cross_session` input. Counts are reported even below the configured
    minimums: the engine's rules decide the points. Pass the current session's id as
    `exclude_session_id` once it is saved, or it counts as its own history."""

    def setting(name: str) -> int:
        return int(config.get(name, DEFAULTS[name]))

    payee = payee_signals(db, payee_hash, customer_hash, now,
                          min_customers=setting("PAYEE_REPEAT_MIN_CUSTOMERS"),
                          days=setting("PAYEE_REPEAT_DAYS"), exclude_session_id=exclude_session_id)
    history = customer_history(db, customer_hash, now,
                               min_screenings=setting("CUSTOMER_REPEAT_MIN"),
                               days=setting("CUSTOMER_REPEAT_DAYS"),
                               exclude_session_id=exclude_session_id)
    return {
        "payee_watchlisted": is_watchlisted(db, payee_hash, _aware(now).astimezone().date()),
        "payee_other_customers": payee.other_customers,
        "customer_prior_screenings": history.count,
        "customer_prior_high": history.prior_high,
    }
