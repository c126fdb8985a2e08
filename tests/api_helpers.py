"""What the JSON API tests share: a token fixture, request bodies, a POST helper."""

from __future__ import annotations

import copy

from conftest import open_database

from teller_guard import api_tokens

FACTS = {"amount": "3000", "channel": "counter_transfer", "payee_account": "6222021234567890",
         "payee_name": "王小明", "payee_province": "河北省", "payee_type": "personal",
         "payee_known": "known", "customer_age": 45}
BENIGN = {"teller": "teller", "facts": FACTS,
          "answers": {"purpose": "family_living", "knows_payee": "in_person",
                      "relationship": "family"},
          "three_checks": {"paying_stranger": False, "possibly_scam": "no"}}
# 极高 (safe-account scam) through its answers: the body a misspelling must not turn into 低.
CRITICAL = {
    "teller": "teller",
    "facts": {**FACTS, "amount": "20万", "payee_known": "new", "customer_age": 66,
              "payee_province": "广东省", "payee_name": "李四"},
    "answers": {"purpose": "safe_account", "purpose_text": "公安说要转到安全账户配合调查",
                "knows_payee": "phone_only", "relationship": "stranger",
                "use_confirmed": True, "destination_text": "安全账户",
                "verified_by_phone": False},
    "three_checks": {"paying_stranger": True, "possibly_scam": "no", "family_consulted": False},
    "observations": ["on_phone"],
}


def body(base=BENIGN, **changes) -> dict:
    """A deep copy of `base` with dotted changes: body(facts__amount="5万")."""
    result = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, name = dotted.split("__")
        target = result
        for part in parents:
            target = target[part]
        target[name] = value
    return result


def new_token(app, name="核心系统", scope=None) -> tuple[int, str]:
    """(id, token); `scope` an api_scope.Scope (default: read own, any teller, no supervisor)."""
    database = open_database(app)
    try:
        return api_tokens.create(database, app.extensions["teller_guard"]["ledger_key"], name,
                                 actor_id=None, scope=scope)
    finally:
        database.conn.close()


def post(client, token, payload, path="/api/v1/screenings", **headers):
    return client.post(path, json=payload, headers={"Authorization": f"Bearer {token}",
                                                    **headers})


def call(client, token, method: str, path: str, payload=None, **headers):
    """Any API request with the token: call(client, token, "put", ".../answers", {...})."""
    return getattr(client, method)(path, json=payload,
                                   headers={"Authorization": f"Bearer {token}", **headers})


def facts_only(base=BENIGN, **changes) -> dict:
    """The facts step of `base`: teller and facts, no answers."""
    whole = body(base, **changes)
    return {"teller": whole["teller"], "facts": whole["facts"]}


def answers_of(base=BENIGN) -> dict:
    """The answers part of `base`, for PUT .../answers."""
    return {part: copy.deepcopy(base[part]) for part in ("answers", "three_checks",
                                                         "observations") if part in base}


def count(app, sql: str, params=()) -> int:
    database = open_database(app)
    try:
        return database.execute(sql, list(params)).fetchone()[0]
    finally:
        database.conn.close()
