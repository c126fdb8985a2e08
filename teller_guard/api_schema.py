"""The JSON API's contract as JSON Schema 2020-12 and its OpenAPI 3.1 document.

Generated, never written by hand: the facts from the form's parser tables and limits
(screening/inputs.py, screening/validation.py, regions.py), the answers, three checks and
observations from the risk engine's field tables (risk/model.py FIELD_SPECS and
OBSERVATION_FLAGS). A value the engine gains (a purpose, a relationship, an observation) is in
the schema, the validator and the served document at once. The API validates every request
against this very schema (api_check.py) before the parsers see it, so the document, the
validator and the code cannot disagree; tests/test_api_contract.py checks the schema against
the parsers.
"""

from __future__ import annotations

import functools

from . import __version__, labels
from .regions import PROVINCES
from .risk import model
from .screening import inputs, validation

API_PREFIX = "/api/v1"
# The reason code beside each field's Chinese message (error.field_codes): stable, for programs.
FIELD_CODES = {
    "unknown_field": "the key is not part of the contract (a misspelling is never ignored)",
    "required": "the field is missing, null or empty",
    "wrong_type": "the JSON type is wrong (e.g. a list or number where text is expected)",
    "invalid_value": "the value is not allowed (not one of the enum, wrong format, bad check "
                     "digit, an option the question does not offer, an unknown teller)",
    "out_of_range": "a number (or digit count) outside its minimum and maximum",
    "too_long": "text longer than its maxLength",
    "invalid_json": "the body is not UTF-8 JSON",
    "idempotency_conflict": "the Idempotency-Key was used before with a different body",
    "out_of_scope": "the token may not do this: file for this teller, change a screening "
                    "another system filed, or assert a supervisor's authorisation",
    "four_eyes": "the supervisor named is the person who screened it (approver ≠ screener)",
    "confirmation_required": "the value needs an explicit confirmation flag (an amount above "
                             "the huge-amount line needs facts.amount_confirmed true)",
    "wrong_state": "not allowed in the screening's current state (finished, not yet assessed, "
                   "no supervisor step needed, or 已办理 before the supervisor step)",
}
IDEMPOTENCY_KEY_MAX = 200
IDEMPOTENCY_KEY_PATTERN = "^[\\x20-\\x7e]+$"  # printable ASCII
TELLER_MAX = 64  # the login form's username limit
SUPERVISOR_REASON_MAX = 500  # the result page's limit
LIST_LIMIT_MAX = 200
LIST_LIMIT_DEFAULT = 50
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
REFERENCE_PATTERN = "^TG[0-9]{8}-[0-9]{6,}$"
STEPS = ("facts", "all")
ANSWER_PARTS = ("answers", "three_checks", "observations")
SUPERVISOR_DECISIONS = {"confirm": "high", "override": "critical"}  # decision -> the level
# C0 and C1 controls except tab and newline (validation.clean_text refuses the same).
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$"
# What the API takes as an amount string: digits with optional thousands commas, up to two
# decimals of yuan, an optional 万/亿 unit, ¥ before or 元 after. No signs, spaces or
# full-width digits (the teller's form is more forgiving; a program can send canonical text).
AMOUNT_PATTERN = "^[¥￥]?[0-9][0-9,]*(\\.[0-9]+)?[万亿]?元?$"
AMOUNT_MAX_LENGTH = 24
# Messages for a value that does not match its pattern, by dotted field (else a generic one).
PATTERN_MESSAGES = {
    "facts.amount": "金额格式不正确，应为数字（如 50000、50000.00）或文字（如 \"5万\"）",
    "facts.payee_account": "账号应为 {} 至 {} 位数字（不含空格）".format(*validation.ACCOUNT_DIGITS),
    "facts.customer_id_number": "身份证号应为 18 位（最后一位可为 X）",
    "facts.customer_phone": "电话号码应为 {} 至 {} 位数字，可以 + 开头".format(
        *validation.PHONE_DIGITS),
    "police.receipt_no": "接警回执号为 3 至 40 位字母、数字（可含 - _ /），请核对",
    "police.reported_at": "接警时间应为“2026-12-02T10:15”这样的日期和时间",
}


def _nullable(types: str | list[str]) -> list[str]:
    return [*([types] if isinstance(types, str) else types), "null"]


def _choice(values, description: str, default=None) -> dict:
    schema = {"type": ["string", "null"], "enum": [*values, None], "description": description}
    if default is not None:
        schema["default"] = default
    return schema


def _text(limit: int, description: str) -> dict:
    return {"type": ["string", "null"], "maxLength": limit, "pattern": NO_CONTROL_CHARACTERS,
            "description": description}


def _object(properties: dict, required: tuple = (), nullable: bool = False, **extra) -> dict:
    schema = {"type": ["object", "null"] if nullable else "object",
              "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


AMOUNT = {
    "type": ["number", "string"],
    "exclusiveMinimum": 0,
    "maximum": int(validation.MAX_AMOUNT),
    "maxLength": AMOUNT_MAX_LENGTH,
    "pattern": AMOUNT_PATTERN,
    "description": "Yuan: a JSON number (50000, 50000.5) or text (\"50000\", \"50,000.00\", "
                   "\"5万\", \"¥1.2亿\"); more than 0, at most 1,000,000,000,000, at most two "
                   "decimal places (checked after the 万/亿 unit is applied).",
    "examples": [50000, "5万"],
}


def facts_schema() -> dict:
    """`facts`: the 新建问询 fields, as screening.inputs.parse_facts reads them."""
    low, high = validation.ACCOUNT_DIGITS
    phone_low, phone_high = validation.PHONE_DIGITS
    age_low, age_high = validation.AGE_RANGE
    defaults = inputs.FACT_DEFAULTS
    limits = inputs.TEXT_LIMITS
    properties = {
        "amount": AMOUNT,
        "channel": _choice(inputs.CHANNEL_LABELS, "Business type.", defaults["channel"]),
        "payee_account": {"type": "string", "pattern": f"^[0-9]{{{low},{high}}}$",
                          "description": f"Payee account: {low}-{high} ASCII digits. Stored in "
                                         "full only in the vault; answers show it masked."},
        "payee_name": _text(limits["payee_name"], "Payee name (personal data)."),
        "payee_bank": _text(limits["payee_bank"], "Payee bank."),
        "payee_province": _choice(PROVINCES, "Payee province (GB/T 2260 name); with payee_city "
                                             "it decides 异地 against the branch's region."),
        "payee_city": _text(limits["payee_city"], "Payee city, such as 深圳市."),
        "payee_type": _choice(inputs.PAYEE_TYPE_LABELS, "Personal or corporate account.",
                              defaults["payee_type"]),
        "payee_known": {"type": "string", "enum": list(inputs.PAYEE_KNOWN_LABELS),
                        "description": "Whether the customer has paid this payee before."},
        "customer_id_number": {
            "type": ["string", "null"], "pattern": "^[0-9]{17}[0-9Xx]$",
            "description": "18-character resident ID (GB 11643). Its check digit and birth date "
                           "are verified and the age derived from it (customer_age is then "
                           "ignored). Personal data."},
        "customer_age": {
            "type": ["integer", "null"], "minimum": age_low, "maximum": age_high,
            "description": f"Age in years, {age_low}-{age_high} (0 is refused: it is what an "
                           "unset field sends). 40.0 counts as the integer 40. Required unless "
                           "customer_id_number is given."},
        "customer_name": _text(limits["customer_name"], "Customer name (personal data)."),
        "customer_phone": {
            "type": ["string", "null"], "pattern": f"^\\+?[0-9]{{{phone_low},{phone_high}}}$",
            "description": f"Customer phone: {phone_low}-{phone_high} digits, optionally after "
                           "+. With customer_name it identifies a repeat customer when no ID "
                           "number is given. Personal data."},
        "occupation": _choice(inputs.OCCUPATION_LABELS, "Customer occupation.",
                              defaults["occupation"]),
    }
    assert tuple(properties) == inputs.FACT_FIELDS, "facts schema out of step with FACT_FIELDS"
    huge = f"{validation.HUGE_AMOUNT:f}"
    properties[inputs.CONFIRMATION_FIELDS[0]] = {
        "type": ["boolean", "null"],
        "description": f"true: the amount was checked with the customer. Required for an amount "
                       f"above {huge} yuan (else `confirmation_required` on this field), "
                       "as the teller's form asks for a tick there."}
    return _object(properties, ("amount", "payee_account", "payee_known"),
                   description="The transaction and customer, as on the 新建问询 form. null is "
                               "the same as leaving a field out.")


def _engine_field(dotted: str, spec: model.FieldSpec) -> dict:
    """One answer field from the engine's FieldSpec (its kinds are all mapped)."""
    if spec.kind == "enum":
        return _choice(spec.values, f"One of the engine's values for {dotted}.")
    if spec.kind == "bool":
        return {"type": ["boolean", "null"]}
    if spec.kind == "int":
        return {"type": ["integer", "null"], "minimum": 0, "maximum": model.MAX_COUNT}
    if spec.kind == "amount":
        return {**AMOUNT, "type": _nullable(AMOUNT["type"])}
    if spec.kind == "text":
        limit = inputs.STATEMENT_LIMIT if dotted == inputs.STATEMENT_FIELD \
            else inputs.ANSWER_TEXT_LIMIT
        return _text(min(limit, model.MAX_TEXT_LENGTH), "Free text.")
    raise AssertionError(f"no schema for field kind {spec.kind!r} ({dotted})")


def _part_schema(part: str, description: str) -> dict:
    properties = {name: _engine_field(f"{part}.{name}", spec)
                  for name, spec in model.FIELD_SPECS[part].items()}
    return _object(properties, nullable=True, description=description)


@functools.cache
def request_schema() -> dict:
    """The body of POST /api/v1/screenings (cached: do not modify the dict returned)."""
    answers = _part_schema(
        "answers", "五必问 answers. Every question that applies to the transaction must be "
                   "answered (else `required`); an answer to a question that does not apply "
                   "is not used and is named in `warnings`. purpose_text (the customer's own "
                   "words) is always used.")
    answers["properties"][inputs.STATEMENT_FIELD.split(".")[1]]["description"] = (
        "The customer's own words about the purpose; the rules read words in it.")
    three = _part_schema("three_checks", "三是否 answers; the same rules as answers.")
    observations = {
        "type": ["array", "null"], "uniqueItems": True,
        "items": {"type": "string", "enum": list(model.OBSERVATION_FLAGS)},
        "description": "What the teller observed (none is a valid answer).",
    }
    return _object({
        "teller": {"type": "string", "minLength": 1, "maxLength": TELLER_MAX,
                   "description": "Username of an active teller or supervisor: the screening "
                                  "is theirs."},
        "step": {"type": ["string", "null"], "enum": [*STEPS, None], "description": (
            "`facts`: save the facts only and answer with the questions that apply (then PUT "
            ".../answers); `all`: the whole screening at once. Left out: `facts` when no "
            "answers, three_checks or observations are given, else `all`.")},
        "facts": facts_schema(),
        "answers": answers,
        "three_checks": three,
        "observations": observations,
    }, ("teller", "facts"), description=(
        "A screening: its facts alone (step `facts`) or everything at once. Unknown keys at "
        "any level are refused (`unknown_field`): a misspelt answer must never score as an "
        "unanswered one. The cross-session facts (watchlist, repeat payee and customer) are "
        "the server's, never the caller's."))


def derived(build):
    """Cache a schema built from request_schema() for as long as that stays the same object
    (a test that clears request_schema's cache gets the derived schemas anew too)."""
    cache: list = [None, None]

    @functools.wraps(build)
    def wrapper() -> dict:
        base = request_schema()
        if cache[0] is not base:
            cache[:] = [base, build(base)]
        return cache[1]
    return wrapper


@derived
def answers_request_schema(whole: dict) -> dict:
    """The body of PUT /api/v1/screenings/{id}/answers."""
    parts = whole["properties"]
    statement = _text(inputs.STATEMENT_LIMIT, (
        "The customer's answer to the follow-up questions (the result page's 记录回答并重新"
        "评估): appended on a new line to answers.purpose_text and scored again."))
    return _object({
        "answers": parts["answers"], "three_checks": parts["three_checks"],
        "observations": parts["observations"], "statement": statement,
    }, description=(
        "The answers to a screening saved with step \"facts\", scored at once. With answers, "
        "three_checks or observations, they replace those given before and every question "
        "that applies must be answered, as in the one-step POST. With only `statement`, the "
        "answers given before are kept and the statement added: a follow-up. Call again as "
        "often as needed until the outcome is recorded."))


@functools.cache
def outcome_request_schema() -> dict:
    police = _object({
        "receipt_no": {"type": ["string", "null"], "maxLength": 40,
                       "pattern": "^[0-9A-Za-z][0-9A-Za-z_/-]{2,39}$",
                       "description": "接警回执号: 3-40 letters and digits (- _ / allowed)"},
        "officer": _text(30, "出警民警: the officer's name"),
        "reported_at": {"type": ["string", "null"], "maxLength": 40,
                        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
                                   "(:[0-9]{2})?([+-][0-9]{2}:[0-9]{2}|Z)?$",
                        "description": "接警时间: ISO 8601 local date and time "
                                       "(2026-12-02T10:15 or with an offset); not in the future"},
    }, nullable=True, description=(
        "What the police gave back, with `police_called` only (optional here: the calling "
        "system cannot print the police alert the web page would accept instead). Kept with "
        "the outcome and shown on the result, the review page and the police alert."))
    return _object({"outcome": {"type": "string", "enum": list(labels.OUTCOMES),
                                "description": "已办理 (proceeded) on 高/极高 needs the supervisor "
                                               "step first. 已报警 (police_called) may carry "
                                               "`police`; the web page asks for it unless the "
                                               "case's police alert was printed."},
                    "police": police},
                   ("outcome",), description="Finish the screening with what the customer did.")


@functools.cache
def supervisor_request_schema() -> dict:
    return _object({
        "supervisor": {"type": "string", "minLength": 1, "maxLength": TELLER_MAX,
                       "description": "Username of an active supervisor other than the teller "
                                      "who screened it (four eyes), whose identity the calling "
                                      "system has checked."},
        "decision": {"type": "string", "enum": list(SUPERVISOR_DECISIONS),
                     "description": "`confirm` for 高风险, `override` (with a reason) for "
                                    "极高风险: the decision the level calls for."},
        "reason": _text(SUPERVISOR_REASON_MAX, "The written reason; required to override."),
    }, ("supervisor", "decision"), description=(
        "The supervisor's authorisation (主管授权) asserted by the calling system; only for "
        "tokens created with that right."))


@functools.cache
def list_query_schema() -> dict:
    """The query of GET /api/v1/screenings, as one object: the document lists each property as
    a parameter, and the API checks the query against this object."""
    day = {"type": "string", "pattern": DATE_PATTERN, "format": "date"}
    return _object({
        "date_from": {**day, "description": "First local day started (YYYY-MM-DD)."},
        "date_to": {**day, "description": "Last local day started (YYYY-MM-DD), inclusive."},
        "teller": {"type": "string", "minLength": 1, "maxLength": TELLER_MAX,
                   "description": "The teller's username."},
        "reference": {"type": "string", "pattern": REFERENCE_PATTERN},
        "status": {"type": "string", "enum": list(labels.SESSION_STATUS)},
        "level": {"type": "string", "enum": list(model.LEVELS)},
        "outcome": {"type": "string", "enum": list(labels.OUTCOMES)},
        "after": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1,
                  "description": "The cursor: `next` of the page before (ids above it)."},
        "limit": {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT_MAX,
                  "default": LIST_LIMIT_DEFAULT},
    })


def _reasons() -> dict:
    return {"type": "array", "items": {"type": "object", "required": ["rule_id", "points",
                                                                      "reason_zh"],
                                       "properties": {"rule_id": {"type": "string"},
                                                      "points": {"type": "integer"},
                                                      "reason_zh": {"type": "string"}}}}


def _typology() -> dict:
    return {"type": "object", "required": ["id", "name_zh", "teller_script_zh", "slip_text_zh"],
            "properties": {name: {"type": "string"} for name in
                           ("id", "name_zh", "teller_script_zh", "slip_text_zh")}}


def _question() -> dict:
    return {"type": "object", "required": ["id", "section", "text_zh", "say_zh", "options"],
            "properties": {
                "id": {"type": "string"},
                "section": {"type": "string", "enum": ["five", "three", "follow_up"]},
                "text_zh": {"type": "string"}, "say_zh": {"type": "string"},
                "answer_field": {"type": ["string", "null"]},
                "options": {"type": "array", "items": {
                    "type": "array", "minItems": 2, "maxItems": 2,
                    "prefixItems": [{"type": ["string", "boolean"]}, {"type": "string"}]}}}}


@functools.cache
def screening_schema() -> dict:
    """What every screening operation answers (GET, and POST/PUT with 201/200). Clients must
    ignore fields they do not know."""
    nullable_text = {"type": ["string", "null"]}
    return {
        "type": "object",
        "required": ["id", "reference", "status", "level", "level_label", "score", "hard_stop",
                     "reasons", "primary_typology", "typologies", "action", "follow_ups",
                     "rules_version", "outcome", "teller", "started_at", "finished_at",
                     "amount", "payee_masked", "api_client", "supervisor", "needs_supervisor"],
        "description": "While `status` is `draft` (facts saved, not yet scored) the assessment "
                       "fields are null or empty.",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "reference": {"type": "string", "pattern": REFERENCE_PATTERN},
            "status": {"type": "string", "enum": list(labels.SESSION_STATUS)},
            "level": {"type": ["string", "null"], "enum": [*model.LEVELS, None]},
            "level_label": nullable_text,
            "score": {"type": ["integer", "null"]},
            "hard_stop": {"type": ["boolean", "null"]},
            "reasons": _reasons(),
            "primary_typology": {
                "oneOf": [_typology(), {"type": "null"}],
                "description": "The one scam type whose script the teller reads, whose text the "
                               "slip prints and whose questions are the follow-ups; null when "
                               "none applies (always for 低风险)."},
            "typologies": {"type": "array", "items": _typology(),
                           "description": "The primary first, then at most two it may also be "
                                          "(也可能是)."},
            "notes": {"type": "array", "items": {"type": "string"},
                      "description": "How the evidence model bounded the level (docs/risk.md)."},
            "action": {"oneOf": [{"type": "null"}, {
                "type": "object", "required": ["code", "label_zh", "steps_zh"],
                "properties": {
                    "code": {"type": "string", "enum": list(labels.ACTIONS)},
                    "label_zh": {"type": "string"},
                    "steps_zh": {"type": "array", "items": {"type": "string"}}}}]},
            "follow_ups": {"type": "array", "items": _question(),
                           "description": "Questions of the primary scam type; the customer's "
                                          "answers go to PUT .../answers as `statement`."},
            "questions": {"type": "array", "items": _question(), "description": (
                "The 五必问/三是否 questions that apply, in order, with the words to say and "
                "the options (`answer_field` names the field that takes the answer). Present "
                "while the screening is not finished.")},
            "rules_version": nullable_text,
            "outcome": {"type": ["string", "null"], "enum": [*labels.OUTCOMES, None]},
            "teller": {"type": "string", "description": "Username of the screening's teller."},
            "started_at": {"type": "string", "format": "date-time",
                           "description": "Local time with its UTC offset."},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "amount": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$",
                       "description": "Yuan with two decimals, as text (exact)."},
            "payee_masked": {"type": "string", "description": "6222 **** **** 7890"},
            "api_client": {"type": ["string", "null"], "description": (
                "Name of the API token (calling system) that filed it; null for the web "
                "pages'.")},
            "supervisor": {"oneOf": [{"type": "null"}, {
                "type": "object", "required": ["username", "decision"],
                "properties": {"username": {"type": ["string", "null"]},
                               "decision": {"type": "string",
                                            "enum": list(labels.SUPERVISOR_DECISIONS)}}}],
                "description": "The supervisor step of the latest assessment, if any."},
            "needs_supervisor": {"type": ["string", "null"],
                                 "enum": [*SUPERVISOR_DECISIONS, None], "description": (
                "The supervisor decision still needed before `proceeded` may be recorded "
                "(`confirm` for 高, `override` for 极高), else null.")},
            "warnings": {
                "type": "object", "additionalProperties": {"type": "string"},
                "description": "POST and PUT only: notes that do not block, by dotted field "
                               "(e.g. a UnionPay card number whose check digit fails, an answer "
                               "to a question that does not apply)."},
        },
    }


def _summary() -> dict:
    full = screening_schema()["properties"]
    names = ("id", "reference", "status", "level", "score", "outcome", "teller", "started_at",
             "finished_at", "amount", "payee_masked", "api_client")
    return {"type": "object", "required": [*names, "supervisor_decision"],
            "properties": {**{name: full[name] for name in names},
                           "supervisor_decision": {"type": ["string", "null"], "enum": [
                               *labels.SUPERVISOR_DECISIONS, None]}}}


@functools.cache
def screening_list_schema() -> dict:
    return {"type": "object", "required": ["items", "next"], "properties": {
        "items": {"type": "array", "items": _summary()},
        "next": {"type": ["integer", "null"], "minimum": 1, "description": (
            "Pass as `after` for the next page; null on the last page.")}}}


def error_schema() -> dict:
    return {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer", "description": "The HTTP status."},
                "message": {"type": "string", "description": "Chinese, for people."},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Dotted field (facts.amount, observations[0], $ "
                                          "for the whole body) -> Chinese message."},
                "field_codes": {"type": "object",
                                "additionalProperties": {"type": "string",
                                                         "enum": list(FIELD_CODES)},
                                "description": "The same fields -> a stable reason code."},
            }}},
    }


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": {"$ref":
                                                            "#/components/schemas/Error"}}}}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"description": "Seconds until a request will be let through.",
                               "schema": {"type": "integer", "minimum": 1}}}
UNAUTHORIZED = _error("Missing, unknown or revoked token.", {
    "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}})


def _json(reference: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{reference}"}}}


ID_PARAMETER = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
REPLAYED = {"Idempotent-Replayed": {
    "schema": {"type": "string", "enum": ["true"]},
    "description": "Present when this is the stored answer to an earlier request with the "
                   "same key."}}
BODY_ERRORS = {
    "413": _error("Body larger than API_MAX_CONTENT_LENGTH."),
    "415": _error("Not application/json, or a charset other than UTF-8."),
}


def _change(operation_id: str, summary: str, request: str, description: str,
            method_errors: dict) -> dict:
    """A PUT/POST on one screening: the same checks, statuses and idempotency."""
    return {
        "operationId": operation_id, "summary": summary, "description": description,
        "parameters": [ID_PARAMETER, {"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {"required": True, "content": _json(request)},
        "responses": {
            "200": {"description": "Done: the screening as it is now.", "headers": REPLAYED,
                    "content": _json("Screening")},
            "400": _error("Invalid request: every offending field is named."),
            "401": UNAUTHORIZED,
            "403": _error("The token may not change this screening (another system filed "
                          "it): `out_of_scope`." + method_errors.get("403", "")),
            "404": _error("No such screening, or not one this token may read."),
            "409": _error("Not allowed in the screening's current state (`wrong_state`), or "
                          "the Idempotency-Key was used with a different body."),
            **BODY_ERRORS,
            "429": _error("Rate limit.", RETRY_AFTER),
        }}


def _list_parameters() -> list[dict]:
    schema = list_query_schema()
    return [{"name": name, "in": "query", "required": False, "schema": field,
             **({"description": field["description"]} if "description" in field else {})}
            for name, field in schema["properties"].items()]


def _paths() -> dict:
    screening = f"{API_PREFIX}/screenings/{{id}}"
    return {
        f"{API_PREFIX}/screenings": {
            "post": {
                "operationId": "createScreening",
                "summary": "Screen a transfer: its facts (step `facts`: the questions that apply "
                           "come back) or facts and answers at once (the risk level and action "
                           "come back).",
                "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                "requestBody": {"required": True, "content": _json("ScreeningRequest")},
                "responses": {
                    "201": {"description": "Stored: a draft with its questions (step `facts`; "
                                           "already assessed when the payee is on the "
                                           "watchlist), or screened.",
                            "headers": {"Location": {"schema": {"type": "string"},
                                                     "description": "/api/v1/screenings/{id}"},
                                        **REPLAYED},
                            "content": _json("Screening"),
                            "links": {name: {"operationId": operation,
                                             "parameters": {"id": "$response.body#/id"}}
                                      for name, operation in (
                                          ("GetScreening", "getScreening"),
                                          ("AnswerScreening", "answerScreening"),
                                          ("SuperviseScreening", "superviseScreening"),
                                          ("RecordOutcome", "recordOutcome"))}},
                    "400": _error("Invalid request: every offending field is named."),
                    "401": UNAUTHORIZED,
                    "403": _error("The token may not file for this teller (`out_of_scope` on "
                                  "`teller`)."),
                    "409": _error("The Idempotency-Key was used with a different body."),
                    **BODY_ERRORS,
                    "429": _error("Rate limit.", RETRY_AFTER),
                }},
            "get": {
                "operationId": "listScreenings",
                "summary": "Reconciliation: the screenings this token may read, oldest first, "
                           "a page at a time (keyset: pass `next` as `after`).",
                "parameters": _list_parameters(),
                "responses": {
                    "200": {"description": "A page.", "content": _json("ScreeningList")},
                    "400": _error("An unknown, repeated or invalid query parameter, or an "
                                  "unknown teller."),
                    "401": UNAUTHORIZED,
                    "429": _error("Rate limit.", RETRY_AFTER),
                }},
        },
        screening: {"get": {
            "operationId": "getScreening",
            "summary": "A screening as it is now: facts saved, assessed or finished.",
            "parameters": [ID_PARAMETER],
            "responses": {
                "200": {"description": "The screening.", "content": _json("Screening")},
                "401": UNAUTHORIZED,
                "404": _error("No such screening, or not one this token may read."),
                "429": _error("Rate limit.", RETRY_AFTER),
            }}},
        f"{screening}/answers": {"put": _change(
            "answerScreening", "Answer the questions and score; again with a follow-up.",
            "AnswersRequest", "The answers replace those given before; `statement` alone adds "
            "the customer's answer to the follow-up questions. Not once finished.", {})},
        f"{screening}/outcome": {"post": _change(
            "recordOutcome", "Finish the screening with its outcome.", "OutcomeRequest",
            "The same rules as the result page: 已办理 on 高/极高 needs the supervisor step "
            "first (409 `wrong_state` on `outcome`).", {})},
        f"{screening}/supervisor": {"post": _change(
            "superviseScreening", "The supervisor's authorisation (主管授权).",
            "SupervisorRequest", "Only for tokens created with that right. The supervisor is "
            "never the teller who screened it (403 `four_eyes`); the ledger records the "
            "calling system's name with the decision.",
            {"403": " A token without the supervisor right (`out_of_scope`), or the "
                    "supervisor screened it (`four_eyes` on `supervisor`)."})},
        f"{API_PREFIX}/openapi.json": {"get": {
            "operationId": "getOpenApi", "security": [],
            "summary": "This document (no token needed: it holds no data).",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {
                                      "schema": {"type": "object"}}}}}}},
    }


@functools.cache
def openapi_document() -> dict:
    codes = "\n".join(f"- `{code}`: {meaning}" for code, meaning in FIELD_CODES.items())
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "teller_guard screening API",
            "version": __version__,
            "description": (
                "Counter transfer fraud screening (柜面转账风险筛查) for the core-banking teller "
                "system. Authenticate with `Authorization: Bearer tg_...` (a token an admin "
                "creates under 接口令牌; the scheme name is case-insensitive). Requests are "
                "limited per token per sliding minute (429 with Retry-After). Bodies are "
                "UTF-8 JSON (Content-Type: application/json; another charset is a 415) of at "
                "most API_MAX_CONTENT_LENGTH bytes (413).\n\nEvery 4xx has the body "
                "`{\"error\": {\"code\", \"message\", \"fields\", \"field_codes\"}}`; `fields` "
                "and `field_codes` name each offending field by its dotted path. Codes:\n"
                f"{codes}"),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API token (tg_...)."}},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": (
                    "Any string of 1-200 printable ASCII characters, unique per request the "
                    "caller means (e.g. a UUID). A retry with the same key and the same body "
                    "(compared as canonical JSON) gets the first answer again, same status "
                    "and id, and creates nothing; the same key with another body is a 409. "
                    "Keys are kept per token for IDEMPOTENCY_KEY_HOURS (default 48) hours. "
                    "Only a change that was made is remembered (2xx): a refused request leaves "
                    "the key unused. Taken by every POST and by PUT .../answers (a follow-up "
                    "statement is appended, so a retried PUT must not add it twice)."),
                "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX,
                           "pattern": IDEMPOTENCY_KEY_PATTERN}}},
            "schemas": {
                "ScreeningRequest": request_schema(),
                "AnswersRequest": answers_request_schema(),
                "OutcomeRequest": outcome_request_schema(),
                "SupervisorRequest": supervisor_request_schema(),
                "Screening": screening_schema(),
                "ScreeningList": screening_list_schema(),
                "Error": error_schema(),
            },
        },
    }


ENUM_SPELLED_OUT = 25


def _constraints(schema: dict) -> str:
    parts = []
    enum = [value for value in schema.get("enum", ()) if value is not None]
    if enum:
        parts.append(", ".join(f"`{value}`" for value in enum) if len(enum) <= ENUM_SPELLED_OUT
                     else f"one of {len(enum)} values (see openapi.json)")
    for keyword, text in (("minLength", "min {} chars"), ("maxLength", "max {} chars"),
                          ("exclusiveMinimum", "> {}"), ("minimum", "≥ {}"),
                          ("maximum", "≤ {}"), ("default", "default `{}`")):
        if keyword in schema:
            parts.append(text.format(schema[keyword]))
    pattern = schema.get("pattern")
    if pattern and pattern != NO_CONTROL_CHARACTERS:
        parts.append(f"pattern `{pattern}`")
    elif pattern:
        parts.append("no control characters")
    if schema.get("uniqueItems"):
        parts.append("each at most once")
    if "items" in schema:
        parts.append(_constraints(schema["items"]))
    return "; ".join(parts)


def _type_words(schema: dict) -> str:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    words = [kind for kind in types if kind != "null"]
    if "items" in schema:
        words = [f"array of {_type_words(schema['items'])}"]
    return " or ".join(words)


def fields_table() -> str:
    """The request fields as a Markdown table, for the README (tests/test_api_contract.py
    checks the README's copy against this)."""
    lines = ["| field | type | required | values and limits | notes |", "|---|---|---|---|---|"]

    def walk(schema: dict, prefix: str) -> None:
        required = set(schema.get("required", ()))
        for name, field in schema["properties"].items():
            dotted = f"{prefix}{name}"
            note = field.get("description", "").split(". ")[0].rstrip(".")
            lines.append(f"| `{dotted}` | {_type_words(field)} | "
                         f"{'yes' if name in required else ''} | {_constraints(field)} | "
                         f"{note} |")
            if "properties" in field:
                walk(field, f"{dotted}.")

    walk(request_schema(), "")
    return "\n".join(lines)
