import re

import pytest
from conftest import csrf_token, database_bytes, open_database

from teller_guard import api_tokens

pytestmark = pytest.mark.both_backends


FACTS = {"amount": "3000", "channel": "counter_transfer", "payee_account": "6222021234567890",
         "payee_name": "王小明", "payee_province": "河北省", "payee_type": "personal",
         "payee_known": "known", "customer_age": 45}
ANSWERS = {"purpose": "family_living", "knows_payee": "in_person", "relationship": "family"}
THREE = {"paying_stranger": False, "possibly_scam": "no"}


@pytest.fixture
def token(app):
    database = open_database(app)
    _, value = api_tokens.create(database, app.extensions["teller_guard"]["ledger_key"],
                                 "核心系统", actor_id=None)
    database.conn.close()
    return value


def post(client, token, body, **headers):
    return client.post("/api/v1/screenings", json=body,
                       headers={"Authorization": f"Bearer {token}", **headers})


def test_benign_screening_through_the_api(client, token):
    response = post(client, token, {"teller": "teller", "facts": FACTS, "answers": ANSWERS,
                                    "three_checks": THREE})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["level"] == "low" and body["level_label"] == "低风险"
    assert body["action"]["code"] == "proceed" and re.fullmatch(r"TG\d{8}-\d{6}", body["reference"])
    fetched = client.get(f"/api/v1/screenings/{body['id']}",
                         headers={"Authorization": f"Bearer {token}"})
    assert fetched.status_code == 200 and fetched.get_json()["score"] == body["score"]


def test_safe_account_through_the_api(client, token):
    response = post(client, token, {
        "teller": "teller",
        "facts": {**FACTS, "amount": "20万", "payee_known": "new", "customer_age": 66,
                  "payee_province": "广东省"},
        "answers": {"purpose": "safe_account", "purpose_text": "公安说要转到安全账户配合调查",
                    "knows_payee": "phone_only", "relationship": "stranger",
                    "use_confirmed": True, "destination_text": "安全账户",
                    "verified_by_phone": False},
        "three_checks": {"paying_stranger": True, "possibly_scam": "no",
                         "family_consulted": False},
        "observations": ["on_phone"]})
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["level"] == "critical" and body["action"]["code"] == "stop_and_report"
    assert any(t["id"] == "gov_impersonation" for t in body["typologies"])
    assert body["reasons"] and all("reason_zh" in reason for reason in body["reasons"])


@pytest.mark.parametrize("body, field", [
    ({"teller": "teller", "facts": {**FACTS, "amount": "-1"}}, "facts.amount"),
    ({"teller": "teller", "facts": {**FACTS, "payee_account": "12ab"}}, "facts.payee_account"),
    ({"teller": "nobody", "facts": FACTS}, "teller"),
    ({"teller": "teller"}, "facts"),
    ({"teller": "teller", "facts": FACTS, "answers": "x"}, "answers"),
    ({"teller": "teller", "facts": FACTS, "answers": {}, "three_checks": THREE},
     "answers.purpose"),
    ({"teller": "teller", "facts": FACTS, "answers": {**ANSWERS, "purpose": "bogus"},
      "three_checks": THREE}, "answers.purpose"),
])
def test_errors_name_the_field(client, token, body, field):
    response = post(client, token, body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert field in error["fields"], error


def test_not_json(client, token):
    response = client.post("/api/v1/screenings", data="not json",
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 400 and "$" in response.get_json()["error"]["fields"]


def test_token_required_and_revocable(app, client, token):
    assert client.post("/api/v1/screenings", json={}).status_code == 401
    assert post(client, "tg_wrong", {}).status_code == 401
    database = open_database(app)
    token_id = next(database["api_tokens"].rows)["id"]
    api_tokens.revoke(database, app.extensions["teller_guard"]["ledger_key"], token_id, None)
    database.conn.close()
    assert post(client, token, {"teller": "teller", "facts": FACTS}).status_code == 401


def test_token_stored_hashed(app, token):
    assert token.encode() not in database_bytes(app.config["DATABASE"])


def test_rate_limit(app, client, token, monkeypatch):
    from teller_guard import rate_limit

    # A fixed clock: a minute turning between the requests would let last minute's count fade.
    monkeypatch.setattr(rate_limit, "clock", lambda: 60 * 29_000_000 + 10)
    app.config["API_RATE_LIMIT_PER_MINUTE"] = 3
    statuses = [post(client, token, {"teller": "teller"}).status_code for _ in range(5)]
    assert statuses[:3] == [400, 400, 400] and statuses[3:] == [429, 429]
    assert "error" in post(client, token, {}).get_json()


def test_unknown_screening_is_json_404(client, token):
    response = client.get("/api/v1/screenings/999", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == 404


def test_admin_creates_and_revokes_tokens(client, auth):
    auth.login("admin")
    path = "/admin/api-tokens"
    response = client.post(path, data={"name": "柜面前端", "csrf_token": csrf_token(client, path)})
    html = response.get_data(as_text=True)
    created = re.search(r'value="(tg_[^"]+)"', html).group(1)
    assert client.post("/api/v1/screenings", json={"teller": "teller"},
                       headers={"Authorization": f"Bearer {created}"}).status_code == 400
    token_id = re.search(r"/admin/api-tokens/(\d+)/revoke", html).group(1)
    client.post(f"{path}/{token_id}/revoke", data={"csrf_token": csrf_token(client, path),
                                                   "confirmed": "1"})
    assert client.post("/api/v1/screenings", json={},
                       headers={"Authorization": f"Bearer {created}"}).status_code == 401


def test_readme_example_works(client, token):
    import json
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    one_step = readme.split("**The one-step POST**")[1]
    body = json.loads(re.search(r"-d '(\{.+?\})'\n", one_step, re.S).group(1))
    body["teller"] = "teller"
    response = post(client, token, body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["level"] == "critical"
