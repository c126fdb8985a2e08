"""50 tellers at once against the real server: full screenings, nothing lost, nothing doubled.

Each teller is a thread with its own cookie jar (its own logged-in session) against
`teller-guard serve` in a subprocess, doing complete flows — 新建问询 → 五必问/三是否 → result →
outcome — until the time is up (TELLER_GUARD_PROOF_SECONDS, 20 s by default; a flow under way
is finished). Then: no 5xx and no "database is locked" anywhere, every flow's session stored
exactly once and finished, references unique, the ledger verifies.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import pytest
from proof_helpers import LiveServer, copy_instance, database_path, ledger_key
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, SAFE_ACCOUNT_ANSWERS, SAFE_ACCOUNT_FACTS
from werkzeug.security import generate_password_hash

from teller_guard import audit, create_app, db, users

TELLERS = 50
SECONDS = float(os.environ.get("TELLER_GUARD_PROOF_SECONDS", "20"))
PASSWORD = "concurrent-pass-1"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
REFERENCE = re.compile(r"TG\d{8}-\d{6}")


@pytest.fixture(scope="module")
def instance(tmp_path_factory, template_instance):
    """The template instance plus 50 tellers. Their password hashes use a cheap method: 50
    scrypt hashes (and 50 concurrent scrypt logins) would cost seconds and prove nothing."""
    path = copy_instance(template_instance, tmp_path_factory.mktemp("concurrency") / "instance")
    app = create_app(instance_path=path)
    database = db.connect(app.config["DATABASE"])
    key = app.extensions["teller_guard"]["ledger_key"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "generate_password_hash",
                      lambda password: generate_password_hash(password, "pbkdf2:sha256:1000"))
        for number in range(TELLERS):
            users.create_user(database, key, f"t{number:02d}", PASSWORD, "teller",
                              f"柜员{number:02d}", f"C{number:02d}", must_change=False)
    database.conn.close()
    return path


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


@pytest.mark.slow
def test_fifty_tellers_at_once(instance):
    server = LiveServer(instance, threads=8).start()
    tellers = [Teller(server.url, f"t{number:02d}") for number in range(TELLERS)]
    clock: dict = {}
    start = threading.Barrier(TELLERS, timeout=120, action=lambda: clock.update(
        deadline=time.monotonic() + SECONDS))
    threads = [threading.Thread(target=teller.run, args=(start, clock), daemon=True)
               for teller in tellers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 180)
        assert not any(thread.is_alive() for thread in threads), "a teller hung"
    finally:
        server.stop()
    log = server.log()

    failures = [failure for teller in tellers for failure in teller.failures]
    assert not failures, failures[:10]
    assert "Traceback" not in log and "database is locked" not in log, log
    flows = [flow for teller in tellers for flow in teller.flows]
    assert all(reference for _, reference, _ in flows)
    assert len(flows) >= TELLERS, "every teller finishes at least one screening"

    database = db.connect(database_path(instance))
    try:
        rows = {row[0]: row[1:] for row in database.execute(
            "SELECT s.id, s.reference, s.status, s.outcome, u.username FROM sessions s "
            "JOIN users u ON u.id = s.teller_id")}
        assert len(rows) == len(flows), "one session per flow, no more, no less"
        for teller in tellers:
            for session_id, reference, outcome in teller.flows:
                assert rows[session_id] == (reference, "finished", outcome, teller.username)
        references = [row[0] for row in rows.values()]
        assert len(set(references)) == len(references)
        events = Counter(database.execute(
            "SELECT kind FROM ledger WHERE kind IN ('screening.started', 'screening.outcome')"
        ).fetchall())
        assert events == Counter({("screening.started",): len(flows),
                                  ("screening.outcome",): len(flows)})
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        checked, problems = audit.verify_chain(database, ledger_key(instance))
        assert not problems, [problem.describe() for problem in problems[:5]]
    finally:
        database.conn.close()
    print(f"{TELLERS} tellers, {SECONDS:g} s: {len(flows)} screenings, {checked} ledger rows")
