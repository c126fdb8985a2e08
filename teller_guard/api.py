"""JSON API for the core-banking teller system: POST/GET /api/v1/screenings (the steps after
the facts, and the listing, are in api_flow.py).

The contract is api_schema.py (served at /api/v1/openapi.json); every body is checked against
it (api_check.py) before the form's parsers (screening.inputs) and the same service and engine
as the web form see it. What a token may do is api_scope.py.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import (
    api_check,
    api_idempotency,
    api_schema,
    api_scope,
    api_tokens,
    branch_scope,
    labels,
    rate_limit,
    storage,
    users,
)
from .db import get_db, is_postgresql
from .risk import applicable_questions
from .screening import inputs, service
from .screening.context import branch as current_branch
from .screening.context import cross_session, keys, rules
from .storage import api_flow as stored_flow

bp = Blueprint("api", __name__, url_prefix=api_schema.API_PREFIX)
PUBLIC_ENDPOINTS = {"api.openapi"}  # the contract holds no data; integrators read it first
JSON_MIMETYPE = "application/json"
UTF8_CHARSETS = {"utf-8", "utf8"}
NOT_APPLICABLE = "该问题不适用于本笔交易，回答未采用"


def rate_limiter() -> rate_limit.RateLimiter | rate_limit.DatabaseRateLimiter:
    """One limiter per app, for all of the server's threads; on PostgreSQL counted in the
    database, for all of the processes serving it."""
    cache = current_app.extensions["teller_guard"]
    if "rate_limiter" not in cache:
        limiter = (rate_limit.DatabaseRateLimiter(get_db)
                   if is_postgresql(current_app.config["DATABASE"])
                   else rate_limit.RateLimiter())
        cache.setdefault("rate_limiter", limiter)  # the first thread's wins
    return cache["rate_limiter"]


def error(status: int, message: str, fields: dict | None = None, codes: dict | None = None,
          headers: dict | None = None):
    """The error envelope: {"error": {"code", "message", "fields", "field_codes"}}."""
    body = {"error": {"code": status, "message": message}}
    if fields:
        body["error"]["fields"] = fields
        body["error"]["field_codes"] = codes or {name: "invalid_value" for name in fields}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    g.api_error_codes = sorted(set((codes or {}).values()))  # for the metrics (telemetry.py)
    return response


def field_error(field: str, code: str, message: str, status: int = 400):
    return error(status, "请求无效", {field: message}, {field: code})


_compiled: dict[str, tuple[dict, api_check.Node]] = {}


def checker(schema_of) -> api_check.Node:
    """A request schema (api_schema.request_schema, answers_request_schema, …) compiled once,
    and again only if the schema is generated anew."""
    schema = schema_of()
    found = _compiled.get(schema_of.__name__)
    if found is None or found[0] is not schema:
        found = _compiled[schema_of.__name__] = (schema, api_check.Node(schema))
    return found[1]


def request_checker() -> api_check.Node:
    return checker(api_schema.request_schema)


def problems_error(problems: list[api_check.Problem]):
    return error(400, "请求无效", {p.field: p.message for p in problems},
                 {p.field: p.code for p in problems})


def bearer_token() -> str:
    """The token of `Authorization: Bearer <token>`, the scheme in any letter case."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@bp.before_request
def require_token():
    request.max_content_length = current_app.config["API_MAX_CONTENT_LENGTH"]
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = bearer_token()
    found = api_tokens.find_active(get_db(), token) if token else None
    if found is None:
        challenge = 'Bearer realm="teller_guard"' + (', error="invalid_token"' if token else "")
        return error(401, "缺少或无效的接口令牌（Authorization: Bearer …）",
                     headers={"WWW-Authenticate": challenge})
    wait = rate_limiter().wait(found["id"], current_app.config["API_RATE_LIMIT_PER_MINUTE"])
    if wait is not None:
        return error(429, "请求过于频繁，请稍后再试",
                     headers={"Retry-After": str(max(1, math.ceil(wait)))})
    api_tokens.note_use(get_db(), found)
    g.api_token = found
    return None


def read_json_body():
    """(body, None) or (None, error response): 415 unless UTF-8 JSON, 413 past the size limit,
    400 when it does not parse."""
    if request.mimetype != JSON_MIMETYPE:
        return None, error(415, "请求体应为 JSON（Content-Type: application/json）")
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.strip().lower() not in UTF8_CHARSETS:
        return None, error(415, "仅支持 UTF-8 编码的 JSON（charset=utf-8）")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        limit = current_app.config["API_MAX_CONTENT_LENGTH"]
        return None, error(413, f"请求体过大（最多 {limit} 字节）")
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant), None
    except UnicodeDecodeError:
        return None, field_error("$", "invalid_json", "请求体不是 UTF-8 编码")
    except (ValueError, RecursionError):  # RecursionError: [[[[…]]]] nested 100,000 deep
        return None, field_error("$", "invalid_json", "请求体不是有效的 JSON")


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def assessment_json(row: dict) -> dict:
    result = row["assessment"] or {}
    return {
        "id": row["id"],
        "reference": row["reference"],
        "status": row["status"],
        "level": row["level"],
        "level_label": result.get("level_label"),
        "score": row["score"],
        "hard_stop": result.get("hard_stop"),
        "reasons": result.get("fired", []),
        # the one scam type whose script the teller reads; "typologies" repeats it first, then
        # at most two it may also be (也可能是)
        "primary_typology": (result.get("typologies") or [None])[0],
        "typologies": result.get("typologies", []),
        "notes": result.get("notes_zh", []),
        "action": result.get("action"),
        "follow_ups": result.get("follow_ups", []),
        "rules_version": row["rules_version"],
        "outcome": row["outcome"],
    }


def needs_supervisor(row: dict) -> str | None:
    """The supervisor decision still missing before 已办理 may be recorded."""
    if row["status"] == "finished" or row["level"] not in ("high", "critical") or \
            service.may_proceed(row):
        return None
    return "confirm" if row["level"] == "high" else "override"


def amount_text(amount_fen: int) -> str:
    """Yuan with two decimals, exact: 5000000 -> "50000.00"."""
    return f"{Decimal(amount_fen) / 100:.2f}"


def screening_json(row: dict, questions=None) -> dict:
    """The Screening of the contract: assessment_json plus who, when, how much and for whom.
    `row` carries teller_username, supervisor_username and api_client besides the session's
    columns (storage.api_flow.screening); `questions` the applicable ones while unfinished."""
    body = assessment_json(row)
    body.update({
        "teller": row["teller_username"],
        "started_at": row["started_at"],
        "finished_at": row.get("finished_at"),
        "amount": amount_text(row["amount_fen"]),
        "payee_masked": row["payee_masked"],
        "api_client": row["api_client"],
        "supervisor": {"username": row["supervisor_username"],
                       "decision": row["supervisor_decision"]}
        if row.get("supervisor_decision") else None,
        "needs_supervisor": needs_supervisor(row),
    })
    if questions is not None:
        body["questions"] = [labels.shown_question(question.to_dict()) for question in questions]
    return body


def created(body: dict):
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"{api_schema.API_PREFIX}/screenings/{body['id']}"
    return response


def replay_or_conflict(stored: dict, digest: str):
    """The stored first answer to this key (any POST: its status and body, and Location for a
    created screening), or 409 when the key came with another request."""
    if stored["request_hash"] != digest:
        return field_error(api_idempotency.HEADER, "idempotency_conflict",
                           "该幂等键已用于内容不同的请求，请换一个新的幂等键", status=409)
    response = jsonify(stored["response"])
    response.status_code = stored["status"]
    if stored["status"] == 201 and stored["session_id"] is not None:
        response.headers["Location"] = f"{api_schema.API_PREFIX}/screenings/{stored['session_id']}"
    response.headers["Idempotent-Replayed"] = "true"
    return response


def not_applicable(body: dict, asked) -> dict[str, str]:
    """Answers given to questions that do not apply: not used, and the caller is told."""
    fields = {question.answer_field for question in asked} | {inputs.STATEMENT_FIELD}
    given = [f"{part}.{name}" for part in ("answers", "three_checks")
             for name, value in (body.get(part) or {}).items() if value is not None]
    if body.get("observations"):
        given.append("observations")
    return {name: NOT_APPLICABLE for name in given if name not in fields}


def idempotency_lookup(body) -> tuple[str | None, str | None, object]:
    """(key, digest, None) to go on with, or (key, digest, response) when the request ends
    here: a malformed key, or the stored answer to a key seen before (api_idempotency)."""
    key = request.headers.get(api_idempotency.HEADER)
    if key is None:
        return None, None, None
    problem = api_idempotency.key_problem(key)
    if problem:
        return key, None, field_error(api_idempotency.HEADER, *problem)
    digest = api_idempotency.request_hash(request.method, request.path, body)
    stored = api_idempotency.find(get_db(), g.api_token["id"], key,
                                  current_app.config["IDEMPOTENCY_KEY_HOURS"])
    if stored is not None:
        return key, digest, replay_or_conflict(stored, digest)
    return key, digest, None


def answer_of_the_winner(key: str, digest: str):
    """A request with the same key committed first: answer what it answered."""
    stored = api_idempotency.find(get_db(), g.api_token["id"], key,
                                  current_app.config["IDEMPOTENCY_KEY_HOURS"])
    if stored is None:  # expired in between: extremely unlikely, never a second change
        return field_error(api_idempotency.HEADER, "idempotency_conflict",
                           "该幂等键正被另一请求使用，请稍后重试", status=409)
    return replay_or_conflict(stored, digest)


def remembered_change(work, key: str | None, digest: str | None, status: int):
    """Run work(db) -> (session_id, body) in one write transaction together with the key's
    stored answer, then answer body with `status`. A step the service refuses (FlowError: a
    state changed by another request in between) is a 409."""
    db = get_db()
    try:
        with storage.transaction(db):
            session_id, body = work(db)
            if key is not None:
                api_idempotency.remember(db, g.api_token["id"], key, digest, status, body,
                                         session_id, current_app.config["IDEMPOTENCY_KEY_HOURS"])
    except api_idempotency.KeyTaken:
        return answer_of_the_winner(key, digest)
    except service.FlowError as problem:
        return field_error("$", "wrong_state", str(problem), status=409)
    if status == 201:
        return created(body)
    return jsonify(body)


def teller_and_facts(db, body: dict):
    """(teller row, checked facts, moment, None) or (…, error response): the token may file
    for the teller (403 otherwise), who is an active teller or supervisor of the token's branch
    (403 for another branch's), and the facts parse."""
    if not api_scope.may_file_for(g.api_token, body["teller"]):
        return None, None, None, field_error("teller", "out_of_scope",
                                             "该接口令牌无权代此柜员提交问询", status=403)
    fields, codes = {}, {}
    teller_row = users.find_user(db, body["teller"])
    if teller_row is None or not teller_row["active"] or \
            teller_row["role"] not in ("teller", "supervisor"):
        fields["teller"], codes["teller"] = "应为有效的柜员或主管用户名", "invalid_value"
    elif not branch_scope.within(branch_scope.token_branch_ids(g.api_token), teller_row):
        return None, None, None, field_error("teller", "out_of_scope",
                                             "该接口令牌只能代本网点的柜员提交问询", status=403)
    moment = service.now_local()
    checked = inputs.parse_facts(body["facts"], moment.date())
    fields.update({f"facts.{name}": message for name, message in checked.errors.items()})
    codes.update({f"facts.{name}": code for name, code in checked.codes.items()})
    if fields:
        return None, None, None, error(400, "请求无效", fields, codes)
    return teller_row, checked, moment, None


@bp.route("/screenings", methods=["POST"])
def create_screening():
    body, failure = read_json_body()
    if failure is not None:
        return failure
    key, digest, answered = idempotency_lookup(body)
    if answered is not None:
        return answered
    token_id = g.api_token["id"]
    db = get_db()
    hours = current_app.config["IDEMPOTENCY_KEY_HOURS"]

    problems, body = api_check.check(request_checker(), body)
    if problems:
        return problems_error(problems)
    step = api_flow.step_of(body)
    if step is None:
        return field_error("step", "invalid_value",
                           "分步提交交易信息时不能同时提交回答；回答请用 PUT …/answers 提交")
    teller_row, checked, moment, failure = teller_and_facts(db, body)
    if failure is not None:
        return failure
    warnings = {f"facts.{name}": message for name, message in checked.warnings.items()}
    if step == "facts":
        return api_flow.create_draft(teller_row, checked, moment, warnings, key, digest)

    branch = current_branch(teller_row["branch_id"])
    stored_facts = inputs.masked_facts(checked.value, service.MASKS)
    preview = inputs.engine_input(stored_facts, inputs.other_region_of(stored_facts, branch))
    asked = applicable_questions(preview, service.policy_of(branch), rules())
    answers = inputs.parse_answers(body, asked)
    if not answers.ok:
        return error(400, "请求无效", answers.errors, answers.codes)
    warnings.update(not_applicable(body, asked))
    names = {"teller_username": teller_row["username"], "supervisor_username": None,
             "api_client": g.api_token["name"]}

    def answer(row: dict) -> dict:
        return {**screening_json({**row, **names}, asked), "warnings": warnings}

    def remember(writer, row):
        if key is not None:
            api_idempotency.remember(writer, token_id, key, digest, 201, answer(row),
                                     row["id"], hours)

    # Cross-session facts are read before the write lock is taken; the session does not exist
    # yet, so it cannot count itself.
    session_keys = keys()
    hashes = service.party_hashes(session_keys, checked.value)
    found = cross_session(*hashes, teller_row["branch_id"])
    try:
        row = service.screen_row(db, session_keys, teller_row["id"], checked.value, branch,
                                 rules(), found, answers.value, moment, stored=stored_facts,
                                 hashes=hashes, also_write=remember, api_token_id=token_id)
    except api_idempotency.KeyTaken:  # a request with the same key won the race
        return answer_of_the_winner(key, digest)
    return created(answer(row))


def readable(session_id: int) -> dict | None:
    """The screening with its names, when this token may read it (else None: a 404 that does
    not tell whether it exists): one of the token's branch, within its read scope."""
    row = stored_flow.screening(get_db(), session_id)
    if not branch_scope.within(branch_scope.token_branch_ids(g.api_token), row) or \
            not api_scope.may_read(g.api_token, row):
        return None
    return row


NOT_FOUND = "问询不存在"


@bp.route("/screenings/<int:session_id>", methods=["GET"])
def get_screening(session_id: int):
    row = readable(session_id)
    if row is None:
        return error(404, NOT_FOUND)
    return jsonify(screening_json(row, api_flow.questions_of(row)))


@bp.route("/openapi.json", methods=["GET"])
def openapi():
    return jsonify(api_schema.openapi_document())


from . import api_flow  # noqa: E402 - adds the steps after the facts and the listing to bp
