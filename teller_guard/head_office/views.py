"""Head office's pages (总行反诈): the queue of escalated cases from every branch, one case with
its dispositions, and bank-wide statistics with drill-down bank -> branch -> teller (SVG
charts and CSV). Only ho_security and ho_admin open them; masked data only."""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from .. import audit, labels, storage
from ..db import get_db
from ..forms import ascii_int
from ..review import dispositions, export, filters, queries, state, svg, timeline
from ..review.state import TransitionError
from ..storage import head_office
from ..storage import review as review_store
from ..web import guard_area, ledger_key
from . import escalation, stats

bp = Blueprint("head_office", __name__, url_prefix="/head-office")
guard_area(bp, "ho_security", "ho_admin")

_CURSOR_TIME = re.compile(r"[0-9T:+.\- ]{10,40}")


# --- the queue ---------------------------------------------------------------------------------


def _choice(args, name: str, allowed, message: str, errors: list[str]):
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        errors.append(message)
        return None
    return raw


def parse_queue_filters(args, branches: list[dict]) -> tuple[head_office.QueueFilters, list[str]]:
    errors: list[str] = []
    branch_id = None
    if args.get("branch"):
        branch_id = ascii_int(args.get("branch"))
        if branch_id not in {branch["id"] for branch in branches}:
            errors.append("请从列表中选择网点")
            branch_id = None
    provinces = {branch["province"] for branch in branches}
    cities = {branch["city"] for branch in branches}
    return head_office.QueueFilters(
        branch_id=branch_id,
        province=_choice(args, "province", provinces, "请从列表中选择省份", errors),
        city=_choice(args, "city", cities, "请从列表中选择城市", errors),
        level=_choice(args, "level", labels.LEVELS, "请从列表中选择风险等级", errors),
        why=_choice(args, "why", escalation.REASONS, "请从列表中选择上报原因", errors),
        status=_choice(args, "status", state.STATUS_LABELS, "请从列表中选择复核状态", errors),
    ), errors


def _query_args(chosen: head_office.QueueFilters) -> dict:
    return {name: value for name, value in (
        ("branch", chosen.branch_id), ("province", chosen.province), ("city", chosen.city),
        ("level", chosen.level), ("why", chosen.why), ("status", chosen.status)) if value}


def _cursor(args) -> tuple[str, int] | None:
    at, after_id = args.get("after_at") or "", ascii_int(args.get("after_id"))
    if after_id is None or not _CURSOR_TIME.fullmatch(at):
        return None
    return at, after_id


@bp.route("/")
def queue():
    db = get_db()
    branches = head_office.branches(db)
    chosen, errors = parse_queue_filters(request.args, branches)
    page = head_office.queue_page(db, chosen, _cursor(request.args))
    return render_template(
        "head_office/queue.html", page=page, chosen=chosen, errors=errors,
        query_args=_query_args(chosen), branches=branches,
        provinces=sorted({branch["province"] for branch in branches}),
        cities=sorted({branch["city"] for branch in branches}),
        reasons=escalation.REASONS, labels=labels, state=state,
        typology_names=labels.typology_labels())


# --- one case ----------------------------------------------------------------------------------


def _case(session_id: int, error: str | None = None, note: str = "", status: int = 200):
    db = get_db()
    row = head_office.case(db, session_id)
    if row is None:
        abort(404)
    names = review_store.user_names(db)
    typology_names = labels.typology_labels()
    facts, answers, observations = timeline.form_lines(row["form"])
    assessment = timeline.assessment_of(row["assessment"])
    may_dispose = bool(row["in_queue"]) and g.user.has_role(*state.REVIEWER_ROLES)
    targets = [target for target in state.allowed_targets(row["review_status"])
               if not (state.can_close(row["review_status"]) and target in state.CLOSED)]
    return render_template(
        "head_office/case.html", row=row, error=error, note=note, names=names,
        facts=facts, answers=answers, observations=observations,
        reasons=timeline.reasons(assessment), assessment=assessment,
        events=timeline.timeline(queries.session_events(db, session_id), names, typology_names),
        typology_names=typology_names, labels=labels, state=state,
        escalation_reasons=escalation.REASONS, can_dispose=may_dispose, targets=targets,
    ), status


@bp.route("/<int:session_id>")
def case(session_id: int):
    return _case(session_id)


def _dispose(session_id: int, change) -> Response:
    if head_office.case(get_db(), session_id) is None:
        abort(404)
    if not g.user.has_role(*state.REVIEWER_ROLES):
        abort(403)
    note = request.form.get("note", "")
    try:
        message = change(note)
    except TransitionError as error:
        return _case(session_id, error=str(error), note=note[:state.MAX_NOTE_LENGTH], status=409)
    flash(message)
    return redirect(url_for("head_office.case", session_id=session_id), 303)


@bp.route("/<int:session_id>/close", methods=["POST"])
def close(session_id: int):
    def change(note):
        steps = dispositions.close(get_db(), ledger_key(), g.user, session_id,
                                   request.form.get("to", ""), note,
                                   expected_status=request.form.get("expected") or None)
        return f"已结案：{state.label(steps[-1].to_status)}"
    return _dispose(session_id, change)


@bp.route("/<int:session_id>/transition", methods=["POST"])
def transition(session_id: int):
    def change(note):
        done = dispositions.change_status(get_db(), ledger_key(), g.user, session_id,
                                          request.form.get("to", ""), note,
                                          expected_status=request.form.get("expected") or None)
        return f"复核状态已改为“{state.label(done.to_status)}”"
    return _dispose(session_id, change)


# --- statistics --------------------------------------------------------------------------------


def _stats_request(args) -> tuple[head_office.Scope, date, date, str, list[str]]:
    """Scope (bank, ?branch=, ?branch=&teller=), range and granularity; bad values dropped
    with a message."""
    db = get_db()
    errors: list[str] = []
    date_from, date_to = filters.parse_dates(args, errors)
    default_from, default_to = stats.default_range()
    date_from, date_to = date_from or default_from, date_to or default_to
    granularity = args.get("by") or "day"
    if granularity not in stats.GRANULARITIES:
        errors.append("请从列表中选择统计粒度")
        granularity = "day"
    branch_id = ascii_int(args.get("branch")) if args.get("branch") else None
    if args.get("branch") and branch_id not in {b["id"] for b in head_office.branches(db)}:
        errors.append("请从列表中选择网点")
        branch_id = None
    teller_id = ascii_int(args.get("teller")) if args.get("teller") else None
    if args.get("teller") and (branch_id is None or teller_id is None
                               or head_office.teller_branch(db, teller_id) != branch_id):
        errors.append("该柜员不属于所选网点")
        teller_id = None
    return head_office.Scope(branch_id, teller_id), date_from, date_to, granularity, errors


def _names(db, scope: head_office.Scope) -> dict[int, str]:
    """Names of the groups the page lists: branches of the bank, tellers of a branch."""
    if scope.branch_id is None:
        return {b["id"]: f"{b['name']}（{b['code']}）" for b in head_office.branches(db)}
    return {t["id"]: t["name"] for t in head_office.tellers_of(db, scope.branch_id)}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@bp.route("/statistics")
def statistics():
    db = get_db()
    scope, date_from, date_to, granularity, errors = _stats_request(request.args)
    figures = stats.fold(head_office.statistics(db, scope, date_from, date_to, granularity))
    names = _names(db, scope)
    branch = next((b for b in head_office.branches(db) if b["id"] == scope.branch_id), None)
    teller_name = (dict((t["id"], t["name"]) for t in head_office.tellers_of(db, scope.branch_id))
                   .get(scope.teller_id) if scope.teller_id else None)
    typology_names = labels.typology_labels()
    levels = [(level, figures.total.levels.get(level, 0)) for level in stats.LEVEL_ORDER
              if figures.total.levels.get(level)]
    charts = {
        "periods": svg.column_chart([(period, f.n) for period, f in figures.periods],
                                    "问询量（" + stats.GRANULARITIES[granularity] + "）"),
        "stopped": svg.column_chart([(period, f.stopped) for period, f in figures.periods],
                                    "劝阻笔数（" + stats.GRANULARITIES[granularity] + "）"),
        "levels": svg.bar_chart(
            [(labels.LEVELS.get(level, "未评估"), n) for level, n in levels], "风险等级分布",
            colours=[svg.LEVEL_COLOURS.get(level, svg.LEVEL_COLOURS[""]) for level, _ in levels]),
        "groups": svg.bar_chart([(names.get(key, str(key)), f.n) for key, f in figures.groups],
                                "各网点问询量" if scope.branch_id is None else "各柜员问询量"),
        "typologies": svg.bar_chart(
            [(typology_names.get(t, t) if t else "未识别类型", n) for t, n, _, _ in figures.typologies],
            "按诈骗类型"),
    }
    args = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "by": granularity}
    return render_template(
        "head_office/statistics.html", figures=figures, scope=scope, errors=errors,
        names=names, branch=branch, teller_name=teller_name, charts=charts, levels=levels,
        typology_names=typology_names, labels=labels, granularities=stats.GRANULARITIES,
        granularity=granularity, date_from=date_from, date_to=date_to, args=args,
        percent=_percent, branches=head_office.branches(db))


def statistics_csv_lines(figures: stats.Statistics, names: dict[int, str],
                         typology_names: dict[str, str], group_title: str | None) -> list[str]:
    def row(title, f: stats.Figures) -> list:
        share = f.false_alarm_share
        return [title, f.n, *(f.levels.get(level, 0) for level in stats.LEVEL_ORDER),
                f.stopped, labels.yuan_plain(f.stopped_fen), f.closed, f.false_alarms,
                "" if share is None else f"{share:.1%}",
                "" if f.median_seconds is None else f.median_seconds]

    header = ["问询量", *(labels.LEVELS.get(level, "未评估") for level in stats.LEVEL_ORDER),
              "劝阻笔数", "劝阻金额（元）", "已结案", "误报", "误报率", "用时中位数（秒，近似）"]
    lines = [export._line(["合计", *header]), export._line(row("合计", figures.total)),
             export._line([]), export._line(["期间", *header])]
    lines += [export._line(row(period, f)) for period, f in figures.periods]
    if group_title:
        lines += [export._line([]), export._line([group_title, *header])]
        lines += [export._line(row(names.get(key, str(key)), f)) for key, f in figures.groups]
    lines += [export._line([]), export._line(["诈骗类型", "问询量", "劝阻笔数", "劝阻金额（元）"])]
    lines += [export._line([typology_names.get(t, t) if t else "未识别类型", n, stopped,
                            labels.yuan_plain(fen)]) for t, n, stopped, fen in figures.typologies]
    return lines


@bp.route("/statistics/export", methods=["POST"])
def export_statistics():
    db = get_db()
    scope, date_from, date_to, granularity, _ = _stats_request(request.form)
    figures = stats.fold(head_office.statistics(db, scope, date_from, date_to, granularity))
    with storage.transaction(db):
        audit.append(db, ledger_key(), audit.AuditEvent("export.statistics", g.user.id, data={
            "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
            "scope": "bank" if scope.branch_id is None else
                     f"branch {scope.branch_id}" + (f" teller {scope.teller_id}"
                                                    if scope.teller_id else "")}))
    group_title = None if scope.group is None else ("网点" if scope.branch_id is None else "柜员")
    body = "".join(statistics_csv_lines(figures, _names(db, scope), labels.typology_labels(),
                                        group_title))
    response = Response("\ufeff" + body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=head-office-statistics-{date_from:%Y%m%d}-{date_to:%Y%m%d}.csv")
    response.headers["Cache-Control"] = "no-store"
    return response
