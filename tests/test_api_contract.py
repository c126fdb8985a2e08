"""The API's strict contract: misspelt keys, wrong types and every limit are 400s naming the
field with a reason code; HTTP details; and the served schema agrees with the parsers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest
from api_helpers import BENIGN, CRITICAL, FACTS, body, count, post
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from teller_guard import api_check, api_schema
from teller_guard.regions import PROVINCES
from teller_guard.risk import default_rules, model
from teller_guard.screening import inputs

README = Path(__file__).resolve().parent.parent / "README.md"


def refused(response, field: str, code: str) -> dict:
    assert response.status_code == 400, (response.status_code, response.get_json())
    error = response.get_json()["error"]
    assert error["code"] == 400 and error["fields"].keys() == error["field_codes"].keys()
    assert error["field_codes"].get(field) == code, error
    assert error["fields"][field], error  # a Chinese message beside the code
    return error


# --- the safety bug: a misspelling is a 400, never a quieter answer -------------------------

def test_the_critical_body_is_critical(client, token):
    reply = post(client, token, CRITICAL)
    assert reply.status_code == 201 and reply.get_json()["level"] == "critical"


def _rename(part, old, new):
    def change(payload):
        container = payload[part] if part else payload
        container[new] = container.pop(old)
    return change


@pytest.mark.parametrize("change, field", [
    (_rename("answers", "purpose_text", "purpose_txt"), "answers.purpose_txt"),
    (_rename(None, "observations", "observation"), "observation"),
    (_rename("answers", "purpose", "purpse"), "answers.purpse"),
    (_rename("three_checks", "possibly_scam", "possibly_scan"), "three_checks.possibly_scan"),
    (_rename("facts", "payee_known", "payee_knwon"), "facts.payee_knwon"),
    (lambda payload: payload.update(cross_session={"payee_watchlisted": False}),
     "cross_session"),
    (lambda payload: payload.update(extra="x" * 1000), "extra"),
])
def test_misspelt_or_unknown_key_is_refused(app, client, token, change, field):
    payload = body(CRITICAL)
    change(payload)
    error = refused(post(client, token, payload), field, "unknown_field")
    assert "未知字段" in error["fields"][field]
    assert count(app, "SELECT count(*) FROM sessions") == 0


def test_unknown_key_message_suggests_the_right_name(client, token):
    error = refused(post(client, token, body(CRITICAL, answers__purpose_txt="x")),
                    "answers.purpose_txt", "unknown_field")
    assert "purpose_text" in error["fields"]["answers.purpose_txt"]


def test_every_problem_is_named_at_once(client, token):
    payload = body(BENIGN, facts__colour="red", answers__x=1, three_checks__y=2)
    payload["observations"] = [{}, 0, "on_phone", "on_phone", "dancing"]
    error = post(client, token, payload).get_json()["error"]
    assert error["field_codes"] == {
        "facts.colour": "unknown_field", "answers.x": "unknown_field",
        "three_checks.y": "unknown_field", "observations[0]": "wrong_type",
        "observations[1]": "wrong_type", "observations[4]": "invalid_value",
        "observations[3]": "invalid_value"}


def test_odd_key_names_are_quoted_in_the_field(client, token):
    payload = body(BENIGN)
    payload["facts"]["a.b"] = 1
    payload[""] = 1
    error = post(client, token, payload).get_json()["error"]
    assert error["field_codes"] == {'facts["a.b"]': "unknown_field",
                                    '$[""]': "unknown_field"}


# --- wrong types ----------------------------------------------------------------------------

@pytest.mark.parametrize("changes, field", [
    ({"facts__payee_name": ["安全账户"]}, "facts.payee_name"),
    ({"facts__payee_city": 5}, "facts.payee_city"),
    ({"facts__channel": []}, "facts.channel"),
    ({"facts__amount": True}, "facts.amount"),
    ({"facts__amount": [3000]}, "facts.amount"),
    ({"facts__customer_age": "45"}, "facts.customer_age"),
    ({"facts__customer_age": 40.5}, "facts.customer_age"),
    ({"facts": []}, "facts"),
    ({"answers": "x"}, "answers"),
    ({"answers__purpose_text": ["安全账户"]}, "answers.purpose_text"),
    ({"answers__purpose": 1}, "answers.purpose"),
    ({"three_checks__paying_stranger": "false"}, "three_checks.paying_stranger"),
    ({"observations": "on_phone"}, "observations"),
    ({"observations": [{}]}, "observations[0]"),
    ({"observations": [0]}, "observations[0]"),
    ({"teller": 7}, "teller"),
])
def test_wrong_types_are_refused(client, token, changes, field):
    refused(post(client, token, body(BENIGN, **changes)), field, "wrong_type")


def test_body_that_is_not_an_object(client, token):
    refused(post(client, token, ["teller"]), "$", "wrong_type")


# --- every documented limit -----------------------------------------------------------------

@pytest.mark.parametrize("changes, field, code", [
    ({"facts__customer_age": 0}, "facts.customer_age", "out_of_range"),
    ({"facts__customer_age": 131}, "facts.customer_age", "out_of_range"),
    ({"facts__customer_age": 1955}, "facts.customer_age", "out_of_range"),
    ({"facts__customer_age": None}, "facts.customer_age", "required"),
    ({"facts__amount": "-1"}, "facts.amount", "invalid_value"),
    ({"facts__amount": 0}, "facts.amount", "out_of_range"),
    ({"facts__amount": "0"}, "facts.amount", "out_of_range"),
    ({"facts__amount": 10**13}, "facts.amount", "out_of_range"),
    ({"facts__amount": "20000亿"}, "facts.amount", "out_of_range"),
    ({"facts__amount": 0.001}, "facts.amount", "invalid_value"),
    ({"facts__amount": "5 万"}, "facts.amount", "invalid_value"),
    ({"facts__amount": "9" * 25}, "facts.amount", "too_long"),
    ({"facts__payee_account": "1234567"}, "facts.payee_account", "invalid_value"),
    ({"facts__payee_account": "1" * 31}, "facts.payee_account", "invalid_value"),
    ({"facts__payee_account": "6222 0212 3456 7890"}, "facts.payee_account", "invalid_value"),
    ({"facts__payee_province": "广东"}, "facts.payee_province", "invalid_value"),
    ({"facts__payee_city": "市" * 41}, "facts.payee_city", "too_long"),
    ({"facts__payee_name": "名" * 101}, "facts.payee_name", "too_long"),
    ({"facts__payee_bank": "银行\x07"}, "facts.payee_bank", "invalid_value"),
    ({"facts__customer_name": "张" * 51}, "facts.customer_name", "too_long"),
    ({"facts__customer_phone": "138-0013-8000"}, "facts.customer_phone", "invalid_value"),
    ({"facts__customer_phone": "1234"}, "facts.customer_phone", "invalid_value"),
    ({"facts__customer_id_number": "110105194912310021"}, "facts.customer_id_number",
     "invalid_value"),
    ({"facts__channel": ""}, "facts.channel", "invalid_value"),
    ({"facts__payee_known": None}, "facts.payee_known", "wrong_type"),
    ({"answers__purpose_text": "话" * 1001}, "answers.purpose_text", "too_long"),
    ({"answers__purpose": "bogus"}, "answers.purpose", "invalid_value"),
    ({"teller": "nobody"}, "teller", "invalid_value"),
    ({"teller": "security"}, "teller", "invalid_value"),
    ({"teller": ""}, "teller", "required"),
])
def test_limits_are_refused_with_their_code(client, token, changes, field, code):
    refused(post(client, token, body(BENIGN, **changes)), field, code)


@pytest.mark.parametrize("part, field", [(None, "facts"), (None, "teller"),
                                         ("facts", "amount"), ("facts", "payee_account"),
                                         ("facts", "payee_known"), ("facts", "customer_age"),
                                         ("answers", "purpose"),
                                         ("three_checks", "possibly_scam")])
def test_missing_fields_are_required(client, token, part, field):
    payload = body(BENIGN)
    (payload[part] if part else payload).pop(field)
    refused(post(client, token, payload), f"{part}.{field}" if part else field, "required")


@pytest.mark.parametrize("changes", [
    {"facts__customer_age": 1}, {"facts__customer_age": 130}, {"facts__customer_age": 40.0},
    {"facts__amount": 3000.5}, {"facts__amount": "3,000.00"}, {"facts__amount": "¥1.2万"},
    {"facts__payee_account": "1" * 30}, {"facts__payee_city": "市" * 40},
    {"facts__customer_phone": "+8613800138000"}, {"facts__channel": None},
    {"facts__payee_province": None}, {"answers__purpose_text": "话" * 1000},
    {"facts__customer_id_number": "11010519491231002x", "facts__customer_age": None},
])
def test_the_edges_of_each_limit_are_accepted(client, token, changes):
    # Every answer given: an edge (age 130, another city) may bring in more questions.
    everything = body(BENIGN, answers__destination_text="本地", answers__use_confirmed=True,
                      answers__verified_by_phone=True, three_checks__family_consulted=True)
    reply = post(client, token, body(everything, **changes))
    assert reply.status_code == 201, reply.get_json()


def test_age_forty_point_zero_is_the_integer_forty(app, client, token):
    reply = post(client, token, body(BENIGN, facts__customer_age=40.0))
    assert reply.status_code == 201
    database_form = json.loads(_form(app, reply.get_json()["id"]))
    assert database_form["facts"]["customer_age"] == 40


def _form(app, session_id):
    from teller_guard import db

    database = db.connect(app.config["DATABASE"])
    try:
        return database.execute("SELECT form FROM sessions WHERE id = ?", [session_id]).fetchone()[0]
    finally:
        database.conn.close()


def test_answer_to_a_question_that_does_not_apply_is_named_in_warnings(client, token):
    # 3,000 to a payee in the branch's own province: no large-amount or destination question.
    reply = post(client, token, body(BENIGN, answers__destination_text="本地",
                                     answers__use_confirmed=True))
    assert reply.status_code == 201
    warnings = reply.get_json()["warnings"]
    assert {name for name in warnings if not name.startswith("facts.")} == {
        "answers.destination_text", "answers.use_confirmed"}


# --- HTTP -------------------------------------------------------------------------------------

def test_created_has_location(client, token):
    reply = post(client, token, BENIGN)
    assert reply.status_code == 201
    location = reply.headers["Location"]
    assert location == f"/api/v1/screenings/{reply.get_json()['id']}"
    fetched = client.get(location, headers={"Authorization": f"Bearer {token}"})
    assert fetched.status_code == 200 and fetched.get_json()["id"] == reply.get_json()["id"]


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_bearer_scheme_in_any_case(client, token, scheme):
    reply = client.post("/api/v1/screenings", json=BENIGN,
                        headers={"Authorization": f"{scheme} {token}"})
    assert reply.status_code == 201


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer tg_wrong", "Basic dGVsbGVyOng=",
                                    "tg_only"])
def test_unauthorised_says_how_to_authenticate(client, header):
    reply = client.post("/api/v1/screenings", json=BENIGN,
                        headers={"Authorization": header} if header else {})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert reply.get_json()["error"]["code"] == 401


@pytest.mark.parametrize("method, path, allow", [
    ("put", "/api/v1/screenings", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("get", "/api/v1/screenings/1/outcome", {"POST", "OPTIONS"}),
    ("post", "/api/v1/screenings/1/answers", {"PUT", "OPTIONS"}),
    ("delete", "/api/v1/screenings/1", {"GET", "HEAD", "OPTIONS"}),
    ("post", "/api/v1/openapi.json", {"GET", "HEAD", "OPTIONS"}),
])
def test_method_not_allowed_lists_the_allowed(client, token, method, path, allow):
    reply = getattr(client, method)(path, json={}, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 405 and reply.get_json()["error"]["code"] == 405
    assert {name.strip() for name in reply.headers["Allow"].split(",")} == allow


def test_pages_say_which_methods_are_allowed_too(client):
    reply = client.get("/logout")
    assert reply.status_code == 405 and reply.mimetype == "text/html"
    assert {name.strip() for name in reply.headers["Allow"].split(",")} == {"POST", "OPTIONS"}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1",
                                          "application/json; charset=utf-16"])
def test_non_json_content_types_are_415(client, token, content_type):
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    reply = client.post("/api/v1/screenings", data=json.dumps(BENIGN), headers=headers)
    assert reply.status_code == 415 and reply.get_json()["error"]["code"] == 415


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "application/json;charset=UTF-8",
                                          "Application/JSON"])
def test_utf8_json_in_any_spelling_is_read(client, token, content_type):
    reply = client.post("/api/v1/screenings",
                        data=json.dumps(BENIGN, ensure_ascii=False).encode("utf-8"),
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": content_type})
    assert reply.status_code == 201, reply.get_json()


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", "{\"teller\": \"柜员\"}".encode("gbk"),
                                 b'{"teller": NaN}', b"{", b""])
def test_undecodable_bodies_are_invalid_json(client, token, raw):
    reply = client.post("/api/v1/screenings", data=raw,
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": "application/json"})
    refused(reply, "$", "invalid_json")


def test_oversized_body_is_413_json(app, client, token):
    payload = body(BENIGN, facts__payee_name="名" * 30_000)  # 90 KB of UTF-8
    reply = post(client, token, payload)
    assert reply.status_code == 413
    assert reply.get_json()["error"]["code"] == 413
    assert count(app, "SELECT count(*) FROM sessions") == 0


def test_rate_limit_says_when_to_retry(app, client, token, monkeypatch):
    from teller_guard import rate_limit

    monkeypatch.setattr(rate_limit, "clock", lambda: 60 * 29_000_000 + 10)
    app.config["API_RATE_LIMIT_PER_MINUTE"] = 2
    replies = [post(client, token, {"teller": "teller"}) for _ in range(3)]
    assert [reply.status_code for reply in replies] == [400, 400, 429]
    # Two requests this minute and none the last: the window clears at the next minute.
    assert replies[2].headers["Retry-After"] == "50"


@pytest.mark.parametrize("minute, current, previous, limit, now, expected", [
    (10, 2, 0, 2, 610, 50),  # next minute, this minute's 2 fade below 2 at once
    (10, 4, 0, 2, 615, 45 + 30),  # next minute, 4 * (1 - f) < 2 once f > 1/2
    (10, 0, 4, 2, 605, 25),  # this minute: 4 * (1 - f) < 2 once f > 1/2, at 630
    (10, 1, 4, 2, 605, 40),  # 4 * (1 - f) + 1 < 2 once f > 3/4, at 645
])
def test_seconds_until_allowed(minute, current, previous, limit, now, expected):
    from teller_guard import rate_limit

    assert rate_limit.seconds_until_allowed(minute, current, previous, limit, now) == \
        pytest.approx(expected)


def test_openapi_is_served_without_a_token(client):
    from openapi_spec_validator import validate

    reply = client.get("/api/v1/openapi.json")
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    document = reply.get_json()
    validate(document)  # a valid OpenAPI 3.1 document
    assert document == json.loads(json.dumps(api_schema.openapi_document()))


# --- the schema against the code ------------------------------------------------------------

class Recording(Mapping):
    """A mapping that remembers which keys a parser asked for."""

    def __init__(self, values):
        self.values, self.read = dict(values), set()

    def __getitem__(self, key):
        self.read.add(key)
        return self.values[key]

    def get(self, key, default=None):
        self.read.add(key)
        return self.values.get(key, default)

    def __contains__(self, key):
        self.read.add(key)
        return key in self.values

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)


FACTS_SCHEMA = api_schema.facts_schema()
TODAY = date(2026, 6, 1)


def test_facts_in_the_schema_are_what_the_parser_reads():
    recording = Recording({**FACTS, "customer_id_number": "11010519491231002X"})
    inputs.parse_facts(recording, TODAY)
    assert recording.read == set(inputs.FACT_FIELDS)
    assert set(FACTS_SCHEMA["properties"]) == {*inputs.FACT_FIELDS, *inputs.CONFIRMATION_FIELDS}
    assert set(inputs.FACT_FIELDS) == set(inputs.Facts.__dataclass_fields__)
    # The confirmation flags are read for the values that need them (an amount above the line).
    huge = Recording({**FACTS, "amount": "2000万", "amount_confirmed": True})
    assert inputs.parse_facts(huge, TODAY).ok
    assert huge.read == {*inputs.FACT_FIELDS, *inputs.CONFIRMATION_FIELDS}


def test_answers_in_the_schema_are_what_the_parser_and_engine_take():
    schema = api_schema.request_schema()["properties"]
    asked = {question.answer_field for question in _checklist()}
    in_schema = {f"{part}.{name}" for part in ("answers", "three_checks")
                 for name in schema[part]["properties"]}
    assert asked - {"observations"} <= in_schema  # every answer the parser reads
    assert in_schema == {f"{part}.{name}" for part in ("answers", "three_checks")
                         for name in model.FIELD_SPECS[part]}  # every one the engine takes
    recording = Recording({"answers": {}, "three_checks": {}, "observations": []})
    inputs.parse_answers(recording, _checklist())
    # Form posts use dotted names, JSON nests them: the parser asks for both.
    assert {name for name in recording.read if "." not in name} <= set(schema)
    assert {name for name in recording.read if "." in name} <= in_schema


def _checklist():
    return [definition.question for definition in default_rules().questions
            if definition.question.section != "follow_up"]


@pytest.mark.parametrize("name", [name for name, field in FACTS_SCHEMA["properties"].items()
                                  if "enum" in field])
def test_fact_enums_equal_what_the_parser_accepts(name):
    enum = [value for value in FACTS_SCHEMA["properties"][name]["enum"] if value is not None]
    for value in enum:
        checked = inputs.parse_facts({**FACTS, name: value}, TODAY)
        assert name not in checked.errors, (name, value, checked.errors)
    parser_values = {"channel": inputs.CHANNEL_LABELS, "payee_type": inputs.PAYEE_TYPE_LABELS,
                     "payee_known": inputs.PAYEE_KNOWN_LABELS,
                     "occupation": inputs.OCCUPATION_LABELS, "payee_province": PROVINCES}[name]
    assert set(enum) == set(parser_values)
    assert name in inputs.parse_facts({**FACTS, name: "no-such-value"}, TODAY).errors


def test_answer_enums_equal_the_engine_tables():
    schema = api_schema.request_schema()["properties"]
    for part in ("answers", "three_checks"):
        for name, spec in model.FIELD_SPECS[part].items():
            field = schema[part]["properties"][name]
            if spec.kind == "enum":
                assert field["enum"] == [*spec.values, None]
    assert schema["observations"]["items"]["enum"] == list(model.OBSERVATION_FLAGS)
    for question in _checklist():  # every option a question offers is allowed
        values = {value for value, _ in question.options}
        if question.answer_field == "observations":
            assert values <= set(model.OBSERVATION_FLAGS)
        elif question.options and isinstance(next(iter(values)), str):
            part, name = question.answer_field.split(".")
            assert values <= set(schema[part]["properties"][name]["enum"])


def test_a_value_the_engine_gains_is_in_the_schema_at_once(client, monkeypatch):
    specs = dict(model.FIELD_SPECS)
    specs["answers"] = {**specs["answers"], "relationship": model.FieldSpec(
        "enum", (*model.RELATIONSHIPS, "classmate"))}
    monkeypatch.setattr(model, "FIELD_SPECS", specs)
    flags = (*model.OBSERVATION_FLAGS, "wears_sunglasses")
    monkeypatch.setattr(model, "OBSERVATION_FLAGS", flags)
    for cached in (api_schema.request_schema, api_schema.openapi_document):
        cached.cache_clear()
    try:
        document = client.get("/api/v1/openapi.json").get_json()
        request = document["components"]["schemas"]["ScreeningRequest"]["properties"]
        assert "classmate" in request["answers"]["properties"]["relationship"]["enum"]
        assert "wears_sunglasses" in request["observations"]["items"]["enum"]
    finally:
        monkeypatch.undo()
        for cached in (api_schema.request_schema, api_schema.openapi_document):
            cached.cache_clear()


@pytest.mark.parametrize("name", list(inputs.TEXT_LIMITS))
def test_fact_text_limits_equal_the_parser(name):
    limit = FACTS_SCHEMA["properties"][name]["maxLength"]
    assert limit == inputs.TEXT_LIMITS[name]
    assert name not in inputs.parse_facts({**FACTS, name: "字" * limit}, TODAY).errors
    checked = inputs.parse_facts({**FACTS, name: "字" * (limit + 1)}, TODAY)
    assert checked.codes[name] == "too_long"


def test_answer_text_limits_equal_the_parser():
    schema = api_schema.request_schema()["properties"]["answers"]["properties"]
    destination = next(q for q in _checklist() if q.answer_field == "answers.destination_text")
    for name, questions in (("purpose_text", []), ("destination_text", [destination])):
        limit = schema[name]["maxLength"]
        ok = inputs.parse_answers({"answers": {name: "字" * limit}}, questions)
        assert f"answers.{name}" not in ok.errors
        long = inputs.parse_answers({"answers": {name: "字" * (limit + 1)}}, questions)
        assert long.codes[f"answers.{name}"] == "too_long"


def test_required_facts_equal_the_parser():
    required = set(FACTS_SCHEMA["required"])
    for name in inputs.FACT_FIELDS:
        without = {key: value for key, value in FACTS.items() if key != name}
        codes = inputs.parse_facts(without, TODAY).codes
        # customer_age is optional in the schema only because an ID number can stand for it.
        expected = name in required or name == "customer_age"
        assert (codes.get(name) == "required") == expected, (name, codes)


@pytest.mark.parametrize("age, ok", [(0, False), (1, True), (130, True), (131, False)])
def test_age_range_is_the_same_in_schema_parser_and_docs(age, ok):
    field = FACTS_SCHEMA["properties"]["customer_age"]
    assert (field["minimum"] <= age <= field["maximum"]) == ok
    assert ("customer_age" not in inputs.parse_facts({**FACTS, "customer_age": age},
                                                     TODAY).errors) == ok
    assert "1–130" in README.read_text(encoding="utf-8")


def test_patterns_are_anchored_and_ecma_safe():
    def patterns(schema):
        if isinstance(schema, dict):
            if isinstance(schema.get("pattern"), str):
                yield schema["pattern"]
            for value in schema.values():
                yield from patterns(value)
        elif isinstance(schema, list):
            for value in schema:
                yield from patterns(value)

    found = list(patterns(api_schema.openapi_document()))
    assert len(found) >= 6
    for pattern in found:
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        assert not re.search(r"\\[AZzh]|\(\?P|\(\?<", pattern), pattern  # Python-only syntax


def test_schemas_are_valid_json_schema():
    for schema in (api_schema.request_schema(), api_schema.screening_schema(),
                   api_schema.error_schema()):
        Draft202012Validator.check_schema(schema)


def test_readme_fields_table_is_generated_from_the_schema():
    readme = README.read_text(encoding="utf-8")
    table = re.search(r"<!-- api-fields:start -->\n(.*?)\n<!-- api-fields:end -->", readme,
                      re.S).group(1)
    assert table == api_schema.fields_table(), "run `teller-guard openapi --fields-table`"


# --- the checker is the schema: the jsonschema package agrees with it -------------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**13),
                      st.floats(allow_nan=False, allow_infinity=False),
                      st.text(max_size=12).filter(lambda text: not text.endswith("\n")),
                      st.sampled_from(["5万", "河北省", "on_phone", "family", "x" * 1001, "",
                                       "6222021234567890", "+8613800138000", "\x07"]))
json_values = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=5)
PATHS = [(), ("teller",), ("facts",), ("answers",), ("three_checks",), ("observations",),
         *[("facts", name) for name in inputs.FACT_FIELDS],
         *[("answers", name) for name in model.FIELD_SPECS["answers"]],
         *[("three_checks", name) for name in model.FIELD_SPECS["three_checks"]],
         ("facts", "unknown"), ("answers", "purpose_txt"), ("observation",)]


@st.composite
def near_valid_bodies(draw):
    payload = body(CRITICAL)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        value = draw(json_values)
        if not path:
            return value
        target = payload
        for part in path[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        if draw(st.booleans()) and path[-1] in target:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return payload


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid_bodies())
def test_checker_agrees_with_jsonschema(payload):
    problems, _ = api_check.check(api_schema.request_schema(), payload)
    errors = list(Draft202012Validator(api_schema.request_schema()).iter_errors(payload))
    assert (not problems) == (not errors), (problems, [error.message for error in errors])


# --- responses conform ------------------------------------------------------------------------

def test_responses_conform_to_their_schemas(client, token):
    screening = Draft202012Validator(api_schema.screening_schema())
    failure = Draft202012Validator(api_schema.error_schema())
    created = post(client, token, CRITICAL)
    screening.validate(created.get_json())
    fetched = client.get(created.headers["Location"], headers={"Authorization": f"Bearer {token}"})
    screening.validate(fetched.get_json())
    for reply in (post(client, token, body(CRITICAL, answers__purpose_txt="x")),
                  client.post("/api/v1/screenings", json={}),
                  client.get("/api/v1/screenings/999", headers={"Authorization":
                                                                f"Bearer {token}"})):
        assert reply.status_code >= 400
        failure.validate(reply.get_json())
