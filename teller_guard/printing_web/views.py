"""The printing area (/print): warning slip and police alert PDFs, and the alert outbox page.

Who may do what:

- 风险提示单 (slip): tellers for their own screenings, supervisors, security and admins for any;
- 警情通报单 (police alert): for 高/极高 screenings only, supervisors, security and admins for
  any, and the teller who ran the screening for their own (another teller's is a 403); a POST
  with a CSRF token (the GET page only shows the button). The screening's own teller is first
  asked for the customer's name, phone and ID number when step 1 left them out
  (alert_customer), so the alert names the customer;
- 警情外发 (outbox status, retry): security and admins.

Every print is a ledger event written together with its counter; the alert also logs the
read of the personal data and, the first time, queues the alert for the police endpoint.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import audit, branch_scope, clock, labels, printing, storage, users
from ..db import DatabaseUnavailable, get_db
from ..forms import ascii_int
from ..screening import inputs, police, service
from ..screening.context import branch, keys, rules
from ..storage import printing as print_store
from ..watchlist import store as watchlist_store
from ..web import guard_area, ledger_key
from . import content, outbox

bp = Blueprint("printing", __name__, url_prefix="/print")
guard_area(bp, "teller", "supervisor", "security", "admin")

SLIP_ROLES = ("teller", "supervisor", "security", "admin")
ALERT_ROLES = ("supervisor", "security", "admin")  # any screening of the branch
OUTBOX_ROLES = ("security", "admin")
ALERT_LEVELS = ("high", "critical")
# A PDF viewer builds its own page around the document: give it what it needs, nothing more.
PDF_CSP = ("default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; "
           "img-src 'self' data:; frame-ancestors 'none'")
# The slip alone may be framed by this site's own pages: the result page prints it from a hidden
# frame (static/js/print-slip.js). The police alert, with its personal data, never.
SLIP_CSP = PDF_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")


def refuse(code: int, title: str, message: str):
    return render_template("error.html", code=code, title=title, message=message), code


def require_role(roles) -> None:
    """A head-office role counts as its branch role (users.User.has_role)."""
    if not g.user.has_role(*roles):
        abort(403)


def from_another_site() -> bool:
    """Printing the slip is a GET with effects (counter, ledger): a link on another site must
    not trigger it. Browsers that send Sec-Fetch-Site say where the request came
    from ("none" = typed or bookmarked); older browsers send nothing and are let through."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")


def session_for(session_id: int, roles) -> dict:
    require_role(roles)
    # Another branch's screening does not exist (branch_scope.py).
    row = branch_scope.visible_or_404(service.get(get_db(), session_id))
    if g.user.role == "teller" and row["teller_id"] != g.user.id:
        abort(404)  # as on the screening pages: another teller's screening does not exist
    return row


def person(user_id) -> content.Person:
    if user_id is None:
        return content.Person()
    user = users.get_user(get_db(), user_id)
    return content.Person(user.display_name, user.staff_no) if user else content.Person()


def me() -> content.Person:
    return content.Person(g.user.display_name, g.user.staff_no)


def now_local() -> datetime:
    return clock.local(clock.now())


def pdf_response(pdf: bytes, title_zh: str, title_ascii: str, reference: str,
                 frameable: bool = False) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    filename = f"{title_zh}-{reference}.pdf"
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_"
                       for ch in f"{title_ascii}-{reference}.pdf")
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}")
    response.headers["Cache-Control"] = "no-store"  # the alert holds personal data
    response.headers["Content-Security-Policy"] = SLIP_CSP if frameable else PDF_CSP
    if frameable:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"  # kept by set_security_headers
    return response


def _append(db, kind: str, session_id: int, **data) -> None:
    audit.append(db, ledger_key(), audit.AuditEvent(kind, g.user.id, session_id, data))


# --- warning slip ----------------------------------------------------------------------------


@bp.route("/<int:session_id>/slip")
@bp.route("/<int:session_id>/slip.pdf")
def slip(session_id: int):
    row = session_for(session_id, SLIP_ROLES)
    if from_another_site():
        return refuse(403, "无法打印", "请从本系统的问询页面打开打印链接。")
    paper = request.args.get("paper")
    if paper is None:
        paper = branch(row["branch_id"]).slip_paper
        paper = paper if paper in printing.PAPERS else "a5"
    elif paper not in printing.PAPERS:
        return refuse(400, "纸张类型无效",
                      f"纸张类型只能是 a5（{labels.PAPERS['a5']}）、a4（{labels.PAPERS['a4']}）或 "
                      f"roll80（{labels.PAPERS['roll80']}）。")
    if row["assessment"] is None or not row["level"]:
        return refuse(409, "暂不能打印", "该问询尚未完成风险评估，完成问询后才能打印风险提示单。")
    pdf = printing.build_slip(
        content.slip_content(row, branch(row["branch_id"]), person(row["teller_id"]), now_local()),
        paper)
    db = get_db()
    with storage.transaction(db):
        printed = print_store.slip_printed(db, session_id)
        _append(db, "print.slip", session_id, paper=paper, reprint=printed > 0)
    return pdf_response(pdf, "风险提示单", "risk-warning", row["reference"], frameable=True)


# --- police alert ----------------------------------------------------------------------------


def _alert_refusal(row):
    if row["assessment"] is None or row["level"] not in ALERT_LEVELS:
        return refuse(409, "不能打印警情通报单",
                      "只有高风险、极高风险的问询才能打印警情通报单。")
    return None


def alert_session(session_id: int) -> dict:
    """Supervisors, security and admins print any screening's alert; a teller only their own
    (another teller's stays a 403, as before tellers could print alerts at all)."""
    require_role(("teller", *ALERT_ROLES))
    row = branch_scope.visible_or_404(service.get(get_db(), session_id))
    if g.user.role == "teller" and row["teller_id"] != g.user.id:
        abort(403)
    return row


def customer_missing(row) -> list[str]:
    """The customer fields the alert still lacks, asked of the screening's own teller (who has
    the customer at the counter); others print what was recorded."""
    if row["teller_id"] != g.user.id:
        return []
    return police.missing_customer_fields(service.vault_values(get_db(), row["id"]))


def alert_page(row, missing, errors=None, values=None, status=200):
    return render_template(
        "printing/alert.html", row=row, missing=missing, errors=errors or {},
        values=values or {}, fact_names=labels.FACT_NAMES,
        queues=bool(current_app.config.get("ALERT_ENDPOINT")) and not row["alerts_printed"],
    ), status


@bp.route("/<int:session_id>/alert")
def alert(session_id: int):
    """The page with the print button. Printing reads the vault, is logged and queues the first
    alert for the police, so it is a POST (alert_pdf) with a CSRF token: a link, a prefetch or
    a page on another site can only bring the user here."""
    row = alert_session(session_id)
    refusal = _alert_refusal(row)
    if refusal:
        return refusal
    return alert_page(row, customer_missing(row))


@bp.route("/<int:session_id>/alert/customer", methods=["POST"])
def alert_customer(session_id: int):
    """The customer's details the alert lacks, from the screening's own teller: into the vault
    (masked everywhere else), then back to the print button."""
    row = alert_session(session_id)
    if row["teller_id"] != g.user.id:
        abort(403)  # the customer is at the teller's counter: they alone add the details
    refusal = _alert_refusal(row)
    if refusal:
        return refusal
    missing = customer_missing(row)
    checked = police.parse_customer(request.form, missing, service.now_local().date())
    if not checked.ok:
        # Kept for the teller to correct; never echoed in full in a log or URL (POST body only).
        kept = {name: (request.form.get(name) or "").strip()[:60] for name in missing}
        return alert_page(row, missing, checked.errors, kept, 400)
    if missing:
        service.add_customer_details(get_db(), keys(), session_id, checked.value,
                                     g.user.id)
        flash("已补录客户信息，可以打印警情通报单")
    return redirect(url_for("printing.alert", session_id=session_id))


@bp.route("/<int:session_id>/alert.pdf", methods=["POST"])
def alert_pdf(session_id: int):
    row = alert_session(session_id)
    refusal = _alert_refusal(row)
    if refusal:
        return refusal
    if customer_missing(row):
        return alert_page(row, customer_missing(row), {
            "customer": "请先补录客户的姓名、电话和身份证号，再打印警情通报单"}, status=409)
    db, printed_at = get_db(), now_local()
    vault = service.vault_values(db, session_id)
    alert_content = content.alert_content(
        row, vault, branch(row["branch_id"]), rules(), teller=person(row["teller_id"]),
        supervisor=person(row["supervisor_id"]), printed_by=me(), printed_at=printed_at,
        channel_labels=inputs.CHANNEL_LABELS, outcome_labels=service.OUTCOMES,
        police=service.police_response(db, session_id),
        watchlist_entry=watchlist_store.entry_that_stopped(db, row))
    pdf = printing.build_police_alert(alert_content)
    queued = None
    with storage.transaction(db):
        current = print_store.alert_state(db, session_id)
        if current["level"] not in ALERT_LEVELS:  # assessed again meanwhile: nothing is written
            queued = False
        else:
            queued = _record_alert(db, row, current, vault, alert_content, printed_at)
    if queued is False:
        return refuse(409, "不能打印警情通报单",
                      "该问询刚被重新评估，已不是高风险或极高风险，请刷新页面。")
    if queued is not None:
        sender = outbox.sender_for(current_app._get_current_object())
        if sender is not None:
            sender.wake()
    return pdf_response(pdf, "警情通报单", "police-alert", row["reference"])


def _record_alert(db, row, current, vault, alert_content, printed_at) -> int | None:
    """Counter, review queue, pii.accessed, print.alert and, on the first print with an
    endpoint configured, the outbox row with its alert.queued event: one transaction."""
    session_id = row["id"]
    printed = current["alerts_printed"] or 0
    print_store.alert_printed(db, session_id, printed + 1, current["review_status"] or "pending",
                              at=printed_at.isoformat(timespec="seconds"))
    _append(db, "pii.accessed", session_id, fields=content.pii_fields_read(vault),
            purpose="police_alert")
    _append(db, "print.alert", session_id, paper="a4", reprint=printed > 0)
    if printed or not current_app.config.get("ALERT_ENDPOINT"):
        return None
    key = outbox.alert_idempotency_key(outbox.instance_id(ledger_key()), row["reference"])
    payload = content.alert_payload(alert_content, row, key, printed_at)
    return outbox.queue_alert(db, ledger_key(), session_id, g.user.id, key, payload)


# --- outbox status -------------------------------------------------------------------------------


def _local(stamp: str | None) -> str:
    try:
        moment = clock.local(stamp)
    except ValueError:
        return stamp
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _endpoint_problem() -> str | None:
    try:
        outbox.check_config(current_app.config)
    except outbox.EndpointError as error:
        return str(error)
    return None


@bp.route("/outbox", endpoint="outbox")
def outbox_page():
    require_role(OUTBOX_ROLES)
    db = get_db()
    entries = [
        {**entry, "status_label": outbox.STATUS_LABELS.get(entry["status"], entry["status"]),
         "next_attempt": _local(entry["next_attempt_at"]) if entry["status"] == "pending" else "",
         "created": _local(entry["created_at"]), "sent": _local(entry["sent_at"])}
        for entry in outbox.rows(db, branch_ids=branch_scope.current())
    ]
    return render_template(
        "printing/outbox.html", counts=outbox.counts(db, branch_scope.current()), entries=entries,
        endpoint_problem=_endpoint_problem(),
        background=outbox.sender_for(current_app._get_current_object()) is not None,
        max_attempts=outbox.MAX_ATTEMPTS)


@bp.route("/outbox/retry", methods=["POST"])
def outbox_retry():
    require_role(OUTBOX_ROLES)
    raw = (request.form.get("outbox_id") or "").strip()
    outbox_id = ascii_int(raw)
    if raw and outbox_id is None:
        flash("要重新发送的记录无效")
        return redirect(url_for("printing.outbox"))
    db = get_db()
    count = outbox.retry_failed(db, outbox_id, branch_ids=branch_scope.current())
    if not count:
        flash("没有需要重新发送的失败记录")
        return redirect(url_for("printing.outbox"))
    app = current_app._get_current_object()
    sender = outbox.sender_for(app)
    problem = _endpoint_problem()
    if sender is not None:
        sender.wake()
        flash(f"已安排重新发送 {count} 条，几秒内发送，请稍后刷新本页查看结果")
    elif problem:
        flash(f"已重新排队 {count} 条，但暂时无法发送：{problem}")
    else:
        try:
            sent, failed = outbox.deliver_with_config(db, ledger_key(), app.config)
        except outbox.EndpointError as error:  # e.g. the token file went away since the check
            flash(f"已重新排队 {count} 条，但暂时无法发送：{error}")
        else:
            flash(f"已重新发送：成功 {sent} 条，失败 {failed} 条")
    return redirect(url_for("printing.outbox"))


# --- banners (templates/_banners.html) ------------------------------------------------------------


@bp.app_context_processor
def printing_banners() -> dict:
    user = g.get("user")
    if user is None or not user.has_role(*OUTBOX_ROLES):
        return {}
    values: dict = {"font_warning": None, "outbox_failed": 0}
    if user.has_role("admin"):
        status = printing.font_status()
        if not status.embedded:
            values["font_warning"] = status.warning_zh
    try:
        values["outbox_failed"] = print_store.failed_count(get_db(),
                                                           branch_scope.branch_ids(user))
    except (sqlite3.Error, DatabaseUnavailable):
        pass
    return values
