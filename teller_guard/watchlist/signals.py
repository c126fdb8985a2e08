"""Cross-session signals for the screening flow: pure lookups, no Flask, no writes.

The risk engine never touches the database; the screening service calls
`cross_session_facts` and passes the dict on as the engine's `cross_session` input.

Time windows: a session counts when `now - days <= started_at <= now` (both ends included).
`sessions.started_at` is an ISO 8601 string; one without a UTC offset is read as server local
time, and so is a naive `now`. Sessions without a customer hash are not counted as "other
customers" (they cannot be told apart).

The other-branch signals (issue 16) compare the window as text in the database instead, which
is exact for started_at written with the server's own offset (storage/watchlist.py says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .. import clock
from ..bank_settings import BankSettings
from ..storage import branches as branch_store
from ..storage import watchlist as watchlist_store

HIGH_LEVELS = frozenset({"high", "critical"})
LEVEL_ORDER = ("low", "medium", "high", "critical")
NAMES_SHOWN = 5  # other branches named to the teller
# A payee's newest sessions read for the branch count: bounds the lookup of a collecting account
# with thousands of sessions (the count is then a lower bound, far above any rule's threshold).
SESSIONS_READ = 1000


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


@dataclass(frozen=True)
class PayeeBranches:
    """Other branches of the bank whose customers paid this payee recently: their names, nothing
    of those customers or sessions. Branch names are the bank's own (on its signs), and the
    supervisor needs them to phone the other branch's security."""

    count: int  # other branches (at least this many when `at_least`)
    other_branches: tuple[str, ...]  # names of at most NAMES_SHOWN of them, sorted
    days: int
    min_branches: int  # counting this branch (PAYEE_BRANCHES_MIN)
    at_least: bool = False  # only the newest SESSIONS_READ sessions were read

    @property
    def more(self) -> bool:
        """More branches than names shown (the page says 等)."""
        return self.count > len(self.other_branches)

    @property
    def repeated(self) -> bool:
        return self.count + 1 >= self.min_branches


@dataclass(frozen=True)
class BranchScreening:
    branch: str  # the other branch's name
    sessions: int  # this customer's screenings there in the window
    highest: str | None  # the highest level there, None if none was assessed


@dataclass(frozen=True)
class CustomerBranches:
    """This customer's screenings at other branches in the window, per branch (most alarming
    first): the customer is at the counter, the levels are their own."""

    branches: tuple[BranchScreening, ...]
    high: int  # screenings rated 高/极高 at those branches
    days: int

    @property
    def count(self) -> int:
        return len(self.branches)

    @property
    def stopped(self) -> bool:
        return self.high > 0


def _parse_started_at(text: str | None) -> datetime | None:
    try:
        return clock.parse(text)
    except ValueError:
        return None


def _window(db, fetch, value: str, now: datetime, days: int,
            exclude_session_id: int | None) -> list[dict]:
    """The sessions `fetch` (a storage.watchlist query) finds for `value` inside
    [now - days, now], started_at parsed (in the bank's zone, as the teller reads it).

    The text range asked for (widened by two days, which covers any UTC offset) lets the
    (column, started_at) index do the search; the exact comparison is done on parsed times.
    """
    now = clock.local(now)
    start = now - timedelta(days=days)
    rows = []
    for row in fetch(db, value, (start.date() - timedelta(days=2)).isoformat(),
                     (now.date() + timedelta(days=2)).isoformat(), exclude_session_id):
        started_at = _parse_started_at(row["started_at"])
        if started_at is not None and start <= started_at <= now:
            rows.append({**row, "started_at": clock.local(started_at)})
    return rows


def is_watchlisted(db, account_hash: str, today: date | None = None) -> bool:
    """Is this keyed account hash on the watchlist (涉诈账户名单) on `today`, the local date
    (default: the bank's today)? Proposals and entries past their 到期日 are not; an entry
    expiring today still is."""
    if not account_hash:
        return False
    return watchlist_store.is_listed(db, account_hash, (today or clock.today()).isoformat())


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
        seen_on=tuple(sorted({clock.business_day(started_at) for started_at, _ in others})),
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


def _text_window(now: datetime, days: int) -> tuple[str, str]:
    """[now - days, now] as stored (UTC) text, exact for every time stored in UTC (times
    stored before the clock was UTC carry their server's offset: off by it at the edges)."""
    return clock.stamp(now - timedelta(days=days)), clock.stamp(now)


def payee_branches(db, payee_hash: str | None, branch_id: int | None, now: datetime, *,
                   days: int = 7, min_branches: int = 3) -> PayeeBranches:
    """The other branches (not `branch_id`) where this payee was paid in the last `days` days;
    the screening being made is at `branch_id`, so it never counts itself."""
    if not payee_hash:
        return PayeeBranches(0, (), days, min_branches)
    low, high = _text_window(now, days)
    found, at_least = watchlist_store.payee_other_branches(db, payee_hash, low, high, branch_id,
                                                           SESSIONS_READ)
    # A collecting account seen at hundreds of branches: the count, and a few names to call.
    names = branch_store.names(db, sorted(found)[:NAMES_SHOWN])
    return PayeeBranches(len(found), tuple(sorted(names.values())), days, min_branches, at_least)


def customer_branches(db, customer_hash: str | None, branch_id: int | None, now: datetime, *,
                      days: int = 30) -> CustomerBranches:
    """This customer's screenings at branches other than `branch_id` in the last `days` days."""
    if not customer_hash:
        return CustomerBranches((), 0, days)
    low, high = _text_window(now, days)
    rows = watchlist_store.customer_other_branches(db, customer_hash, low, high, branch_id)
    found = branch_store.names(db, [row["branch_id"] for row in rows])
    per_branch: dict[int, tuple[int, str | None]] = {}  # branch -> (sessions, highest)
    for row in rows:
        sessions, highest = per_branch.get(row["branch_id"], (0, None))
        if row["level"] in LEVEL_ORDER and (
                highest is None or LEVEL_ORDER.index(row["level"]) > LEVEL_ORDER.index(highest)):
            highest = row["level"]
        per_branch[row["branch_id"]] = (sessions + row["sessions"], highest)
    screenings = sorted(
        (BranchScreening(found.get(branch, "未知网点"), sessions, highest)
         for branch, (sessions, highest) in per_branch.items()),
        key=lambda item: (-(LEVEL_ORDER.index(item.highest) if item.highest else -1),
                          item.branch))
    return CustomerBranches(
        tuple(screenings),
        sum(row["sessions"] for row in rows if row["level"] in HIGH_LEVELS), days)


@dataclass(frozen=True)
class Signals:
    """Everything the screening reads across sessions; `facts()` is the engine's part."""

    watchlisted: bool
    payee: PayeeSignal
    history: CustomerHistory
    payee_branches: PayeeBranches
    customer_branches: CustomerBranches

    def facts(self) -> dict:
        return {
            "payee_watchlisted": self.watchlisted,
            "payee_other_customers": self.payee.other_customers,
            "customer_prior_screenings": self.history.count,
            "customer_prior_high": self.history.prior_high,
            "payee_other_branches": self.payee_branches.count,
            "customer_other_branches": self.customer_branches.count,
            "customer_other_branch_high": self.customer_branches.high,
        }


def collect(db, payee_hash: str | None, customer_hash: str | None, now: datetime,
            thresholds: BankSettings | Mapping, *, branch_id: int | None,
            exclude_session_id: int | None = None) -> Signals:
    """All cross-session signals of a screening at `branch_id`. `thresholds`: the bank-wide
    settings in force (screening.context.bank(): 全行设置 over app.config); a mapping of config
    names is read as app.config would be. Counts are reported even below
    the configured minimums: the engine's rules decide the points. Pass the current session's
    id as `exclude_session_id` once it is saved, or it counts as its own history (the branch
    signals leave out the screening's own branch, so it never counts there)."""
    limits = thresholds if isinstance(thresholds, BankSettings) \
        else BankSettings.from_config(thresholds)
    return Signals(
        watchlisted=is_watchlisted(db, payee_hash, clock.business_day(now)),
        payee=payee_signals(db, payee_hash, customer_hash, now,
                            min_customers=limits.payee_repeat_min_customers,
                            days=limits.payee_repeat_days,
                            exclude_session_id=exclude_session_id),
        history=customer_history(db, customer_hash, now,
                                 min_screenings=limits.customer_repeat_min,
                                 days=limits.customer_repeat_days,
                                 exclude_session_id=exclude_session_id),
        payee_branches=payee_branches(db, payee_hash, branch_id, now,
                                      days=limits.payee_branches_days,
                                      min_branches=limits.payee_branches_min),
        customer_branches=customer_branches(db, customer_hash, branch_id, now,
                                            days=limits.customer_other_branch_days),
    )


def cross_session_facts(db, payee_hash: str | None, customer_hash: str | None, now: datetime,
                        thresholds: BankSettings | Mapping, *, branch_id: int | None = None,
                        exclude_session_id: int | None = None) -> dict:
    """The risk engine's `cross_session` input (`collect(...).facts()`). Without `branch_id`
    every branch counts as another one."""
    return collect(db, payee_hash, customer_hash, now, thresholds, branch_id=branch_id,
                   exclude_session_id=exclude_session_id).facts()
