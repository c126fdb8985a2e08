"""JSON API for the core-banking teller system: POST/GET /api/v1/screenings.

Same validation (screening.inputs) and the same service and engine as the web form.
"""

from __future__ import annotations

import os

from flask import Blueprint, current_app, g, jsonify, request

from . import api_tokens, rate_limit, users
from .db import get_db
from .risk import applicable_questions
from .screening import inputs, service
from .screening.context import branch as current_branch
from .screening.context import cross_session, keys, rules

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def rate_limiter() -> rate_limit.RateLimiter:
    """One limiter per app, counting in the instance folder (shared by serve --workers)."""
    cache = current_app.extensions["teller_guard"]
    if "rate_limiter" not in cache:
        cache["rate_limiter"] = rate_limit.RateLimiter(
            os.path.join(current_app.instance_path, "api_rate_limit.bin"))
    return cache["rate_limiter"]


def error(status: int, message: str, fields: dict | None = None):
    body = {"error": {"code": status, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return jsonify(body), status


@bp.before_request
def require_token():
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    found = api_tokens.find_active(get_db(), token) if token else None
    if found is None:
        return error(401, "缺少或无效的接口令牌（Authorization: Bearer …）")
    if not rate_limiter().allow(found["id"], current_app.config["API_RATE_LIMIT_PER_MINUTE"]):
        return error(429, "请求过于频繁，请稍后再试")
    g.api_token = found


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


@bp.route("/screenings", methods=["POST"])
def create_screening():
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # e.g. [[[[…]]]] nested 100,000 deep: not a usable body either
        body = None
    if not isinstance(body, dict):
        return error(400, "请求体应为 JSON 对象", {"$": "应为 JSON 对象"})
    db = get_db()
    fields = {}
    teller = body.get("teller")
    teller_row = users.find_user(db, teller) if isinstance(teller, str) else None
    if teller_row is None or not teller_row["active"] or \
            teller_row["role"] not in ("teller", "supervisor"):
        fields["teller"] = "应为有效的柜员或主管用户名"
    raw_facts = body.get("facts")
    if not isinstance(raw_facts, dict):
        return error(400, "请求无效", {**fields, "facts": "应为对象"})
    moment = service.now_local()
    checked = inputs.parse_facts(raw_facts, moment.date())
    fields.update({f"facts.{name}": message for name, message in checked.errors.items()})
    for part in ("answers", "three_checks"):
        if part in body and not isinstance(body[part], dict):
            fields[part] = "应为对象"
    if "observations" in body and not isinstance(body["observations"], list):
        fields["observations"] = "应为列表"
    if fields:
        return error(400, "请求无效", fields)
    branch = current_branch()
    stored = inputs.masked_facts(checked.value, service.MASKS)
    preview = inputs.engine_input(stored, inputs.other_region_of(stored, branch))
    asked = applicable_questions(preview, service.policy_of(branch), rules())
    answers = inputs.parse_answers(body, asked)
    if not answers.ok:
        return error(400, "请求无效", answers.errors)
    # Cross-session facts are read before the write lock is taken; the session does not exist
    # yet, so it cannot count itself.
    session_keys = keys()
    hashes = service.party_hashes(session_keys, checked.value)
    found = cross_session(*hashes)
    row = service.screen_row(db, session_keys, teller_row["id"], checked.value, branch,
                             rules(), found, answers.value, moment, stored=stored, hashes=hashes)
    body = assessment_json(row)
    body["warnings"] = {f"facts.{name}": message for name, message in checked.warnings.items()}
    return jsonify(body), 201


@bp.route("/screenings/<int:session_id>", methods=["GET"])
def get_screening(session_id: int):
    row = service.get(get_db(), session_id)
    if row is None or row["assessment"] is None:
        return error(404, "问询不存在")
    return jsonify(assessment_json(row))
