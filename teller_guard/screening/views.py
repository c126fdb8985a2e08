"""Screening pages: 我的问询, 新建问询 (facts), 五必问/三是否 (questions), result and outcome."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.datastructures import MultiDict

from .. import branch_scope, clock, labels, login_throttle, users
from ..db import get_db
from ..regions import PROVINCE_PINYIN, PROVINCES
from ..watchlist import store as watchlist_store
from ..web import guard_area, ledger_key
from . import drafts, follow_ups, inputs, police, service
from .context import branch, keys, rules, signals

bp = Blueprint("screening", __name__, url_prefix="/screening")
guard_area(bp, "teller", "supervisor")


WATCHLIST_STATEMENT_REQUIRED = ("收款账户在涉诈名单中：请记录客户原话——谁让转账、对方自称什么身份"
                                "（如公安、客服）、怎么联系的；客户不愿说也请记下")
NOT_OWNER = "只有办理该问询的柜员本人可以修改答案、记录结果或提交主管确认；主管可以查看评估结果。"


def own_session(session_id: int, edit: bool = False) -> dict:
    """Tellers see only their own sessions; supervisors see the branch's results. `edit`:
    facts, answers, statements, the supervisor step and the outcome belong to the screening's
    own teller alone, so a supervisor cannot rewrite a case they may later be asked to approve.
    Another branch's screening does not exist (branch_scope.py)."""
    row = branch_scope.visible_or_404(service.get(get_db(), session_id))
    if row["teller_id"] != g.user.id:
        if g.user.role == "teller":
            abort(404)
        if edit:
            abort(403, NOT_OWNER)
    if edit and row["status"] == "discarded":
        # Every step of a discarded screening leads back to 我的问询, which says why.
        flash(service.DISCARDED)
        abort(redirect(url_for("screening.mine")))
    return row


@bp.route("/")
def mine():
    db = get_db()
    branch_ids = branch_scope.current()
    return render_template(
        "screening/mine.html",
        unfinished=service.unfinished_for(db, g.user.id, branch_ids=branch_ids),
        finished=service.recent_finished_for(db, g.user.id, branch_ids=branch_ids),
        today=service.today_for(db, g.user.id, service.now_local().date(), branch_ids),
        level_labels=service.LEVEL_LABELS, outcome_labels=service.OUTCOMES)


def facts_page(values: dict, errors: dict, warnings: dict, row=None, status=200, draft=None):
    return render_template(
        "screening/facts.html", values=values, errors=errors, warnings=warnings, row=row,
        draft=draft,
        provinces=[(name, name) for name in PROVINCES], province_pinyin=PROVINCE_PINYIN,
        channels=inputs.CHANNEL_LABELS,
        occupations=inputs.OCCUPATION_LABELS, payee_types=inputs.PAYEE_TYPE_LABELS,
        payee_known=inputs.PAYEE_KNOWN_LABELS,
        opened_at=values.get("opened_at") or service.now_local().isoformat(),
    ), status


def _opened_at(raw: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else None


@bp.route("/new", methods=["GET", "POST"])
def new():
    if request.method == "GET":
        values = {"channel": "counter_transfer", "payee_type": "personal"}
        draft = _new_draft()
        return facts_page(draft.as_dict() if draft else values, {}, {}, draft=draft)
    checked = inputs.parse_facts(request.form, service.now_local().date())
    if not checked.ok:
        keep_draft(None, "new", request.form)
        return facts_page(request.form.to_dict(), checked.errors, checked.warnings, status=400)
    db = get_db()
    session_id = service.start(db, keys(), g.user.id, checked.value, branch(),
                               opened_at=_opened_at(request.form.get("opened_at")))
    drafts.discard(db, g.user.id, None, "new")
    for warning in checked.warnings.values():
        flash(warning)
    return after_facts(session_id)


def _new_draft() -> drafts.Draft | None:
    """The unsubmitted 新建问询 form, only when the teller comes back to it by logging in again
    after the idle logout. Otherwise it may be another customer's, so it is dropped: opening
    新建问询 is always a new customer."""
    db = get_db()
    resuming = session.pop("resuming", None) == request.path
    draft = drafts.load(db, draft_secret(), g.user.id, None, "new")
    if draft is not None and not resuming:
        drafts.discard(db, g.user.id, None, "new")
        return None
    return draft


def draft_secret() -> str:
    return current_app.config["SECRET_KEY"]


def keep_draft(session_id: int | None, step: str, form, user_id: int | None = None) -> int | None:
    """Keep a posted form as the step's draft; returns when, or None for input no real form
    sends (drafts.DraftError), which the step's own validation reports."""
    try:
        pairs = drafts.form_pairs(step, form)
    except drafts.DraftError:
        return None
    return drafts.save(get_db(), draft_secret(), user_id or g.user.id, session_id, step, pairs,
                       current_app.config["SESSION_MAX_HOURS"])


def after_facts(session_id: int):
    """A watchlisted payee makes the screening 极高风险 at once (it is in the supervisor's and
    security's lists from this moment); the teller then asks the short set of questions the
    police alert needs (risk.engine.WATCHLIST_QUESTIONS)."""
    db = get_db()
    row = service.get(db, session_id)
    found = signals(row)
    if found["facts"]["payee_watchlisted"]:
        service.assess(db, keys(), session_id, branch(row["branch_id"]), rules(), found["facts"],
                       g.user.id,
                       answers=row["form"].get("answers") or {})
    return redirect(url_for("screening.questions", session_id=session_id))


@bp.route("/<int:session_id>/facts", methods=["GET", "POST"])
def facts(session_id: int):
    row = own_session(session_id, edit=True)
    if row["status"] == "finished":
        flash("该问询已记录结果，不能再修改")
        return redirect(url_for("screening.result", session_id=session_id))
    if request.method == "GET":
        draft = drafts.load(get_db(), draft_secret(), g.user.id, session_id, "facts")
        if draft is not None:
            return facts_page(draft.as_dict(), {}, {}, row=row, draft=draft)
        values = dict(row["form"]["facts"])
        values["amount"] = labels.amount(values.get("amount"))  # as every page shows it
        for name in inputs.PERSONAL_FIELDS:
            values.pop(name, None)  # full values stay in the vault; blank keeps them
        return facts_page(values, {}, {}, row=row)
    form = request.form.to_dict()
    kept = _kept_personal_values(session_id, form)
    checked = inputs.parse_facts({**form, **kept}, service.now_local().date())
    if not checked.ok:
        keep_draft(session_id, "facts", request.form)
        return facts_page(form, checked.errors, checked.warnings, row=row, status=400)
    service.update_facts(get_db(), keys(), session_id, checked.value, branch(row["branch_id"]),
                         g.user.id)
    drafts.discard(get_db(), g.user.id, session_id, "facts")
    return after_facts(session_id)


def _kept_personal_values(session_id: int, form: dict) -> dict:
    """A blank personal field on the edit page means "keep what was entered"."""
    blanks = [name for name in inputs.PERSONAL_FIELDS if not (form.get(name) or "").strip()]
    if not blanks:
        return {}
    stored = service.vault_values(get_db(), session_id)
    return {name: stored[name] for name in blanks if name in stored}


@bp.route("/<int:session_id>/questions", methods=["GET", "POST"])
def questions(session_id: int):
    row = own_session(session_id, edit=True)
    if row["status"] == "finished":
        return redirect(url_for("screening.result", session_id=session_id))
    db, found, current_branch = get_db(), signals(row), branch(row["branch_id"])
    asked = service.questions_for(db, row, current_branch, rules(), found["facts"])
    if request.method == "GET":
        draft = drafts.load(db, draft_secret(), g.user.id, session_id, "questions")
        if draft is not None:
            return questions_page(row, asked, found, MultiDict(draft.pairs), {}, draft=draft)
        return questions_page(row, asked, found, answers_as_form(row["form"].get("answers")), {})
    checked = inputs.parse_answers(request.form, asked)
    if found["facts"]["payee_watchlisted"] and \
            not checked.value["answers"].get("purpose_text") and \
            inputs.STATEMENT_FIELD not in checked.errors:
        # For the police: who asked for the transfer, in the customer's own words.
        checked.fail(inputs.STATEMENT_FIELD, WATCHLIST_STATEMENT_REQUIRED, "required")
    if request.form.get("action") == "save":
        service.save_answers(db, keys(), session_id, checked.value, g.user.id)
        drafts.discard(db, g.user.id, session_id, "questions")
        flash(f"问询 {row['reference']} 已保存，可在“未完成的问询”中继续")
        return redirect(url_for("screening.mine"))
    if not checked.ok:
        service.save_answers(db, keys(), session_id, checked.value, g.user.id)
        keep_draft(session_id, "questions", request.form)  # with what failed validation
        return questions_page(row, asked, found, request.form, checked.errors, status=400)
    service.assess(db, keys(), session_id, current_branch, rules(), found["facts"], g.user.id,
                   answers=checked.value)
    drafts.discard(db, g.user.id, session_id, "questions")
    return redirect(url_for("screening.result", session_id=session_id))


def answers_as_form(answers: dict | None) -> dict:
    """Saved answers back into the form's field names, to pre-fill on resume."""
    values = {}
    for part in ("answers", "three_checks"):
        for name, value in ((answers or {}).get(part) or {}).items():
            values[f"{part}.{name}"] = inputs._option_text(value)
    values["observations"] = (answers or {}).get("observations") or []
    return values


def questions_page(row, asked, found, values, errors, status=200, draft=None):
    selected_observations = (values.getlist("observations") if hasattr(values, "getlist")
                             else values.get("observations") or [])
    return render_template(
        "screening/questions.html", row=row, found=found, values=values,
        asked=[labels.shown_question(question.to_dict()) for question in asked],
        errors=errors, selected_observations=selected_observations, draft=draft,
        option_text=inputs._option_text, facts=row["form"]["facts"],
        channels=inputs.CHANNEL_LABELS, level_labels=service.LEVEL_LABELS,
        outcome_labels=service.OUTCOMES,
        watchlisted=found["facts"]["payee_watchlisted"],
        has_three=any(question.section == "three" for question in asked),
        watchlist_entry=watchlist_store.find(get_db(), row["payee_hash"])
        if found["facts"]["payee_watchlisted"] else None,
    ), status


@bp.route("/<int:session_id>/result")
def result(session_id: int):
    row = own_session(session_id)
    if row["assessment"] is None:
        return redirect(url_for("screening.questions", session_id=session_id))
    return result_page(row)


def result_page(row, errors=None, status=200, values=None):
    is_owner = row["teller_id"] == g.user.id
    return render_template(
        "screening/result.html", row=row, a=row["assessment"], facts=row["form"]["facts"],
        errors=errors or {}, values=values or {}, outcomes=service.OUTCOMES,
        may_proceed=service.may_proceed(row), channels=inputs.CHANNEL_LABELS,
        level_labels=service.LEVEL_LABELS, is_owner=is_owner,
        # A supervisor opening another teller's case (待主管处理) is told whose terminal it is.
        teller=None if is_owner else users.get_user(get_db(), row["teller_id"]),
        follow_ups=follow_ups.changes(row["form"]),
        police_labels=police.POLICE_LABELS,
        police_response=police.describe(service.police_response(get_db(), row["id"]))
        if row["outcome"] == "police_called" else "",
        # The teller's alert button asks for the customer's details first when they are missing.
        customer_missing=police.missing_customer_fields(service.vault_values(get_db(), row["id"]))
        if is_owner and row["level"] in ("high", "critical") else [],
        watchlist_entry=watchlist_store.entry_that_stopped(get_db(), row),
        branch_signals=branch_signals_of(row),
    ), status


def branch_signals_of(row) -> dict | None:
    """The other branches' signals, named, when the assessment counted any (looked up again:
    the stored facts hold the counts the engine saw, not the branches' names)."""
    counted = (row["form"] or {}).get("cross_session") or {}
    if not (counted.get("payee_other_branches") or counted.get("customer_other_branches")):
        return None
    return signals(row)


@bp.route("/<int:session_id>/statement", methods=["POST"])
def statement(session_id: int):
    """The customer's answers to the follow-up questions: add them and score again."""
    row = own_session(session_id, edit=True)
    if row["status"] == "finished":
        abort(409)
    text = (request.form.get("statement") or "").strip()
    if not text:
        return result_page(row, {"statement": "请记录客户的回答后再重新评估"}, 400)
    if len(text) > inputs.STATEMENT_LIMIT:
        return result_page(row, {"statement": f"客户陈述过长（最多 {inputs.STATEMENT_LIMIT} 字）"},
                           400, {"statement": text})
    try:
        service.assess(get_db(), keys(), session_id, branch(row["branch_id"]), rules(),
                       signals(row)["facts"],
                       g.user.id, statement=text)
    except service.FlowError as error:  # finished by another request meanwhile
        flash(str(error))
        return redirect(url_for("screening.result", session_id=session_id))
    change = follow_ups.changes(service.get(get_db(), session_id)["form"])[0]
    flash(f"已记录客户回答并重新评估：{change.level_words}")
    return redirect(url_for("screening.result", session_id=session_id))


@bp.route("/<int:session_id>/supervisor", methods=["POST"])
def supervisor(session_id: int):
    row = own_session(session_id, edit=True)
    form = request.form
    errors = {}
    username = (form.get("supervisor_username") or "").strip()
    password = form.get("supervisor_password") or ""
    reason = (form.get("supervisor_reason") or "").strip()
    if not username:
        errors["supervisor_username"] = "请主管输入用户名"
    if not password:
        errors["supervisor_password"] = "请主管输入密码"  # noqa: S105 - a message, not a password
    if row["level"] == "critical" and not reason:
        errors["supervisor_reason"] = "极高风险放行必须填写书面理由"
    if len(reason) > 500:
        errors["supervisor_reason"] = "理由过长（最多 500 字）"
    values = {"supervisor_username": username, "supervisor_reason": reason}
    if errors:
        return result_page(row, errors, 400, values)
    db = get_db()
    # Failures here slow down only this teller at this terminal for this name: a teller cannot
    # block a supervisor's own login, or the supervisor form at another teller's terminal.
    checked = users.authenticate(db, ledger_key(), username, password,
                                 address=request.remote_addr or "", purpose="supervisor",
                                 actor_id=g.user.id,
                                 limits=login_throttle.Limits.from_config(current_app.config))
    if checked.user is None or checked.user.role != "supervisor":
        message = ("主管验证尝试过于频繁，请稍后再试" if checked.throttled
                   else "主管用户名或密码错误（须为主管账户）")
        return result_page(row, {"supervisor_username": message}, 400, values)
    if checked.user.must_change_password:
        # The initial password is known to whoever set it: it must not sign for a supervisor.
        return result_page(row, {"supervisor_username": "该主管须先登录并修改初始密码，才能确认或放行"},
                           400, values)
    try:
        decision = service.supervise(db, keys(), session_id, checked.user.id, reason or None)
    except service.FlowError as error:
        return result_page(row, {"supervisor_username": str(error)}, 400, values)
    flash("主管已确认" if decision == "confirmed" else "主管已书面放行，已记录并进入安保复核")
    return redirect(url_for("screening.result", session_id=session_id))


@bp.route("/<int:session_id>/outcome", methods=["POST"])
def outcome(session_id: int):
    row = own_session(session_id, edit=True)
    chosen = request.form.get("outcome", "")
    response = None
    if chosen == "police_called" and row["status"] == "assessed":
        # 已报警 needs the case's printed alert, or what the police gave back (receipt number,
        # or the officer and the time); what was typed is kept on an error.
        checked = police.parse_police_response(
            request.form, alert_printed=bool(row["alerts_printed"]),
            started_at=clock.parse(row["started_at"]), now=service.now_local())
        if not checked.ok:
            typed = {name: (request.form.get(name) or "").strip()[:60]
                     for name in police.POLICE_LABELS}
            return result_page(row, checked.errors, 400, {"outcome": chosen, **typed})
        response = checked.value
    try:
        service.record_outcome(get_db(), keys(), session_id, chosen, g.user.id,
                               police=response)
    except service.FlowError as error:
        return result_page(row, {"outcome": str(error)}, 400)
    drafts.discard_screening(get_db(), session_id)
    flash(f"问询 {row['reference']} 已记录：{service.OUTCOMES[request.form['outcome']]}")
    return redirect(url_for("screening.mine"))
