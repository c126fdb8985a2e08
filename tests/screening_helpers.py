"""Drive the screening pages like a teller would (shared by the screening tests)."""

from __future__ import annotations

import re

from conftest import csrf_token

BENIGN_FACTS = {
    "amount": "3000", "channel": "counter_transfer", "payee_account": "6222021234567890",
    "payee_name": "王小明", "payee_province": "河北省", "payee_city": "邢台市",
    "payee_type": "personal", "payee_known": "known", "customer_age": "45",
    "occupation": "other",
}
BENIGN_ANSWERS = {
    "answers.purpose": "family_living", "answers.knows_payee": "in_person",
    "answers.relationship": "family", "three_checks.paying_stranger": "false",
    "three_checks.possibly_scam": "no",
}
SAFE_ACCOUNT_FACTS = {
    **BENIGN_FACTS, "amount": "20万", "payee_account": "6217001234567890123",
    "payee_name": "李四", "payee_province": "广东省", "payee_city": "深圳市",
    "payee_known": "new", "customer_age": "66", "occupation": "retired",
}
SAFE_ACCOUNT_ANSWERS = {
    "answers.purpose": "safe_account",
    "answers.purpose_text": "市公安局的警官打电话说我涉嫌洗钱，要把钱转到安全账户配合调查",
    "answers.use_confirmed": "true", "answers.destination_text": "转到公安的安全账户",
    "answers.knows_payee": "phone_only", "answers.relationship": "stranger",
    "answers.verified_by_phone": "false", "three_checks.paying_stranger": "true",
    "three_checks.possibly_scam": "no", "three_checks.family_consulted": "false",
    "observations": ["on_phone", "told_keep_secret", "hurried"],
}


def post_facts(client, facts, path="/screening/new"):
    data = dict(facts)
    data["csrf_token"] = csrf_token(client, path)
    return client.post(path, data=data)


def session_id_from(response) -> int:
    return int(re.search(r"/screening/(\d+)/", response.headers["Location"]).group(1))


def answer_all(client, session_id, answers):
    """Answer every question shown, using `answers` where given (else the first option)."""
    path = f"/screening/{session_id}/questions"
    html = client.get(path).get_data(as_text=True)
    names = dict.fromkeys(re.findall(r'type="radio" id="[^"]+" name="([^"]+)"', html))
    data = {"csrf_token": csrf_token(client, path)}
    for name in names:
        if name in answers:
            data[name] = answers[name]
        else:
            first = re.search(rf'name="{re.escape(name)}" value="([^"]+)"', html).group(1)
            data[name] = first
    for name in re.findall(r'type="text" id="[^"]+" name="([^"]+)"', html):
        data[name] = answers.get(name, "本地")
    for key in ("answers.purpose_text", "observations"):
        if key in answers:
            data[key] = answers[key]
    return client.post(path, data=data)


def screen(client, facts, answers):
    response = post_facts(client, facts)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    session_id = session_id_from(response)
    if response.headers["Location"].endswith("/questions"):
        response = answer_all(client, session_id, answers)
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return session_id
