"""End to end with the real screening pages: what the teller records is what security reviews,
and `teller-guard verify` agrees with the screening service's writes."""

import pytest
from conftest import csrf_token
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, SAFE_ACCOUNT_ANSWERS, SAFE_ACCOUNT_FACTS, screen

from teller_guard.cli import main
from teller_guard.review import integrity, stats

pytestmark = pytest.mark.both_backends


def test_screened_case_is_reviewed_and_verifies(app, client, auth, database, runner):
    auth.login("teller")
    case = screen(client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)
    token = csrf_token(client, f"/screening/{case}/result")
    assert client.post(f"/screening/{case}/outcome",
                       data={"outcome": "police_called", "police_receipt_no": "JJ-0031",
                             "csrf_token": token}).status_code == 302
    benign = screen(client, BENIGN_FACTS, BENIGN_ANSWERS)
    token = csrf_token(client, f"/screening/{benign}/result")
    client.post(f"/screening/{benign}/outcome", data={"outcome": "proceeded", "csrf_token": token})
    auth.logout()

    auth.login("security")
    queue = client.get("/review/").get_data(as_text=True)
    reference = database.execute("SELECT reference FROM sessions WHERE id = ?", [case]).fetchone()[0]
    other = database.execute("SELECT reference FROM sessions WHERE id = ?", [benign]).fetchone()[0]
    assert reference in queue and other not in queue
    page = f"/review/{case}"
    detail = client.get(page).get_data(as_text=True)
    for label in ("开始问询", "风险评估", "记录结果"):
        assert f'<th scope="row">{label}</th>' in detail
    assert "6217001234567890123" not in detail and "李四" not in detail
    for target, note in (("in_review", ""), ("police_handled", "已报警，民警到场劝阻")):
        response = client.post(f"{page}/transition", data={
            "to": target, "note": note, "csrf_token": csrf_token(client, page)})
        assert response.status_code == 303

    assert integrity.check_sessions(database, app.extensions["teller_guard"]["ledger_key"])[1] == []
    figures = stats.compute(database, None, None)
    assert figures.total == 2 and figures.queued == 1 and figures.protected_fen == 20_000_000
    database.conn.close()
    result = runner.invoke(main, ["verify", "--instance", app.instance_path])
    assert result.exit_code == 0, result.output
    assert "校验通过" in result.output


def test_api_screenings_verify(app, client, database):
    from teller_guard import api_tokens

    _, token = api_tokens.create(database, app.extensions["teller_guard"]["ledger_key"], "核心系统",
                                 actor_id=None)
    facts = {"amount": "20万", "channel": "counter_transfer", "payee_account": "6217001234567890123",
             "payee_name": "李四", "payee_province": "广东省", "payee_type": "personal",
             "payee_known": "new", "customer_age": 66}
    body = {"teller": "teller", "facts": facts,
            "answers": {"purpose": "safe_account", "knows_payee": "phone_only",
                        "relationship": "stranger", "use_confirmed": True,
                        "destination_text": "安全账户", "verified_by_phone": False},
            "three_checks": {"paying_stranger": True, "possibly_scam": "no", "family_consulted": False}}
    response = client.post("/api/v1/screenings", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_json()
    assert database.execute("SELECT in_queue FROM sessions").fetchone()[0] == 1
    assert integrity.check_sessions(database, app.extensions["teller_guard"]["ledger_key"]) == (1, [])
