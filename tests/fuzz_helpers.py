"""What the Hypothesis fuzz tests share: example budgets, odd values, a logged-in client.

Imported by tests/test_proof_fuzz.py (screening forms, admin forms, the JSON API) and
tests/test_proof_fuzz_review.py (review and watchlist areas).
"""

from __future__ import annotations

import os
import re
import shutil

from conftest import PASSWORDS, TEST_CONFIG
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from teller_guard import create_app

# Modest in CI; TELLER_GUARD_FUZZ_SCALE=50 searches harder locally.
SCALE = float(os.environ.get("TELLER_GUARD_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=int(30 * SCALE), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=int(12 * SCALE))  # each may check a password (about 0.1 s)
MANY = settings(FUZZ, max_examples=int(80 * SCALE))

XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
       "'><svg/onload=alert(1)>", "</textarea><script>alert(2)</script>")
SQL = "'; DROP TABLE sessions; --"

# Text of every kind: short unicode, control characters, digits of every script (str.isdigit()
# says yes to "⓵", int() says no), numbers, HTML/SQL, huge values (past every length limit and
# Python's 4,300-digit int() limit).
nasty = st.sampled_from([
    "", " ", "\x00", "\r\n", "\u202e", "\ufeff", "０１２", "٣٤٥", "⓵⓶⓷⓸", "①②③④", "²³", "Ⅻ",
    "🙂", "null", "NaN", "inf", "-1", "0", "000", "1e309", "5万亿", "¥", "1,,0", "9" * 40,
    "9" * 5000, "x" * 100_000, "⓵" * 17 + "X", "1" * 17 + "X", *XSS, SQL, "%s%n", "{{7*7}}",
])
digits = st.sampled_from([  # what numeric fields (amount, age, ID, account, phone) must survive
    "9" * 21, "9" * 40, "9" * 5000, "0" * 5000 + "45", "⓵⓶⓷⓸", "①②③④", "٣٤٥", "١٩٥٥", "１９５５",
    "⓵" * 17 + "X", "11010519491231002X", "1.001", "0.000000000000000000000000000001", "-0",
    "+1", ".5", "5.", "1e3", "0x10", "1_000", "12345678901234567890123", "62" + "٣" * 16,
])
text = st.one_of(nasty, digits, st.text(max_size=40), st.text(st.characters(codec="utf-8"), max_size=300),
                 st.integers().map(str), st.floats().map(str),
                 st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=20))


def fuzz_instance_app(tmp_path_factory, template_instance, name: str = "fuzz"):
    """An app on its own copy of the template instance (for a module-scoped fixture)."""
    instance = tmp_path_factory.mktemp(name) / "instance"
    shutil.copytree(template_instance, instance)
    return create_app({**TEST_CONFIG, "API_RATE_LIMIT_PER_MINUTE": 10**9}, instance_path=instance)


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


class User:
    """A logged-in test client and its CSRF token (valid for the whole session)."""

    def __init__(self, app, username: str | None):
        self.client = app.test_client()
        self.token = token_of(self.client.get("/login").get_data(as_text=True))
        if username:
            response = self.client.post("/login", data={
                "username": username, "password": PASSWORDS[username], "csrf_token": self.token})
            assert response.status_code == 302, username
            # Logging in starts a new session, and with it a new CSRF token.
            home = self.client.get("/", follow_redirects=True).get_data(as_text=True)
            self.token = token_of(home)

    def post(self, path, data, **kwargs):
        if isinstance(data, dict):
            data = {**data, "csrf_token": self.token}
        else:
            data = MultiDict([*data, ("csrf_token", self.token)])
        return self.client.post(path, data=data, **kwargs)

    def page(self, path) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


def no_server_error(response, what=""):
    """Never a 5xx; and the request reached the view (a stale CSRF token would make every
    form post a 400 and the fuzzing pointless)."""
    body = response.get_data(as_text=True)
    assert response.status_code < 500, (what, response.status_code, body[:500])
    assert "CSRF" not in body, body[:300]
    if response.mimetype == "text/html":  # a form shown again with what was typed: escaped
        assert not any(payload in body for payload in XSS), body[:500]
