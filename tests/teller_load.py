"""Tellers as threads against a live server: each logs in with its own cookie jar and does
complete screenings through the web pages (新建问询 → 五必问/三是否 → result → outcome) until the
time is up (a flow under way is finished). Shared by the concurrency proofs on SQLite and on
PostgreSQL."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, SAFE_ACCOUNT_ANSWERS, SAFE_ACCOUNT_FACTS
from werkzeug.security import generate_password_hash

from teller_guard import audit, users

PASSWORD = "concurrent-pass-1"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
REFERENCE = re.compile(r"TG\d{8}-\d{6}")


def add_tellers(database, key: bytes, count: int, monkeypatch) -> None:
    """t00, t01, … with a cheap password hash: `count` scrypt hashes (and as many concurrent
    scrypt logins) would cost seconds and prove nothing."""
    monkeypatch.setattr(users, "generate_password_hash",
                        lambda password: generate_password_hash(password, "pbkdf2:sha256:1000"))
    for number in range(count):
        users.create_user(database, key, f"t{number:02d}", PASSWORD, "teller",
                          f"柜员{number:02d}", f"C{number:02d}", must_change=False)


class Failure(Exception):
    pass


@dataclass
class Teller:
    base: str
    username: str
    flows: list = field(default_factory=list)  # (session_id, reference, outcome)
    failures: list = field(default_factory=list)

    def __post_init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: dict | list | None = None) -> tuple[str, str]:
        """GET, or POST a form; follows redirects. Returns (final path, HTML)."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, body, timeout=60) as response:
                html = response.read().decode("utf-8")
                final = urllib.parse.urlsplit(response.geturl()).path
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            raise Failure(f"{self.username} {path}: HTTP {error.code} {text[:300]}") from None
        if "database is locked" in html:
            raise Failure(f"{self.username} {path}: database is locked")
        return final, html

    @staticmethod
    def token(html: str) -> str:
        return TOKEN.search(html).group(1)

    def login(self) -> None:
        _, html = self.request("/login")
        final, _ = self.request("/login", {"username": self.username, "password": PASSWORD,
                                           "csrf_token": self.token(html)})
        if final != "/screening/":
            raise Failure(f"{self.username}: login ended on {final}")

    def flow(self, number: int) -> None:
        risky = number % 4 == 3
        facts = dict(SAFE_ACCOUNT_FACTS if risky else BENIGN_FACTS)
        facts["payee_account"] = f"95{self.username[1:]}{number:012d}"
        answers = SAFE_ACCOUNT_ANSWERS if risky else BENIGN_ANSWERS
        _, html = self.request("/screening/new")
        final, html = self.request("/screening/new", {
            **facts, "csrf_token": self.token(html),
            "opened_at": re.search(r'name="opened_at" value="([^"]+)"', html).group(1)})
        match = re.fullmatch(r"/screening/(\d+)/(questions|result)", final)
        if not match:
            raise Failure(f"{self.username}: new screening ended on {final}")
        session_id = int(match.group(1))
        self.flows.append((session_id, None, None))  # the session exists from here on
        if match.group(2) == "questions":
            final, html = self.request(final, self.answers(html, answers))
        if final != f"/screening/{session_id}/result":
            raise Failure(f"{self.username}: answers ended on {final}")
        reference = REFERENCE.search(html).group(0)
        outcome = "cancelled" if risky else "proceeded"
        final, html = self.request(f"/screening/{session_id}/outcome",
                                   {"outcome": outcome, "csrf_token": self.token(html)})
        if final != "/screening/" or reference not in html:
            raise Failure(f"{self.username}: outcome ended on {final}")
        self.flows[-1] = (session_id, reference, outcome)

    def answers(self, html: str, answers: dict) -> list:
        data = [("csrf_token", self.token(html))]
        for name in dict.fromkeys(re.findall(r'type="radio" id="[^"]+" name="([^"]+)"', html)):
            first = re.search(rf'name="{re.escape(name)}" value="([^"]+)"', html).group(1)
            data.append((name, answers.get(name, first)))
        for name in re.findall(r'type="text" id="[^"]+" name="([^"]+)"', html):
            data.append((name, answers.get(name, "本地")))
        if "answers.purpose_text" in answers:
            data.append(("answers.purpose_text", answers["answers.purpose_text"]))
        data += [("observations", flag) for flag in answers.get("observations", [])]
        return data

    def run(self, start: threading.Barrier, clock: dict) -> None:
        try:
            self.login()
            start.wait()  # the last one to arrive sets clock["deadline"]
            number = 0
            while time.monotonic() < clock["deadline"]:
                self.flow(number)
                number += 1
        except threading.BrokenBarrierError:
            self.failures.append(f"{self.username}: another teller could not log in")
        except Failure as failure:
            self.failures.append(str(failure))
            start.abort()
        except Exception as error:  # noqa: BLE001 - any client-side surprise is a failure too
            self.failures.append(f"{self.username}: {type(error).__name__}: {error}")
            start.abort()


def run_tellers(base: str, count: int, seconds: float) -> list[Teller]:
    """`count` tellers logged in, then screening for `seconds` from the moment the last one is
    in; returns them with their flows and failures."""
    tellers = [Teller(base, f"t{number:02d}") for number in range(count)]
    clock: dict = {}
    start = threading.Barrier(count, timeout=120, action=lambda: clock.update(
        deadline=time.monotonic() + seconds))
    threads = [threading.Thread(target=teller.run, args=(start, clock), daemon=True)
               for teller in tellers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 180)
    assert not any(thread.is_alive() for thread in threads), "a teller hung"
    return tellers


def check_stored(database, tellers: list[Teller], key: bytes) -> tuple[int, int]:
    """No teller met an error; every flow's session is stored exactly once, finished with its
    outcome, under its teller; references are unique; one started and one outcome event per
    flow; the ledger's chain verifies. Returns (flows, ledger rows checked)."""
    failures = [failure for teller in tellers for failure in teller.failures]
    assert not failures, failures[:10]
    flows = [flow for teller in tellers for flow in teller.flows]
    assert all(reference for _, reference, _ in flows)
    assert len(flows) >= len(tellers), "every teller finishes at least one screening"
    rows = {row[0]: tuple(row[1:]) for row in database.execute(
        "SELECT s.id, s.reference, s.status, s.outcome, u.username FROM sessions s "
        "JOIN users u ON u.id = s.teller_id").fetchall()}
    assert len(rows) == len(flows), "one session per flow, no more, no less"
    for teller in tellers:
        for session_id, reference, outcome in teller.flows:
            assert rows[session_id] == (reference, "finished", outcome, teller.username)
    references = [row[0] for row in rows.values()]
    assert len(set(references)) == len(references)
    events = Counter(kind for (kind,) in database.execute(
        "SELECT kind FROM ledger WHERE kind IN ('screening.started', 'screening.outcome')"
    ).fetchall())
    assert events == Counter({"screening.started": len(flows), "screening.outcome": len(flows)})
    checked, problems = audit.verify_chain(database, key)
    assert not problems, [problem.describe() for problem in problems[:5]]
    return len(flows), checked
