"""Fuzzing the forms and the JSON API with Hypothesis: whatever is sent, never a 5xx.

Drives 新建问询, the questions, the customer's statement, the supervisor step, the outcome,
/login, the admin forms and POST /api/v1/screenings with arbitrary strings, numbers, unicode,
huge inputs, missing fields and wrong JSON types. Every API rejection names a field. Script and
HTML typed into free text come back escaped on the pages that show it, and SQL metacharacters
are stored exactly as typed. Flask test client, one app per module, modest example counts.
"""

from __future__ import annotations

import json

import pytest
from conftest import PASSWORDS
from fuzz_helpers import (
    FEW,
    FUZZ,
    MANY,
    SQL,
    XSS,
    User,
    digits,
    fuzz_instance_app,
    nasty,
    no_server_error,
    text,
)
from hypothesis import example, given
from hypothesis import strategies as st
from markupsafe import escape
from screening_helpers import (
    BENIGN_ANSWERS,
    BENIGN_FACTS,
    SAFE_ACCOUNT_ANSWERS,
    SAFE_ACCOUNT_FACTS,
    answer_all,
    post_facts,
    screen,
    session_id_from,
)

from teller_guard import api_tokens, db, storage
from teller_guard import settings as branch_settings
from teller_guard.screening.inputs import FACT_FIELDS

pytestmark = pytest.mark.both_backends


json_scalar = st.one_of(text, st.none(), st.booleans(), st.integers(),
                        st.floats(allow_nan=False))
json_value = st.recursive(json_scalar, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=6)
ANSWER_FIELDS = sorted({*BENIGN_ANSWERS, *SAFE_ACCOUNT_ANSWERS, "answers.destination_text",
                        "answers.amount_source", "action", "observations"})


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, template_instance):
    return fuzz_instance_app(tmp_path_factory, template_instance)


@pytest.fixture(scope="module")
def teller(fuzz_app):
    return User(fuzz_app, "teller")


@pytest.fixture(scope="module")
def api_token(fuzz_app):
    database = db.connect(fuzz_app.config["DATABASE"])
    _, token = api_tokens.create(database, fuzz_app.extensions["teller_guard"]["ledger_key"],
                                 "fuzz", actor_id=None)
    database.conn.close()
    return token


def new_session(user: User, facts=BENIGN_FACTS) -> int:
    response = post_facts(user.client, facts)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return session_id_from(response)


# --- forms ------------------------------------------------------------------------------------

MISSING = object()


def present(values: dict) -> dict:
    return {name: value for name, value in values.items() if value is not MISSING}


def every_field(valid: dict, names, values) -> st.SearchStrategy:
    """Each field at once: kept valid, replaced by something odd, or left out (parse_facts
    checks every field, so every parser sees something odd in most examples)."""
    return st.fixed_dictionaries({
        name: st.one_of(st.just(valid.get(name, "")), values, st.just(MISSING))
        for name in names}).map(present)


facts_forms = st.one_of(
    st.dictionaries(st.sampled_from([*FACT_FIELDS, "opened_at", "unknown"]), text, max_size=16),
    every_field(BENIGN_FACTS, [*FACT_FIELDS, "opened_at"], st.one_of(nasty, digits, text)),
)


FOUND = (  # what this file found (each was a 500), kept as fixed examples
    {"customer_age": "⓵⓶⓷⓸"}, {"customer_age": "9" * 5000}, {"amount": "9" * 40},
    {"customer_id_number": "⓵" * 17 + "X"},
)


@FUZZ
@given(form=facts_forms)
@example(form={**BENIGN_FACTS, **FOUND[0]})
@example(form={**BENIGN_FACTS, **FOUND[1]})
@example(form={**BENIGN_FACTS, **FOUND[2]})
@example(form={**BENIGN_FACTS, **FOUND[3]})
def test_new_screening_form(teller, form):
    response = teller.post("/screening/new", form)
    no_server_error(response, form)
    assert response.status_code in (302, 400)


@FEW
@given(form=facts_forms)
def test_edit_facts_form(teller, form):
    session_id = new_session(teller)
    response = teller.post(f"/screening/{session_id}/facts", form)
    no_server_error(response, form)
    assert response.status_code in (302, 400)


@FUZZ
@given(answers=st.dictionaries(st.sampled_from(ANSWER_FIELDS),
                               st.one_of(text, st.lists(text, max_size=3)), max_size=10),
       base=st.sampled_from([{}, BENIGN_ANSWERS]))
def test_questions_form(teller, answers, base):
    session_id = new_session(teller)
    data = [(name, value) for name, value in {**base, **answers}.items()
            for value in (value if isinstance(value, list) else [value])]
    response = teller.post(f"/screening/{session_id}/questions", data)
    no_server_error(response, answers)
    assert response.status_code in (302, 400)


@pytest.fixture(scope="module")
def assessed(teller):
    """A critical (安全账户) screening with its result shown, for the result-page forms."""
    return screen(teller.client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS)


@FUZZ
@given(statement=text)
def test_statement_form(teller, assessed, statement):
    response = teller.post(f"/screening/{assessed}/statement", {"statement": statement})
    no_server_error(response, statement)
    assert response.status_code in (302, 400)


not_a_user = text.filter(lambda name: name.strip() not in PASSWORDS)


@FEW
@given(form=st.fixed_dictionaries({}, optional={
    "supervisor_username": not_a_user, "supervisor_password": text,
    "supervisor_reason": text}))
def test_supervisor_form(teller, assessed, form):
    response = teller.post(f"/screening/{assessed}/supervisor", form)
    no_server_error(response, form)
    assert response.status_code == 400  # nobody here knows a supervisor's password


@FUZZ
@given(outcome=st.one_of(text, st.sampled_from(["proceeded", "cancelled", "delayed",
                                                "police_called", "postponed"])),
       missing=st.booleans())
def test_outcome_form(fuzz_app, teller, outcome, missing):
    session_id = screen(teller.client, BENIGN_FACTS, BENIGN_ANSWERS)
    response = teller.post(f"/screening/{session_id}/outcome", {} if missing else
                           {"outcome": outcome})
    no_server_error(response, outcome)
    assert response.status_code in (302, 400)


@FUZZ
@given(form=st.fixed_dictionaries({"outcome": st.just("police_called")}, optional={
    "police_receipt_no": text, "police_officer": text,
    "police_time": st.one_of(text, st.sampled_from(["10:15", "23:59", "2026-12-02 10:15",
                                                    "2026-12-02T10:15+08:00", "9999-12-31 00:00",
                                                    "0001-01-01 00:00", "24:00"]))}))
def test_police_response_form(fuzz_app, teller, form):
    """已报警 with anything in the police response fields: recorded or refused, never a 5xx."""
    session_id = screen(teller.client, BENIGN_FACTS, BENIGN_ANSWERS)
    response = teller.post(f"/screening/{session_id}/outcome", form)
    no_server_error(response, form)
    assert response.status_code in (302, 400)


@FEW
@given(form=st.fixed_dictionaries({}, optional={
    "customer_name": text, "customer_phone": text, "customer_id_number": text}))
def test_alert_customer_form(teller, assessed, form):
    """The customer's details before the police alert: saved or refused, never a 5xx."""
    response = teller.post(f"/print/{assessed}/alert/customer", form)
    no_server_error(response, form)
    assert response.status_code in (302, 400)


@FEW
@given(form=st.fixed_dictionaries({}, optional={"username": not_a_user, "password": text}))
def test_login_form(fuzz_app, form):
    anonymous = User(fuzz_app, None)
    response = anonymous.post("/login", form)
    no_server_error(response, form)
    assert response.status_code in (200, 400, 401, 429)  # 429: a name failed 5 times


@pytest.fixture(scope="module")
def admin(fuzz_app):
    return User(fuzz_app, "admin")


@FEW
@given(form=st.fixed_dictionaries({}, optional={
    "username": text, "display_name": text, "staff_no": text,
    "role": st.one_of(text, st.sampled_from(["teller", "supervisor", "security", "admin"]))}))
def test_admin_add_user_form(admin, form):
    response = admin.post("/admin/users", form)
    no_server_error(response, form)
    assert response.status_code in (302, 400)


@FUZZ
@given(form=st.fixed_dictionaries({}, optional={
    "bank_name": text, "branch_name": text, "province": st.one_of(text, st.just("河北省")),
    "city": text, "large_amount": text, "elderly_age": text,
    "slip_paper": st.one_of(text, st.sampled_from(["a5", "roll80"]))}))
def test_admin_settings_form(fuzz_app, admin, form):
    database = db.connect(fuzz_app.config["DATABASE"])
    try:
        before = branch_settings.load(database)
        response = admin.post("/admin/settings", form)
        no_server_error(response, form)
        assert response.status_code in (302, 400)
        if response.status_code == 302:
            # A valid example (a large-amount line of 1 元, say) would change which questions
            # the later tests' screenings must answer: put the branch back as it was.
            branch_settings.save(database, fuzz_app.extensions["teller_guard"]["ledger_key"],
                                 before)
    finally:
        database.conn.close()


@FUZZ
@given(name=st.one_of(text, st.none()))
def test_admin_api_token_form(admin, name):
    response = admin.post("/admin/api-tokens", {} if name is None else {"name": name})
    no_server_error(response, name)
    assert response.status_code in (200, 400)


# --- the JSON API -----------------------------------------------------------------------------

VALID_BODY = {
    "teller": "teller",
    "facts": {"amount": "3000", "channel": "counter_transfer", "payee_account": "6222021234567890",
              "payee_name": "王小明", "payee_province": "河北省", "payee_type": "personal",
              "payee_known": "known", "customer_age": 45},
    "answers": {"purpose": "family_living", "knows_payee": "in_person", "relationship": "family"},
    "three_checks": {"paying_stranger": False, "possibly_scam": "no"},
}
anything = st.one_of(json_value, st.just(MISSING))


def mutate(part: dict, changes: dict) -> dict:
    result = dict(part)
    for name, value in changes.items():
        if value is MISSING:
            result.pop(name, None)
        else:
            result[name] = value
    return result


api_bodies = st.one_of(
    json_value,  # not even an object
    st.builds(lambda teller, facts, answers, three, observations, top: mutate({
        **VALID_BODY, "facts": facts,
        "answers": mutate(VALID_BODY["answers"], answers),
        "three_checks": mutate(VALID_BODY["three_checks"], three),
        "observations": observations, "teller": teller}, top),
        teller=st.one_of(st.just("teller"), json_value),
        facts=every_field(VALID_BODY["facts"], [*FACT_FIELDS, "extra"],
                          st.one_of(nasty, digits, json_value)),
        answers=st.dictionaries(st.sampled_from(["purpose", "purpose_text", "knows_payee",
                                                 "relationship", "use_confirmed"]),
                                anything, max_size=3),
        three=st.dictionaries(st.sampled_from(["paying_stranger", "possibly_scam"]), anything,
                              max_size=2),
        observations=st.one_of(st.just([]), json_value),
        top=st.dictionaries(st.sampled_from(["facts", "answers", "three_checks", "observations",
                                             "teller"]), anything, max_size=2)),
)


@MANY
@given(body=api_bodies)
@example(body={**VALID_BODY, "facts": {**VALID_BODY["facts"], "channel": []}})
@example(body={**VALID_BODY, "facts": {**VALID_BODY["facts"], "payee_known": {"a": 1}}})
@example(body={**VALID_BODY, "facts": {**VALID_BODY["facts"], **FOUND[1]}})
def test_api_rejections_name_the_field(fuzz_app, api_token, body):
    client = fuzz_app.test_client()
    data = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    response = client.post("/api/v1/screenings", data=data,
                           headers={"Authorization": f"Bearer {api_token}",
                                    "Content-Type": "application/json"})
    no_server_error(response, body)
    reply = response.get_json()
    # 413: the nasty strings include some far longer than API_MAX_CONTENT_LENGTH.
    assert response.status_code in (201, 400, 413), (response.status_code, reply)
    if response.status_code == 400:
        assert reply["error"]["fields"], reply
        assert all(isinstance(name, str) and name for name in reply["error"]["fields"])
        assert reply["error"]["field_codes"].keys() == reply["error"]["fields"].keys()
    elif response.status_code == 413:
        assert len(data) > fuzz_app.config["API_MAX_CONTENT_LENGTH"]
    else:
        assert reply["level"] in ("low", "medium", "high", "critical")


def test_api_huge_and_odd_bodies(fuzz_app, api_token):
    client = fuzz_app.test_client()
    headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
    for raw in (b"", b"null", b"[]", b'"x"', b"{", b"\xff\xfe", b'{"facts": ' + b"[" * 100_000,
                json.dumps({**VALID_BODY, "facts": {**VALID_BODY["facts"],
                                                    "payee_name": "名" * 1_000_000}}).encode()):
        response = client.post("/api/v1/screenings", data=raw, headers=headers)
        no_server_error(response, raw[:50])
        assert response.status_code in (400, 413)
        if response.status_code == 400:
            assert response.get_json()["error"]["fields"]


# --- the API's one-transaction screening is start() + assess(), exactly ----------------------

def _questions():
    from teller_guard.risk import default_rules

    return [definition.question for definition in default_rules().questions
            if definition.question.answer_field]


@st.composite
def screening_inputs(draw):
    from decimal import Decimal

    from teller_guard.regions import PROVINCES
    from teller_guard.screening.inputs import Facts

    named = draw(st.booleans())
    facts = Facts(
        amount=Decimal(draw(st.sampled_from(["3000", "49999.99", "50000", "200000", "1.01"]))),
        channel=draw(st.sampled_from(["counter_transfer", "remittance", "other"])),
        payee_account=draw(st.from_regex(r"62[0-9]{14}", fullmatch=True)),
        payee_type=draw(st.sampled_from(["personal", "corporate"])),
        payee_known=draw(st.sampled_from(["new", "known"])),
        occupation=draw(st.sampled_from(["other", "retired", "student", "finance"])),
        customer_age=draw(st.integers(18, 95)),
        payee_name=draw(st.sampled_from([None, "王小明", "安全账户", SQL])),
        payee_province=draw(st.sampled_from([None, *PROVINCES[:6]])),
        payee_city=draw(st.sampled_from([None, "邢台市", "深圳市"])),
        customer_name="张三" if named else None, customer_phone="13800138000" if named else None,
    )
    answers = {"answers": {}, "three_checks": {}, "observations": []}
    for question in _questions():
        part, _, name = question.answer_field.partition(".")
        if question.answer_field == "observations":
            answers["observations"] = sorted(draw(st.sets(st.sampled_from(
                [value for value, _ in question.options]), max_size=3)))
        elif question.options and draw(st.booleans()):
            answers[part][name] = draw(st.sampled_from([value for value, _ in question.options]))
        elif not question.options and draw(st.booleans()):
            answers[part][name] = draw(st.sampled_from(["本地", "公安说要转到安全账户"]))
    if draw(st.booleans()):
        answers["answers"]["purpose_text"] = draw(st.sampled_from(["给女儿交学费", "刷单返利"]))
    cross = {"payee_watchlisted": draw(st.booleans()),
             "payee_other_customers": draw(st.integers(0, 3)),
             "customer_prior_screenings": draw(st.integers(0, 3)),
             "customer_prior_high": draw(st.integers(0, 2))}
    return facts, answers, cross


@FUZZ
@given(case=screening_inputs())
def test_api_screening_is_start_then_assess(fuzz_app, case):
    from teller_guard import settings as branch_settings
    from teller_guard.risk import default_rules
    from teller_guard.screening import service

    facts, answers, cross = case
    extensions = fuzz_app.extensions["teller_guard"]
    keys = service.Keys(extensions["ledger_key"], extensions["pii_key"])
    moment = service.now_local()
    database = db.connect(fuzz_app.config["DATABASE"])
    try:
        branch = branch_settings.load(database)
        one = service.screen(database, keys, 1, facts, branch, default_rules(), cross, answers,
                             moment=moment)
        two = service.start(database, keys, 1, facts, branch, moment=moment)
        service.assess(database, keys, two, branch, default_rules(), cross, 1,
                       answers=answers, moment=moment)

        def row(session_id):
            values = storage.query_one(database, "SELECT * FROM sessions WHERE id = ?",
                                       [session_id])
            return {name: value for name, value in values.items() if name not in ("id", "reference")}

        def events(session_id):
            return [(kind, actor, {k: v for k, v in json.loads(data).items() if k != "reference"})
                    for kind, actor, data in database.execute(
                        "SELECT kind, actor_id, data FROM ledger WHERE session_id = ? ORDER BY id",
                        [session_id])]

        def vault(session_id):
            return database.execute("SELECT field, value FROM pii_vault WHERE session_id = ? "
                                    "ORDER BY field", [session_id]).fetchall()

        assert row(one) == row(two)
        assert events(one) == events(two)
        assert vault(one) == vault(two)
    finally:
        database.conn.close()


# --- what is typed comes back escaped, and stored verbatim ------------------------------------

@pytest.fixture(scope="module")
def security(fuzz_app):
    return User(fuzz_app, "security")


@pytest.mark.parametrize("payload", XSS)
def test_script_typed_into_free_text_is_escaped_everywhere(teller, security, payload):
    facts = {**SAFE_ACCOUNT_FACTS, "payee_city": payload[:40], "payee_bank": payload,
             "payee_name": payload, "customer_name": payload[:50]}
    answers = {**SAFE_ACCOUNT_ANSWERS, "answers.purpose_text": f"公安说要转到安全账户 {payload}",
               "answers.destination_text": payload}
    response = post_facts(teller.client, facts)
    assert response.status_code == 302
    session_id = session_id_from(response)
    assert answer_all(teller.client, session_id, answers).status_code == 302
    assert teller.post(f"/screening/{session_id}/statement",
                       {"statement": payload}).status_code == 302
    result = teller.page(f"/screening/{session_id}/result")
    mine = teller.page("/screening/")
    detail = security.page(f"/review/{session_id}")
    for name, html in (("result", result), ("mine", mine), ("review detail", detail)):
        for fragment in (payload, "<script>alert", "<img src=x", "<svg/onload"):
            assert fragment not in html, f"{name} page shows {fragment!r} unescaped"
    assert str(escape(payload[:40])) in result  # the city, on the summary
    assert str(escape(payload)) in detail  # the destination, in the answers


def test_sql_metacharacters_are_stored_verbatim(fuzz_app, teller, api_token):
    facts = {**BENIGN_FACTS, "payee_name": SQL, "payee_city": SQL[:40], "payee_bank": SQL}
    answers = {**BENIGN_ANSWERS, "answers.purpose_text": SQL}
    session_id = screen(teller.client, facts, answers)
    client = fuzz_app.test_client()
    reply = client.post("/api/v1/screenings", headers={"Authorization": f"Bearer {api_token}"},
                        json={**VALID_BODY, "facts": {**VALID_BODY["facts"], "payee_name": SQL,
                                                      "payee_bank": SQL},
                              "answers": {**VALID_BODY["answers"], "purpose_text": SQL}})
    assert reply.status_code == 201, reply.get_json()
    database = db.connect(fuzz_app.config["DATABASE"])
    try:
        for stored_id in (session_id, reply.get_json()["id"]):
            vault = dict(database.execute(
                "SELECT field, value FROM pii_vault WHERE session_id = ?", [stored_id]).fetchall())
            assert vault["payee_name"] == SQL
            form = json.loads(database.execute("SELECT form FROM sessions WHERE id = ?",
                                               [stored_id]).fetchone()[0])
            assert form["facts"]["payee_bank"] == SQL
            assert form["answers"]["answers"]["purpose_text"] == SQL
        assert database.execute("SELECT count(*) FROM sessions").fetchone()[0] >= 2
    finally:
        database.conn.close()


def test_lookalike_digits_never_reach_int(app, client, auth):
    """'⓵'.isdigit() is True but int('⓵') fails: every id posted or filtered must say no, not 500."""
    from conftest import csrf_token

    auth.login("security")
    assert client.get("/review/?teller=⓵").status_code == 200
    assert client.get("/review/?teller=" + "9" * 40).status_code == 200
    token = csrf_token(client, "/review/")
    assert client.post("/review/1/assign", data={"assignee_id": "⓵", "csrf_token": token}
                       ).status_code in (404, 409)
    assert client.post("/print/outbox/retry", data={"outbox_id": "⓵", "csrf_token": token}
                       ).status_code == 302
