"""The screening service: every step saved with its audit event in one transaction.

Used by the web pages, the JSON API and the demo seeder, so a step works the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from .. import audit, clock, digests, group_commit, labels, pii, storage
from ..risk import Assessment, Policy, RuleSet, applicable_questions, evaluate
from ..storage import ledger as ledger_store
from ..storage import sessions
from . import follow_ups, validation
from .inputs import (
    Facts,
    engine_input,
    masked_answers,
    masked_facts,
    other_region_of,
    with_statement,
)

OUTCOMES = labels.OUTCOMES
PROTECTED_OUTCOMES = labels.PROTECTED_OUTCOMES
LEVEL_LABELS = labels.LEVELS
QUEUE_LEVELS = ("high", "critical")
MASKS = {
    "payee_account": pii.mask_account,
    "payee_name": pii.mask_name,
    "customer_id_number": pii.mask_id_number,
    "customer_name": pii.mask_name,
    "customer_phone": pii.mask_phone,
}


class FlowError(Exception):
    """A step that is not allowed now (message in Chinese, shown to the teller)."""


# Four-eyes: the approver of a 高/极高 case is never the person who screened it, whether the
# screening came from the web form or from the API filed under a supervisor's name.
SELF_APPROVAL = "主管不能审批自己办理的问询（双人复核），请由另一位主管确认"


@dataclass(frozen=True)
class Keys:
    ledger: bytes
    pii: bytes


def now_local() -> datetime:
    """This moment in the bank's zone (what the teller's page shows); stored as UTC."""
    return clock.local(clock.now())


def _iso(moment: datetime) -> str:
    return clock.stamp(moment)


def _append(db, keys: Keys, kind: str, actor_id, session_id, **data) -> None:
    audit.append(db, keys.ledger, audit.AuditEvent(kind, actor_id, session_id, data))


def _state(db, keys: Keys, session_id: int) -> str:
    """The `state` of the row as written in this transaction: the event that goes with the
    write pins the form, facts, assessment and vault, which it does not itself hold
    (digests.py; checked by `teller-guard verify`)."""
    return digests.state_in_db(db, digests.digest_key(keys.ledger), session_id)


def _vault_of(facts: Facts) -> dict[str, str]:
    return {name: getattr(facts, name) for name in MASKS if getattr(facts, name)}


def _vault(db, session_id: int, facts: Facts, moment: datetime, new: bool = False) -> None:
    if new:  # nothing to delete: the fields given, in the same order as below
        sessions.store_vault(db, session_id, _vault_of(facts), _iso(moment))
    else:
        sessions.save_vault(db, session_id, {name: getattr(facts, name) for name in MASKS},
                            _iso(moment))


def party_hashes(keys: Keys, facts: Facts) -> tuple[str, str | None]:
    """Keyed hashes of the payee account and the customer (None when the customer is unknown)."""
    customer_key = facts.customer_id_number or (
        f"{facts.customer_name}|{facts.customer_phone}" if facts.customer_name and
        facts.customer_phone else None)
    return (pii.keyed_hash(keys.pii, facts.payee_account),
            pii.keyed_hash(keys.pii, customer_key) if customer_key else None)


def _fact_columns(keys: Keys, facts: Facts, branch, stored: dict | None = None,
                  hashes: tuple[str, str | None] | None = None) -> dict:
    """`stored` and `hashes`, when given, are masked_facts() and party_hashes() of `facts`
    already computed by the caller."""
    stored = stored if stored is not None else masked_facts(facts, MASKS)
    payee_hash, customer_hash = hashes if hashes is not None else party_hashes(keys, facts)
    return {
        "amount_fen": int(facts.amount * 100),
        "channel": facts.channel,
        "other_region": int(other_region_of(stored, branch)),
        "payee_hash": payee_hash,
        "payee_masked": stored["payee_account"],
        "customer_hash": customer_hash,
        "customer_masked": stored.get("customer_name") or stored.get("customer_id_number") or "",
    }, stored


def start(db, keys: Keys, teller_id: int, facts: Facts, branch,
          opened_at: datetime | None = None, moment: datetime | None = None,
          api_token_id: int | None = None) -> int:
    """Create the session from the 新建问询 facts. `opened_at` is when the form was opened;
    `api_token_id` the API token that filed it (None: the web pages)."""
    moment = moment or now_local()
    started = opened_at if opened_at and moment - timedelta(hours=2) <= opened_at <= moment \
        else moment
    columns, stored = _fact_columns(keys, facts, branch)
    day = clock.business_day(started)  # the reference's day and the statistics' agree
    values = {"teller_id": teller_id, "started_at": _iso(started),
              "business_day": day.isoformat(), "updated_at": _iso(moment),
              "step": "questions", "status": "draft",
              "form": json.dumps({"facts": stored}, ensure_ascii=False), **columns,
              **_filed_by(api_token_id)}
    state = digests.state(digests.digest_key(keys.ledger), values, _vault_of(facts))
    with storage.transaction(db):
        session_id, reference = sessions.start(db, day, values)
        _vault(db, session_id, facts, moment, new=True)
        _append(db, keys, "screening.started", teller_id, session_id, reference=reference,
                state=state, **_filed_by(api_token_id))
    return session_id


def _filed_by(api_token_id: int | None) -> dict:
    """The column (and screening.started data) naming the API token that filed a screening;
    nothing for the web pages' screenings, whose rows and events stay as they were."""
    return {} if api_token_id is None else {"api_token_id": api_token_id}


def vault_values(db, session_id: int) -> dict[str, str]:
    """Full personal data of a session (for internal use; callers showing it must log it)."""
    return sessions.vault(db, session_id)


def get(db, session_id: int) -> dict | None:
    """The session row, form and assessment decoded; None when there is none."""
    return sessions.load(db, session_id)


DISCARDED = "该问询已作废，不能继续。如客户仍要办理，请新建问询。"
DISCARD_NOTE_LIMIT = 200


def _require_open(row) -> None:
    if row is None:
        raise FlowError("问询不存在")
    if row["status"] == "finished":
        raise FlowError("该问询已记录结果，不能再修改。如需更正，请新建问询或联系主管。")
    if row["status"] == "discarded":
        raise FlowError(DISCARDED)


def update_facts(db, keys: Keys, session_id: int, facts: Facts, branch, actor_id: int) -> None:
    moment = now_local()
    with storage.transaction(db):
        row = get(db, session_id)
        _require_open(row)
        columns, stored = _fact_columns(keys, facts, branch)
        form = row["form"]
        changed = sorted(name for name, value in stored.items()
                         if form.get("facts", {}).get(name) != value)
        form["facts"] = stored
        sessions.save_step(db, session_id, {
            **columns, "form": json.dumps(form, ensure_ascii=False),
            "updated_at": _iso(moment), "step": "questions", "status": "draft",
        })
        _vault(db, session_id, facts, moment)
        _append(db, keys, "screening.step_saved", actor_id, session_id, step="facts",
                fields=changed, state=_state(db, keys, session_id))


def save_answers(db, keys: Keys, session_id: int, answers: dict, actor_id: int) -> None:
    """Keep what has been asked so far, even before it is complete (nothing is lost)."""
    answers = masked_answers(answers)
    with storage.transaction(db):
        row = get(db, session_id)
        _require_open(row)
        form = row["form"]
        form["answers"] = answers
        sessions.save_step(db, session_id, {"form": json.dumps(form, ensure_ascii=False),
                                 "updated_at": _iso(now_local())})
        _append(db, keys, "screening.step_saved", actor_id, session_id, step="questions",
                fields=sorted(_answer_names(answers)), state=_state(db, keys, session_id))


def _answer_names(answers: dict) -> list[str]:
    names = [f"{part}.{name}" for part in ("answers", "three_checks")
             for name in (answers.get(part) or {})]
    return names + (["observations"] if answers.get("observations") else [])


def policy_of(branch) -> Policy:
    return Policy(large_amount=Decimal(branch.large_amount), elderly_age=branch.elderly_age)


def screening_input(db, row: dict, branch, cross_session: dict, answers: dict | None = None):
    facts = dict(row["form"]["facts"])
    # The payee's real name may hold words the rules look for (e.g. "安全账户"); it is read
    # from the vault for scoring only and never stored unmasked elsewhere.
    facts["payee_name"] = sessions.vault_value(db, row["id"], "payee_name")
    return engine_input(facts, bool(row["other_region"]),
                        answers if answers is not None else row["form"].get("answers"),
                        cross_session)


def questions_for(db, row: dict, branch, rules: RuleSet, cross_session: dict):
    data = screening_input(db, row, branch, cross_session)
    return applicable_questions(data, policy_of(branch), rules)


def _assessed_columns(assessment: Assessment, form: dict, moment: datetime, in_queue,
                      review_status, assessment_dict: dict | None = None,
                      escalated: bool = False) -> dict:
    """The session columns an assessment sets (shared by assess and screen).
    `assessment_dict`: assessment.to_dict() when the caller already has it. A first 极高
    goes to head office in the same UPDATE (`escalated`: it already went)."""
    typologies = [match.id for match in assessment.typologies]
    in_queue = int(assessment.level in QUEUE_LEVELS or bool(in_queue))
    escalation = ({"escalated_at": _iso(moment), "escalated_why": "critical"}
                  if assessment.level == "critical" and not escalated else {})
    return {**escalation,
        "form": json.dumps(form, ensure_ascii=False),
        "level": assessment.level, "score": assessment.score,
        "action": assessment.action.code,
        "typology": typologies[0] if typologies else None,
        "typologies": json.dumps(typologies), "rules_version": assessment.rules_version,
        "assessment": json.dumps(assessment_dict or assessment.to_dict(), ensure_ascii=False),
        "status": "assessed", "step": "result", "updated_at": _iso(moment),
        "in_queue": in_queue,
        "review_status": review_status or ("pending" if in_queue else None),
        # A new assessment needs a new supervisor decision.
        "supervisor_id": None, "supervisor_decision": None, "supervisor_reason": None,
    }


def _assessed_event(actor_id, session_id: int, assessment: Assessment,
                    amount_fen: int, state: str) -> audit.AuditEvent:
    return audit.AuditEvent("screening.assessed", actor_id, session_id, {
        "level": assessment.level, "score": assessment.score,
        "action": assessment.action.code,
        "typologies": [match.id for match in assessment.typologies],
        "rules_version": assessment.rules_version,
        "fired": [rule.rule_id for rule in assessment.fired], "amount_fen": amount_fen,
        "state": state})


def _append_assessed(db, keys: Keys, actor_id, session_id: int, assessment: Assessment,
                     amount_fen: int) -> None:
    audit.append(db, keys.ledger, _assessed_event(actor_id, session_id, assessment, amount_fen,
                                                  _state(db, keys, session_id)))


def assess(db, keys: Keys, session_id: int, branch, rules: RuleSet, cross_session: dict,
           actor_id: int, answers: dict | None = None, moment: datetime | None = None,
           statement: str | None = None) -> Assessment:
    """Score the session (with the given answers, or those saved) and store the result.
    `statement`: the customer's answer to the follow-up questions, added to their words (to
    the answers as they are inside the write lock, so two sent at once are both kept) and
    recorded with the level before and after (follow_ups.py)."""
    moment = moment or now_local()
    with storage.transaction(db):
        row = get(db, session_id)
        _require_open(row)
        if statement:
            answers = with_statement(
                answers if answers is not None else row["form"].get("answers"), statement)
        if answers is not None:
            row["form"]["answers"] = masked_answers(answers)
        assessment = evaluate(screening_input(db, row, branch, cross_session),
                              policy_of(branch), rules)
        row["form"]["cross_session"] = cross_session
        if statement:
            row["form"][follow_ups.FORM_KEY] = follow_ups.recorded(
                row["form"], row["assessment"], assessment.to_dict(), statement, _iso(moment))
        sessions.assessed(db, session_id, _assessed_columns(
            assessment, row["form"], moment, row["in_queue"], row["review_status"],
            escalated=bool(row.get("escalated_at"))))
        _append_assessed(db, keys, actor_id, session_id, assessment, row["amount_fen"])
    return assessment


def screen(db, keys: Keys, teller_id: int, facts: Facts, branch, rules: RuleSet,
           cross_session: dict, answers: dict, moment: datetime | None = None) -> int:
    """A whole screening at once (the JSON API): the same row and ledger events as start()
    then assess(), in ONE transaction (one commit; never a started-but-unassessed screening).
    The engine runs before the write lock is taken, so other writers wait only for the SQL.
    Returns the session id; screen_row() returns the stored row itself."""
    return screen_row(db, keys, teller_id, facts, branch, rules, cross_session, answers,
                      moment)["id"]


def screen_row(db, keys: Keys, teller_id: int, facts: Facts, branch, rules: RuleSet,
               cross_session: dict, answers: dict, moment: datetime | None = None, *,
               stored: dict | None = None,
               hashes: tuple[str, str | None] | None = None,
               also_write: Callable[[object, dict], None] | None = None,
               api_token_id: int | None = None) -> dict:
    """screen(), returning the columns it stored (plus id, and outcome, still None) with form
    and assessment decoded as get() decodes them: the values just written, so no read-back.
    `stored` and `hashes`: masked_facts(facts, MASKS) and party_hashes(keys, facts) when the
    caller already has them. `also_write(connection, row)` runs in the same transaction once
    the row exists (the API records its idempotency key there); what it raises undoes the
    screening and reaches the caller."""
    moment = moment or now_local()
    answers = masked_answers(answers)
    columns, stored = _fact_columns(keys, facts, branch, stored, hashes)
    # As screening_input() would read it back: masked facts, the real payee name for scoring.
    assessment = evaluate(engine_input({**stored, "payee_name": facts.payee_name},
                                       bool(columns["other_region"]), answers, cross_session),
                          policy_of(branch), rules)
    form = {"facts": stored, "answers": answers, "cross_session": cross_session}
    assessment_dict = assessment.to_dict()  # plain dicts, lists and scalars, as get() decodes
    values = {"teller_id": teller_id, "started_at": _iso(moment),
              "business_day": clock.business_day(moment).isoformat(), **columns,
              **_assessed_columns(assessment, form, moment, 0, None, assessment_dict),
              **_filed_by(api_token_id)}
    # The events are those of start() then assess(): each pins the row as that step leaves it.
    digest_key, vault = digests.digest_key(keys.ledger), _vault_of(facts)
    started_state = digests.state(digest_key, {
        **values, "form": json.dumps({"facts": stored}, ensure_ascii=False), "assessment": None},
        vault)
    state = digests.state(digest_key, values, vault)

    def store(writer) -> dict:
        session_id, reference = sessions.start(writer, clock.business_day(moment), values)
        _vault(writer, session_id, facts, moment, new=True)
        audit.append_many(writer, keys.ledger, [
            audit.AuditEvent("screening.started", teller_id, session_id,
                             {"reference": reference, "state": started_state,
                              **_filed_by(api_token_id)}),
            _assessed_event(teller_id, session_id, assessment, columns["amount_fen"], state),
        ], at=values["updated_at"])
        row = {"id": session_id, "reference": reference, **values, "outcome": None}
        row["form"] = form  # what was encoded into the column: plain dicts, lists and scalars
        row["assessment"] = assessment_dict
        if also_write is not None:
            also_write(writer, row)
        return row

    # May share a commit with other threads' screenings (group_commit); returns once on disk.
    return group_commit.write(db, store)


def supervise(db, keys: Keys, session_id: int, supervisor_id: int, reason: str | None,
              moment: datetime | None = None, via: dict | None = None) -> str:
    """Record the supervisor's decision: confirm (高) or override with a reason (极高).
    `via`: the API token that asserted it ({"api_token_id", "api_token"}), for the ledger."""
    reason = pii.mask_numbers_in_text(reason) or None
    with storage.transaction(db):
        row = get(db, session_id)
        _require_open(row)
        if row["level"] == "critical":
            if not reason:
                raise FlowError("极高风险放行必须填写书面理由")
            decision, kind = "override", "screening.supervisor_override"
        elif row["level"] == "high":
            decision, kind = "confirmed", "screening.supervisor_confirmed"
        else:
            raise FlowError("该问询无需主管确认")
        if supervisor_id == row["teller_id"]:
            raise FlowError(SELF_APPROVAL)
        sessions.supervised(db, session_id, {
            "supervisor_id": supervisor_id, "supervisor_decision": decision,
            "supervisor_reason": reason, "updated_at": _iso(moment or now_local()),
            "in_queue": 1 if decision == "override" else row["in_queue"],
            "review_status": row["review_status"] or "pending",
        })
        _append(db, keys, kind, supervisor_id, session_id, supervisor_id=supervisor_id,
                reason=reason or "", **(via or {}))
    return decision


def may_proceed(row: dict) -> bool:
    if row["level"] in ("high", "critical") and row["supervisor_id"] == row["teller_id"]:
        return False  # a self-approval written around supervise() does not count
    if row["level"] == "high":
        return row["supervisor_decision"] in ("confirmed", "override")
    if row["level"] == "critical":
        return row["supervisor_decision"] == "override"
    return row["level"] in ("low", "medium")


def record_outcome(db, keys: Keys, session_id: int, outcome: str, actor_id: int,
                   moment: datetime | None = None, police: dict | None = None) -> None:
    """`police`: what 已报警 records of the police response (police.parse_police_response),
    kept in the screening.outcome event; None or {} adds nothing to the event."""
    if outcome not in OUTCOMES:
        raise FlowError("请选择办理结果")
    moment = moment or now_local()
    with storage.transaction(db):
        row = get(db, session_id)
        _require_open(row)
        if row["status"] != "assessed":
            raise FlowError("请先完成问询并查看风险评估结果")
        if outcome == "proceeded" and not may_proceed(row):
            raise FlowError("高风险需主管确认、极高风险需主管书面理由后，才能记录为已办理")
        started = clock.parse(row["started_at"])
        duration = max(0, int((moment - started).total_seconds()))
        in_queue = row["in_queue"] or int(outcome == "police_called")
        sessions.finish(db, session_id, {
            "outcome": outcome, "outcome_at": _iso(moment), "finished_at": _iso(moment),
            "duration_seconds": duration, "status": "finished", "step": "done",
            "updated_at": _iso(moment), "in_queue": in_queue,
            "review_status": row["review_status"] or ("pending" if in_queue else None),
        })
        extra = {"police": police} if police and outcome == "police_called" else {}
        _append(db, keys, "screening.outcome", actor_id, session_id, outcome=outcome,
                amount_fen=row["amount_fen"], duration_seconds=duration, **extra)


def police_response(db, session_id: int) -> dict:
    """The police response recorded with 已报警 ({} when none was recorded)."""
    data = ledger_store.newest_data(db, session_id, "screening.outcome") or {}
    police = data.get("police") if data.get("outcome") == "police_called" else None
    return police if isinstance(police, dict) else {}


def add_customer_details(db, keys: Keys, session_id: int, details: dict[str, str],
                         actor_id: int, moment: datetime | None = None) -> list[str]:
    """The customer's name, phone or ID number asked before the police alert: each field the
    vault does not hold yet goes into the vault, its masked form into the stored facts, and the
    customer's hash and mask follow (as update_facts would set them). A step_saved event
    (step "customer") pins the row. Returns the names of the fields added."""
    moment = moment or now_local()
    with storage.transaction(db):
        row = get(db, session_id)
        if row is None:
            raise FlowError("问询不存在")
        vault = sessions.vault(db, session_id)
        added = {name: value for name, value in details.items()
                 if name in MASKS and value and not vault.get(name)}
        if not added:
            return []
        full = {**vault, **added}
        form = row["form"]
        facts = form.setdefault("facts", {})
        for name, value in added.items():
            facts[name] = MASKS[name](value)
        customer_key = full.get("customer_id_number") or (
            f"{full['customer_name']}|{full['customer_phone']}"
            if full.get("customer_name") and full.get("customer_phone") else None)
        sessions.save_step(db, session_id, {
            "form": json.dumps(form, ensure_ascii=False),
            "customer_hash": pii.keyed_hash(keys.pii, customer_key) if customer_key else None,
            "customer_masked": facts.get("customer_name") or facts.get("customer_id_number")
            or "",
            "updated_at": _iso(moment),
        })
        sessions.save_vault(db, session_id, added, _iso(moment))
        _append(db, keys, "screening.step_saved", actor_id, session_id, step="customer",
                fields=sorted(added), state=_state(db, keys, session_id))
    return sorted(added)


def unfinished_for(db, teller_id: int, limit: int = 50,
                   branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    return sessions.unfinished_for(db, teller_id, limit, branch_ids)


def recent_finished_for(db, teller_id: int, limit: int = 20,
                        branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    return sessions.recent_finished_for(db, teller_id, limit, branch_ids)


def today_for(db, teller_id: int, day, branch_ids: tuple[int, ...] | None = None) -> dict:
    """我的问询's 今日 summary: screenings started on `day` (local date), 高/极高 among them,
    warning slips printed for them; discarded ones left out. `branch_ids`: of these branches
    only (the teller's current one: a moved teller starts afresh there)."""
    low, high = clock.day_range(day, day)
    return sessions.day_summary(db, teller_id, low, high, branch_ids)


def discard_problem(reason: str, note: str) -> str | None:
    """What is wrong with a discard reason and its note (None: nothing)."""
    if reason not in labels.DISCARD_REASONS:
        return "请选择作废原因"
    if reason == "other" and not note:
        return "选择“其他原因”时请写明原因"
    try:
        validation.clean_text(note, "note", DISCARD_NOTE_LIMIT, "说明")
    except validation.FieldError as error:
        return error.message
    return None


def discard(db, keys: Keys, session_id: int, actor_id: int, reason: str, note: str = "",
            moment: datetime | None = None) -> str:
    """Give up a screening that was never assessed (the customer left, a duplicate, a typing
    mistake): it stays in the ledger and the table, marked `discarded`, and from then on counts
    in no statistics and feeds no cross-session signal. Returns its reference."""
    note = pii.mask_numbers_in_text((note or "").strip()) or ""
    problem = discard_problem(reason, note)
    if problem:
        raise FlowError(problem)
    moment = moment or now_local()
    with storage.transaction(db):
        row = get(db, session_id)
        _require_open(row)
        if row["teller_id"] != actor_id:
            raise FlowError("只有办理该问询的柜员本人可以作废它")
        if row["status"] != "draft":
            raise FlowError("已评估的问询不能作废，请查看评估结果并记录办理结果")
        sessions.discarded(db, session_id, {"status": "discarded", "step": "discarded",
                                            "updated_at": _iso(moment)})
        _append(db, keys, "screening.discarded", actor_id, session_id, reason=reason,
                note=note)
    return row["reference"]
