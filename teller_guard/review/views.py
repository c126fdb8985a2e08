"""Review area (待复核): queue, one session's record, dispositions, statistics, CSV exports,
and the record of exports and personal-data access (导出与查阅记录).

Who may do what: security and admin review and export; supervisors read (queue, detail,
statistics); tellers have no access (their own sessions are in the screening area).
"""

from __future__ import annotations

import functools
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)

from .. import audit, branch_scope, clock, labels, storage
from ..db import get_db
from ..forms import ascii_int
from ..screening import police, service
from ..storage import review
from ..watchlist import proposals
from ..web import guard_area, ledger_key
from . import access_log, dispositions, export, filters, queries, state, stats, svg, timeline
from .state import TransitionError

bp = Blueprint("review", __name__, url_prefix="/review")
guard_area(bp, "security", "admin", "supervisor")


def require_roles(*roles: str):
    """Per-route check on top of the blueprint guard (e.g. supervisors only read)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None or not g.user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def can_dispose() -> bool:
    return g.user is not None and g.user.has_role(*state.REVIEWER_ROLES)


def _filter_choices(db) -> dict:
    return {
        "levels": list(labels.LEVELS.items()),
        "typologies": sorted(labels.typology_labels().items(), key=lambda item: item[1]),
        "tellers": queries.tellers(db, branch_scope.current()),
        "statuses": list(state.STATUS_LABELS.items()),
        "outcomes": list(labels.OUTCOMES.items()),
    }


def _names(db) -> dict[int, str]:
    """The names this user may see: their branch's accounts and head office's."""
    return review.user_names(db, branch_scope.current())


SEARCH_KEY = "review_search"  # the session key of the queue's search terms (never the URL)


def _parse_filters(db, args):
    teller_ids = {teller_id for teller_id, _ in queries.tellers(db, branch_scope.current())}
    return filters.parse(args, teller_ids=teller_ids,
                         search=filters.search_from(session.get(SEARCH_KEY)))


def _queue(args, search_errors: dict | None = None, search_values: dict | None = None,
           status: int = 200):
    db = get_db()
    chosen, errors = _parse_filters(db, args)
    after = filters.parse_cursor(args)
    page = review.queue_page(db, g.user, chosen, after)
    return render_template(
        "review/queue.html", page=page, filters=chosen, errors=errors, after=after,
        counts=review.status_counts(db, g.user, chosen), names=_names(db),
        choices=_filter_choices(db), labels=labels, state=state,
        typology_names=labels.typology_labels(), can_export=can_dispose(),
        is_admin=g.user.has_role("admin"), max_full_rows=export.MAX_FULL_ROWS,
        search_errors=search_errors or {},
        search_values=search_values or (chosen.search.as_dict() if chosen.search else {}),
    ), status


@bp.route("/")
def queue():
    return _queue(request.args)


@bp.route("/search", methods=["POST"])
def search():
    """The search form posts here so the terms stay out of URLs and access logs; they are
    kept in the session and the queue shows them while its URL says search=1."""
    found, search_errors = filters.parse_search(request.form)
    if search_errors:
        values = {name: request.form.get(name, "")[:20] for name in filters.SEARCH_FIELDS}
        return _queue(request.form, search_errors, values, status=400)
    session[SEARCH_KEY] = found.as_dict()
    chosen, _ = _parse_filters(get_db(), request.form)
    return redirect(url_for("review.queue", **{**chosen.query_args(), "search": "1"}), 303)


@bp.route("/search/clear", methods=["POST"])
def clear_search():
    session.pop(SEARCH_KEY, None)
    chosen, _ = _parse_filters(get_db(), request.form)
    args = chosen.query_args()
    args.pop("search", None)
    return redirect(url_for("review.queue", **args), 303)


def _context(db, args):
    """The queue filters a case was opened from (its URL carries them): 下一条 follows them."""
    chosen, _ = _parse_filters(db, args)
    return chosen


def _detail(session_id: int, error: str | None = None, note: str = "", status: int = 200,
            error_form: str | None = None, error_field: str | None = None, chosen_to: str = "",
            proposal_note: str = ""):
    db = get_db()
    row = review.case(db, g.user, session_id)
    if row is None:
        abort(404)
    names = _names(db)
    typology_names = labels.typology_labels()
    facts, answers, observations = timeline.form_lines(row["form"])
    assessment = timeline.assessment_of(row["assessment"])
    context = _context(db, request.values)
    may_dispose = can_dispose() and bool(row["in_queue"])
    targets = [target for target in state.allowed_targets(row["review_status"])
               if not (state.can_close(row["review_status"]) and target in state.CLOSED)]
    shown_forms = {"close": state.can_close(row["review_status"]), "transition": bool(targets),
                   "assign": True, "note": True} if may_dispose else {}
    events = queries.session_events(db, session_id)
    watchlist = proposals.case_state(db, g.user, row, events)
    shown_forms["propose"] = watchlist.may_propose
    if not shown_forms.get(error_form):
        error_form = error_field = None  # the form is not on the page: the banner says it
    return render_template(
        "review/detail.html", row=row, error=error, note=note, names=names,
        facts=facts, answers=answers, observations=observations, assessment=assessment,
        reasons=timeline.reasons(assessment),
        events=timeline.timeline(events, names, typology_names),
        watchlist=watchlist, today=clock.today(), proposal_note=proposal_note,
        max_proposal_note=proposals.MAX_NOTE_CHARS,
        vault_fields=review.vault_fields(db, session_id), typology_names=typology_names,
        labels=labels, state=state, can_dispose=may_dispose, targets=targets,
        reviewers=queries.reviewers(db, row["branch_id"]), context=context.query_args(),
        next_case=review.next_open(db, g.user, context, session_id),
        error_form=error_form, error_field=error_field, chosen_to=chosen_to,
        police_response=police.describe(service.police_response(db, session_id))
        if row["outcome"] == "police_called" else "",
    ), status


@bp.route("/<int:session_id>")
def detail(session_id: int):
    return _detail(session_id)


@bp.route("/<int:session_id>/close", methods=["POST"])
@require_roles(*state.REVIEWER_ROLES)
def close(session_id: int):
    """结案 in one step with its note; then (then=next) straight on to 下一条."""
    _visible_or_404(session_id)
    db = get_db()
    note = request.form.get("note", "")
    target = request.form.get("to", "")
    try:
        steps = dispositions.close(db, ledger_key(), g.user, session_id, target, note,
                                   expected_status=request.form.get("expected") or None)
    except TransitionError as error:
        return _detail(session_id, error=str(error), note=note[:state.MAX_NOTE_LENGTH],
                       status=409, error_form="close", error_field=error.field or "to",
                       chosen_to=target if target in state.CLOSED else "")
    context = _context(db, request.form)
    reference = review.case(db, g.user, session_id)["reference"]
    flash(f"业务 {reference} 已结案：{state.label(steps[-1].to_status)}")
    if request.form.get("then") == "next":
        following = review.next_open(db, g.user, context, session_id)
        if following is None:
            flash("当前筛选条件下没有其他待处理的案件")
            return redirect(url_for("review.queue", **context.query_args()), 303)
        return redirect(url_for("review.detail", session_id=following["id"],
                                **context.query_args()), 303)
    return redirect(url_for("review.detail", session_id=session_id, **context.query_args()), 303)


def _visible_or_404(session_id: int) -> None:
    if review.case(get_db(), g.user, session_id) is None:
        abort(404)


@bp.route("/<int:session_id>/transition", methods=["POST"])
@require_roles(*state.REVIEWER_ROLES)
def transition(session_id: int):
    _visible_or_404(session_id)
    note = request.form.get("note", "")
    target = request.form.get("to", "")
    try:
        change = dispositions.change_status(
            get_db(), ledger_key(), g.user, session_id, target, note,
            expected_status=request.form.get("expected") or None)
    except TransitionError as error:
        return _detail(session_id, error=str(error), note=note[:state.MAX_NOTE_LENGTH], status=409,
                       error_form="transition", error_field=error.field or "to")
    flash(f"复核状态已改为“{state.label(change.to_status)}”")
    return redirect(url_for("review.detail", session_id=session_id,
                            **_context(get_db(), request.form).query_args()), 303)


@bp.route("/<int:session_id>/assign", methods=["POST"])
@require_roles(*state.REVIEWER_ROLES)
def assign(session_id: int):
    _visible_or_404(session_id)
    assignee_id = ascii_int(request.form.get("assignee_id"))
    try:
        if assignee_id is None:
            raise TransitionError("请选择复核人")
        dispositions.assign(get_db(), ledger_key(), g.user, session_id, assignee_id)
    except TransitionError as error:
        return _detail(session_id, error=str(error), status=409, error_form="assign",
                       error_field="assignee_id")
    flash(f"已分配给 {_names(get_db()).get(assignee_id, '')}")
    return redirect(url_for("review.detail", session_id=session_id,
                            **_context(get_db(), request.form).query_args()), 303)


@bp.route("/<int:session_id>/note", methods=["POST"])
@require_roles(*state.REVIEWER_ROLES)
def add_note(session_id: int):
    _visible_or_404(session_id)
    note = request.form.get("note", "")
    try:
        dispositions.add_note(get_db(), ledger_key(), g.user, session_id, note)
    except TransitionError as error:
        return _detail(session_id, error=str(error), note=note[:state.MAX_NOTE_LENGTH], status=409,
                       error_form="note", error_field="note")
    flash("已添加复核备注")
    return redirect(url_for("review.detail", session_id=session_id,
                            **_context(get_db(), request.form).query_args()), 303)


@bp.route("/<int:session_id>/watchlist-proposal", methods=["POST"])
@require_roles(*proposals.PROPOSER_ROLES)
def propose_watchlist(session_id: int):
    """提请列入名单: the confirmed case's payee waits for head office's approval."""
    _visible_or_404(session_id)
    note = request.form.get("note", "")
    try:
        proposals.propose(get_db(), ledger_key(), g.user, session_id, note)
    except proposals.ProposalError as error:
        return _detail(session_id, error=str(error), status=409, error_form="propose",
                       error_field=error.field or "note",
                       proposal_note=note[:proposals.MAX_NOTE_CHARS])
    flash("已提请列入涉诈名单，等待总行审批")
    return redirect(url_for("review.detail", session_id=session_id,
                            **_context(get_db(), request.form).query_args()), 303)


@bp.route("/<int:session_id>/escalate", methods=["POST"])
def escalate(session_id: int):
    """上报总行 with a reason (branch security or supervisor)."""
    from ..head_office import escalation

    if g.user.role not in escalation.BRANCH_ROLES:
        abort(403)
    _visible_or_404(session_id)
    reason = request.form.get("reason", "")
    try:
        escalation.escalate(get_db(), ledger_key(), g.user, session_id, reason)
    except escalation.EscalationError as error:
        return _detail(session_id, error=str(error), status=409)
    flash("已上报总行")
    return redirect(url_for("review.detail", session_id=session_id,
                            **_context(get_db(), request.form).query_args()), 303)


def _stats_range(args) -> tuple[date, date, list[str]]:
    errors: list[str] = []
    date_from, date_to = filters.parse_dates(args, errors)
    default_from, default_to = stats.default_range()
    return date_from or default_from, date_to or default_to, errors


def _charts(figures: stats.Statistics, names: dict, typology_names: dict) -> dict:
    levels = export.ordered_levels(figures.levels)
    return {
        "per_day": svg.column_chart(figures.per_day, "每日问询量"),
        "levels": svg.bar_chart(
            [(labels.LEVELS.get(level, "未评估"), count) for level, count in levels], "风险等级分布",
            colours=[svg.LEVEL_COLOURS.get(level, svg.LEVEL_COLOURS[""]) for level, _ in levels]),
        "typologies": svg.bar_chart(
            [(typology_names.get(t, t) if t else "未识别类型", n) for t, n in figures.typologies],
            "复核队列按诈骗类型"),
        "tellers": svg.bar_chart(
            [(names.get(teller, str(teller)), total) for teller, total, _ in figures.tellers],
            "各柜员问询量"),
    }


@bp.route("/statistics")
def statistics():
    db = get_db()
    date_from, date_to, errors = _stats_range(request.args)
    figures = stats.compute(db, date_from, date_to, branch_scope.current())
    names = _names(db)
    typology_names = labels.typology_labels()
    return render_template(
        "review/statistics.html", figures=figures, errors=errors, names=names,
        typology_names=typology_names, charts=_charts(figures, names, typology_names),
        levels=export.ordered_levels(figures.levels), labels=labels, state=state,
    )


def _csv_response(body, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/export/queue", methods=["POST"])
@require_roles(*state.REVIEWER_ROLES)
def export_queue():
    db = get_db()
    chosen, _ = _parse_filters(db, request.form)
    full = request.form.get("full") == "1"
    if full and not g.user.has_role("admin"):
        abort(403)
    if full and request.form.get("confirm") != "1":
        flash("导出完整个人信息前，请勾选确认项")
        return redirect(url_for("review.queue", **chosen.query_args()), 303)
    names = _names(db)
    typology_names = labels.typology_labels()
    filename = f"review-queue-{clock.today():%Y%m%d}{'-full' if full else ''}.csv"
    if not full:
        count = review.queue_count(db, g.user, chosen)
        with storage.transaction(db):
            audit.append(db, ledger_key(), audit.AuditEvent("export.queue", g.user.id, data={
                "full": False, "filters": chosen.query_args(), "rows": count}))
        rows = review.iter_queue(db, g.user, chosen)
        return _csv_response(stream_with_context(
            export.queue_lines(rows, names, typology_names)), filename)
    rows = list(review.iter_queue(db, g.user, chosen))
    if len(rows) > export.MAX_FULL_ROWS:
        flash(f"完整个人信息导出一次最多 {export.MAX_FULL_ROWS} 条（当前 {len(rows)} 条），请缩小筛选范围")
        return redirect(url_for("review.queue", **chosen.query_args()), 303)
    with storage.transaction(db):
        vault = review.vault_values(db, [row["id"] for row in rows])
        for session_id, values in vault.items():
            audit.append(db, ledger_key(), audit.AuditEvent(
                "pii.accessed", g.user.id, session_id,
                {"fields": sorted(values), "purpose": "导出复核队列（完整个人信息）"}))
        audit.append(db, ledger_key(), audit.AuditEvent("export.queue", g.user.id, data={
            "full": True, "filters": chosen.query_args(), "rows": len(rows),
            "sessions_with_personal_data": len(vault)}))
    return _csv_response("".join(export.queue_lines(rows, names, typology_names, vault)), filename)


@bp.route("/export/statistics", methods=["POST"])
def export_statistics():
    db = get_db()
    date_from, date_to, _ = _stats_range(request.form)
    figures = stats.compute(db, date_from, date_to, branch_scope.current())
    with storage.transaction(db):
        audit.append(db, ledger_key(), audit.AuditEvent("export.statistics", g.user.id, data={
            "date_from": date_from.isoformat(), "date_to": date_to.isoformat()}))
    body = export.statistics_text(figures, _names(db), labels.typology_labels())
    return _csv_response(body, f"statistics-{date_from.isoformat().replace('-', '')}-"
                               f"{date_to.isoformat().replace('-', '')}.csv")  # year 1: 00010101


@bp.route("/access-log")
@require_roles(*state.REVIEWER_ROLES)
def access_log_page():
    db = get_db()
    names = _names(db)
    kind = request.args.get("kind") or None
    actor_id = ascii_int(request.args.get("user"))
    errors = []
    if kind is not None and kind not in access_log.KINDS:
        errors.append("请从列表中选择记录类别")
        kind = None
    if request.args.get("user") and actor_id not in names:
        errors.append("请从列表中选择操作人")
        actor_id = None
    before = ascii_int(request.args.get("before"))
    events, next_before = access_log.page(db, names, labels.typology_labels(), kind=kind,
                                          actor_id=actor_id, before=before,
                                          branch_ids=branch_scope.current())
    chosen = {name: value for name, value in (("kind", kind), ("user", actor_id)) if value}
    return render_template(
        "review/access_log.html", events=events, next_before=next_before, before=before,
        chosen=chosen, errors=errors, labels=labels, kinds=[(k, audit.KINDS[k]) for k in access_log.KINDS],
        users=sorted(names.items(), key=lambda item: item[1]))
