"""The teller's own desk tools on 我的问询: discard an unfinished screening (with a reason, on
a confirmation page) and search their past screenings."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask import flash, g, redirect, render_template, request, url_for

from .. import branch_scope, clock, labels
from ..db import get_db
from ..storage import sessions
from . import service
from .context import keys
from .views import bp, own_session

PAGE_SIZE = 20
REFERENCE_TEXT = re.compile(r"[A-Z0-9-]{1,30}")


@bp.route("/<int:session_id>/discard", methods=["GET", "POST"])
def discard(session_id: int):
    row = own_session(session_id, edit=True)
    if row["status"] != "draft":
        flash("已评估的问询不能作废，请查看评估结果并记录办理结果"
              if row["status"] == "assessed" else "该问询已记录结果，不能作废")
        return redirect(url_for("screening.result", session_id=session_id))
    if request.method == "GET":
        return discard_page(row, {}, {})
    values = {"reason": (request.form.get("reason") or "").strip(),
              "note": (request.form.get("note") or "").strip()}
    problem = service.discard_problem(values["reason"], values["note"])
    if problem:
        field = "reason" if values["reason"] not in labels.DISCARD_REASONS else "note"
        return discard_page(row, values, {field: problem}, 400)
    try:
        reference = service.discard(get_db(), keys(), session_id, g.user.id, values["reason"],
                                    values["note"])
    except service.FlowError as error:  # assessed or finished by another request meanwhile
        flash(str(error))
        return redirect(url_for("screening.mine"))
    flash(f"问询 {reference} 已作废（{labels.DISCARD_REASONS[values['reason']]}），"
          "不计入统计")
    return redirect(url_for("screening.mine"))


def discard_page(row, values: dict, errors: dict, status: int = 200):
    return render_template("screening/discard.html", row=row, values=values, errors=errors,
                           reasons=labels.DISCARD_REASONS,
                           note_limit=service.DISCARD_NOTE_LIMIT), status


def _search_filters(args) -> tuple[dict, dict, dict]:
    """(values as typed, errors by field, filters for storage) from the query string."""
    values = {name: unicodedata.normalize("NFKC", args.get(name) or "").strip()
              for name in ("reference", "date_from", "date_to", "payee_tail")}
    errors, filters = {}, {}
    if values["reference"]:
        reference = values["reference"].upper()
        if REFERENCE_TEXT.fullmatch(reference):
            filters["reference"] = reference
        else:
            errors["reference"] = "业务编号只能包含字母、数字和“-”，如 TG20261201-000012 或 000012"
    days = {}
    for name in ("date_from", "date_to"):
        if values[name]:
            try:
                days[name] = date.fromisoformat(values[name])
            except ValueError:
                errors[name] = "日期格式应为 2026-12-01"
    if "date_from" in days and "date_to" in days and days["date_from"] > days["date_to"]:
        errors["date_to"] = "结束日期不能早于开始日期"
    low, high = clock.day_range(days.get("date_from"), days.get("date_to"))
    if low:
        filters["low"] = low
    if high:
        filters["high"] = high
    if values["payee_tail"]:
        if re.fullmatch(r"[0-9]{4}", values["payee_tail"]):
            filters["payee_tail"] = values["payee_tail"]
        else:
            errors["payee_tail"] = "请输入收款账号的后 4 位数字"
    return values, errors, filters


@bp.route("/search")
def search():
    values, errors, filters = _search_filters(request.args)
    before = request.args.get("before", "")
    before_id = int(before) if before.isascii() and before.isdigit() else None
    rows, more = [], False
    if not errors:
        rows = sessions.search_own(get_db(), g.user.id, **filters, before_id=before_id,
                                   limit=PAGE_SIZE + 1, branch_ids=branch_scope.current())
        more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    next_args = ({**{k: v for k, v in values.items() if v}, "before": rows[-1]["id"]}
                 if more else None)
    return render_template(
        "screening/search.html", values=values, errors=errors, rows=rows, next_args=next_args,
        paged=before_id is not None, level_labels=service.LEVEL_LABELS,
        outcome_labels=service.OUTCOMES, statuses=labels.SESSION_STATUS,
    ), 400 if errors else 200
