"""Screenings made straight through the service (fast), for the printing web tests."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import pypdf
from screening_helpers import BENIGN_FACTS, SAFE_ACCOUNT_FACTS

from teller_guard import settings, users
from teller_guard.risk import default_rules
from teller_guard.screening import inputs, service
from teller_guard.screening.validation import ID_CHECK_CODES, ID_WEIGHTS


def id_with_check(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return first17 + ID_CHECK_CODES[total % 11]


CUSTOMER_ID = id_with_check("13050019580312002")
CRITICAL_FACTS = {
    **SAFE_ACCOUNT_FACTS, "customer_name": "王秀英", "customer_phone": "13912345678",
    "customer_id_number": CUSTOMER_ID, "payee_bank": "示例农商银行",
}
CRITICAL_ANSWERS = {
    "answers": {"purpose": "safe_account", "knows_payee": "phone_only",
                "relationship": "stranger", "verified_by_phone": False, "use_confirmed": True,
                "destination_text": "转到公安的安全账户",
                "purpose_text": "市公安局的警官打电话说我涉嫌洗钱，要把钱转到安全账户配合调查"},
    "three_checks": {"paying_stranger": True, "possibly_scam": "no", "family_consulted": False},
    "observations": ["on_phone", "told_keep_secret", "hurried"],
}
MEDIUM_FACTS = {**BENIGN_FACTS, "amount": "60000", "payee_known": "new"}
MEDIUM_ANSWERS = {
    "answers": {"purpose": "other", "knows_payee": "online_only", "relationship": "friend",
                "use_confirmed": True, "verified_by_phone": False},
    "three_checks": {"paying_stranger": False, "possibly_scam": "no"},
    "observations": [],
}
LOW_ANSWERS = {
    "answers": {"purpose": "family_living", "knows_payee": "in_person", "relationship": "family"},
    "three_checks": {"paying_stranger": False, "possibly_scam": "no"},
    "observations": [],
}
CASES = {
    "critical": (CRITICAL_FACTS, CRITICAL_ANSWERS),
    "medium": (MEDIUM_FACTS, MEDIUM_ANSWERS),
    "low": (BENIGN_FACTS, LOW_ANSWERS),
}


def keys_of(app) -> service.Keys:
    extension = app.extensions["teller_guard"]
    return service.Keys(extension["ledger_key"], extension["pii_key"])


def user_id(database, username: str) -> int:
    return users.find_user(database, username)["id"]


def make_session(app, database, level: str = "critical", teller: str = "teller",
                 assessed: bool = True) -> int:
    """A screening by `teller` at `level` (critical, medium or low)."""
    facts, answers = CASES[level]
    checked = inputs.parse_facts(facts, date.today())
    assert checked.ok, checked.errors
    keys, branch = keys_of(app), settings.load(database)
    teller_id = user_id(database, teller)
    session_id = service.start(database, keys, teller_id, checked.value, branch)
    if assessed:
        assessment = service.assess(database, keys, session_id, branch, default_rules(), {},
                                    teller_id, answers=answers)
        assert assessment.level == level, (assessment.level, assessment.score)
    return session_id


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def events(database, session_id: int, kind: str | None = None) -> list[dict]:
    sql = "SELECT kind, actor_id, data FROM ledger WHERE session_id = ?"
    params: list = [session_id]
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    return [{"kind": k, "actor_id": a, **json.loads(d)}
            for k, a, d in database.execute(sql + " ORDER BY id", params).fetchall()]


def session_row(database, session_id: int) -> dict:
    return next(database["sessions"].rows_where("id = ?", [session_id]))
