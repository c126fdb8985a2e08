"""The API's screening steps after the facts, as the web pages take them: the questions that
apply, the answers (and follow-up statements) scored, the supervisor's authorisation and the
outcome; and the listing for reconciliation.

Every step calls the same service function as the web page (screening/service.py), so the
rules are the web's: the screening's own teller is the actor, a new assessment clears the
supervisor's decision, 已办理 on 高/极高 needs the supervisor first, and the approver is never
the screener. Only the token that filed a screening changes it (api_scope.py).
"""

from __future__ import annotations

import re
from datetime import date

from flask import g, jsonify, request

from . import api_check, api_schema, api_scope, branch_scope, clock, users
from .api import (
    NOT_FOUND,
    amount_text,
    bp,
    checker,
    error,
    field_error,
    idempotency_lookup,
    not_applicable,
    problems_error,
    read_json_body,
    readable,
    remembered_change,
    screening_json,
)
from .db import get_db
from .screening import inputs, police, service
from .screening.context import branch as current_branch
from .screening.context import cross_session, keys, rules
from .storage import api_flow as stored_flow

FINISHED = "该问询已记录结果，不能再修改。如需更正，请新建问询或联系主管。"
NOT_ASSESSED = "请先提交回答（PUT …/answers）并完成风险评估"
INTEGER_TEXT = re.compile(r"-?[0-9]{1,30}")


def step_of(body: dict) -> str | None:
    """"facts" or "all"; None for step "facts" sent with answers (a contradiction)."""
    given = any(body.get(part) is not None for part in api_schema.ANSWER_PARTS)
    step = body.get("step")
    if step is None:
        return "all" if given else "facts"
    return None if step == "facts" and given else step


def signals_of(row: dict) -> dict:
    """The engine's cross-session facts for a stored screening, which does not count itself."""
    return cross_session(row["payee_hash"], row["customer_hash"], row["branch_id"],
                         exclude_session_id=row["id"])


def questions_of(row: dict, found: dict | None = None):
    """The 五必问/三是否 questions that apply, while the screening is not finished."""
    if row["status"] in ("finished", "discarded"):
        return None
    return service.questions_for(get_db(), row, current_branch(row["branch_id"]), rules(),
                                 signals_of(row) if found is None else found)


def create_draft(teller_row: dict, checked, moment, warnings: dict, key, digest):
    """Step "facts": save the facts as the 新建问询 page does and answer with the questions that
    apply. A watchlisted payee is assessed at once (极高), as the web flow skips to the result."""
    session_keys, branch = keys(), current_branch(teller_row["branch_id"])
    # Read before the write lock; the session does not exist yet, so it cannot count itself.
    found = cross_session(*service.party_hashes(session_keys, checked.value),
                          teller_row["branch_id"])

    def work(db):
        session_id = service.start(db, session_keys, teller_row["id"], checked.value, branch,
                                   moment=moment, api_token_id=g.api_token["id"])
        if found["payee_watchlisted"]:
            service.assess(db, session_keys, session_id, branch, rules(), found,
                           teller_row["id"], answers={}, moment=moment)
        row = stored_flow.screening(db, session_id)
        asked = service.questions_for(db, row, branch, rules(), found)
        return session_id, {**screening_json(row, asked), "warnings": warnings}

    return remembered_change(work, key, digest, 201)


def changeable(session_id: int):
    """(row, None) when this token may change the screening, else (None, 404 or 403)."""
    row = readable(session_id)
    if row is None:
        return None, error(404, NOT_FOUND)
    if not api_scope.may_change(g.api_token, row):
        return None, field_error("$", "out_of_scope", "只有提交该问询的系统可以修改它", status=403)
    return row, None


def wrong_state(message: str, field: str = "$"):
    return field_error(field, "wrong_state", message, status=409)


class Answered(Exception):
    """The request ends here with this response (a refusal, or an idempotent replay)."""

    def __init__(self, response):
        super().__init__()
        self.response = response


@bp.errorhandler(Answered)
def answered(ended: Answered):
    return ended.response


def start_change(session_id: int, schema_of) -> tuple[dict, dict, str | None, str | None]:
    """What each change begins with: the JSON body, the Idempotency-Key (a replay ends here),
    the screening this token may change, and the body checked against its schema. Returns
    (row, body, key, digest) or raises Answered."""
    body, failure = read_json_body()
    if failure is not None:
        raise Answered(failure)
    key, digest, replayed = idempotency_lookup(body)
    if replayed is not None:
        raise Answered(replayed)
    row, failure = changeable(session_id)
    if failure is not None:
        raise Answered(failure)
    problems, body = api_check.check(checker(schema_of), body)
    if problems:
        raise Answered(problems_error(problems))
    if row["status"] == "finished":
        raise Answered(wrong_state(FINISHED))
    if row["status"] == "discarded":  # by its teller on 我的问询
        raise Answered(wrong_state(service.DISCARDED))
    return row, body, key, digest


@bp.route("/screenings/<int:session_id>/answers", methods=["PUT"])
def answer_screening(session_id: int):
    row, body, key, digest = start_change(session_id, api_schema.answers_request_schema)
    given = any(body.get(part) is not None for part in api_schema.ANSWER_PARTS)
    statement = (body.get("statement") or "").strip()
    if body.get("statement") is not None and not statement:
        return field_error("statement", "required", "请记录客户的回答后再重新评估")
    if not given and not statement and row["status"] != "draft":
        return field_error("$", "required",
                           "请提交回答（answers、three_checks、observations）或客户陈述（statement）")
    found = signals_of(row)
    branch = current_branch(row["branch_id"])
    asked = service.questions_for(get_db(), row, branch, rules(), found)
    given_answers, warnings = None, {}
    if given or row["status"] == "draft":
        checked = inputs.parse_answers(body, asked)
        if not checked.ok:
            return error(400, "请求无效", checked.errors, checked.codes)
        given_answers, warnings = checked.value, not_applicable(body, asked)

    def work(db):
        # Without new answers, assess() reads those stored inside the write lock (and adds
        # the statement to them), so two statements sent at once are both kept.
        service.assess(db, keys(), session_id, branch, rules(), found, row["teller_id"],
                       answers=given_answers, statement=statement or None)
        return session_id, {**screening_json(stored_flow.screening(db, session_id), asked),
                            "warnings": warnings}

    return remembered_change(work, key, digest, 200)


@bp.route("/screenings/<int:session_id>/outcome", methods=["POST"])
def record_outcome(session_id: int):
    row, body, key, digest = start_change(session_id, api_schema.outcome_request_schema)
    if row["status"] != "assessed":
        return wrong_state(NOT_ASSESSED)
    outcome = body["outcome"]
    if outcome == "proceeded" and not service.may_proceed(row):
        return wrong_state("高风险需主管确认、极高风险需主管书面理由后，才能记录为已办理"
                           "（POST …/supervisor）", "outcome")
    response, problem = police_response_of(body.get("police"), outcome, row)
    if problem is not None:
        return problem

    def work(db):
        service.record_outcome(db, keys(), session_id, outcome, row["teller_id"],
                               police=response)
        return session_id, screening_json(stored_flow.screening(db, session_id))

    return remembered_change(work, key, digest, 200)


def police_response_of(given: dict | None, outcome: str, row: dict):
    """(the police response to keep, None) or (None, the 400): checked as the result page
    checks it, but optional, since a calling system cannot print the alert instead."""
    if not given or not any(given.values()):
        return None, None
    if outcome != "police_called":
        return None, field_error("police", "invalid_value", "报警信息只在 outcome 为 police_called 时填写")
    form = {police.RECEIPT_FIELD: given.get("receipt_no"),
            police.OFFICER_FIELD: given.get("officer"),
            police.TIME_FIELD: (given.get("reported_at") or "").replace("T", " ", 1)}
    checked = police.parse_police_response(
        form, alert_printed=True, started_at=clock.parse(row["started_at"]),
        now=service.now_local())
    if not checked.ok:
        names = {police.RECEIPT_FIELD: "police.receipt_no", police.OFFICER_FIELD: "police.officer",
                 police.TIME_FIELD: "police.reported_at"}
        return None, error(400, "请求无效",
                           {names[name]: message for name, message in checked.errors.items()},
                           {names[name]: code for name, code in checked.codes.items()})
    return checked.value, None


@bp.route("/screenings/<int:session_id>/supervisor", methods=["POST"])
def supervise(session_id: int):
    if not api_scope.may_supervise(g.api_token):
        return field_error("$", "out_of_scope", "该接口令牌无权提交主管授权", status=403)
    row, body, key, digest = start_change(session_id, api_schema.supervisor_request_schema)
    if row["status"] != "assessed":
        return wrong_state(NOT_ASSESSED)
    wanted = {level: decision for decision, level in api_schema.SUPERVISOR_DECISIONS.items()
              }.get(row["level"])
    if wanted is None:
        return wrong_state("该问询无需主管确认")
    if body["decision"] != wanted:
        return wrong_state("高风险由主管确认（confirm）" if wanted == "confirm"
                           else "极高风险只能由主管书面放行（override）", "decision")
    reason = (body.get("reason") or "").strip()
    if wanted == "override" and not reason:
        return field_error("reason", "required", "极高风险放行必须填写书面理由")
    supervisor = users.find_user(get_db(), body["supervisor"])
    if supervisor is None or not supervisor["active"] or supervisor["role"] != "supervisor" or \
            supervisor["branch_id"] != row["branch_id"]:  # another branch's is no supervisor here
        return field_error("supervisor", "invalid_value", "应为有效的主管用户名")
    if supervisor["id"] == row["teller_id"]:
        return field_error("supervisor", "four_eyes", service.SELF_APPROVAL, status=403)
    asked = questions_of(row)
    via = {"api_token_id": g.api_token["id"], "api_token": g.api_token["name"]}

    def work(db):
        service.supervise(db, keys(), session_id, supervisor["id"], reason or None, via=via)
        return session_id, screening_json(stored_flow.screening(db, session_id), asked)

    return remembered_change(work, key, digest, 200)


# --- reconciliation ----------------------------------------------------------------------------

def list_query():
    """(filters, None) or (None, 400): the query checked against api_schema.list_query_schema;
    each parameter at most once, the dates real days in order."""
    values, repeated = {}, []
    for name, given in request.args.lists():
        if len(given) > 1:
            repeated.append(name)
        value = given[0]
        if name in ("after", "limit") and INTEGER_TEXT.fullmatch(value):
            value = int(value)
        values[name] = value
    problems, values = api_check.check(checker(api_schema.list_query_schema), values)
    problems += [api_check.Problem(api_check.field_name((name,)), "invalid_value", "只能出现一次")
                 for name in repeated]
    if problems:
        return None, problems_error(problems)
    for name in ("date_from", "date_to"):
        if name in values:
            try:
                values[name] = date.fromisoformat(values[name])
            except ValueError:
                return None, field_error(name, "invalid_value", "不是有效的日期（YYYY-MM-DD）")
    if values.get("date_from") and values.get("date_to") and \
            values["date_from"] > values["date_to"]:
        return None, field_error("date_to", "out_of_range", "结束日期不能早于开始日期")
    return values, None


def summary_json(row: dict) -> dict:
    return {"id": row["id"], "reference": row["reference"], "status": row["status"],
            "level": row["level"], "score": row["score"], "outcome": row["outcome"],
            "teller": row["teller_username"], "started_at": row["started_at"],
            "finished_at": row["finished_at"], "amount": amount_text(row["amount_fen"]),
            "payee_masked": row["payee_masked"], "api_client": row["api_client"],
            "supervisor_decision": row["supervisor_decision"]}


@bp.route("/screenings", methods=["GET"])
def list_screenings():
    query, failure = list_query()
    if failure is not None:
        return failure
    db = get_db()
    teller_id = None
    if "teller" in query:
        teller = users.find_user(db, query["teller"])
        if not branch_scope.within(branch_scope.token_branch_ids(g.api_token), teller):
            return field_error("teller", "invalid_value", "没有这个用户名")
        teller_id = teller["id"]
    scope = api_scope.Scope.of(g.api_token)
    limit = query.get("limit", api_schema.LIST_LIMIT_DEFAULT)
    rows = stored_flow.screenings_page(
        db, after=query.get("after", 0), limit=limit + 1,
        token_id=None if scope.read == "all" else g.api_token["id"],
        branch_ids=branch_scope.token_branch_ids(g.api_token),
        date_from=query.get("date_from"), date_to=query.get("date_to"), teller_id=teller_id,
        reference=query.get("reference"), outcome=query.get("outcome"),
        level=query.get("level"), status=query.get("status"))
    items = rows[:limit]
    return jsonify({"items": [summary_json(row) for row in items],
                    "next": items[-1]["id"] if len(rows) > limit else None})
