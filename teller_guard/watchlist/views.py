"""Watchlist pages (涉诈名单), one list for the whole bank: list (有效/已过期/全部), search,
import, add by hand, an entry's history, remove, export, and head office's 待审批 list of
branch proposals.

Account numbers travel only in POST bodies, are looked up by keyed hash and shown masked.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .. import branch_scope, clock, labels, pii
from ..db import get_db
from ..forms import ChineseForm, ascii_int, choices
from ..storage import review as review_store
from ..web import guard_area, ledger_key, pii_key
from . import csv_import, proposals, store

bp = Blueprint("watchlist", __name__, url_prefix="/watchlist")
# Branch security and admins keep the list; head office (ho_security, ho_admin open what
# security and admin open) approves branch proposals too.
guard_area(bp, "security", "admin")

CATEGORY_CHOICES = list(labels.WATCHLIST_CATEGORIES.items())
VIEW_LABELS = {"active": labels.WATCHLIST_STATES["active"],
               "expired": labels.WATCHLIST_STATES["expired"], "all": "全部"}

ERRORS_SHOWN = 200


class SearchForm(ChineseForm):
    account = StringField("账号", validators=[DataRequired("请输入要查询的账号")],
                          render_kw={"autocomplete": "off", "inputmode": "numeric"})


class ImportForm(ChineseForm):
    upload = FileField("名单文件（CSV）", validators=[FileRequired("请选择要导入的文件")],
                       render_kw={"accept": ".csv,.txt,text/csv,text/plain"})
    default_source = StringField(
        "默认来源", validators=[Optional(), Length(max=csv_import.MAX_SOURCE_CHARS,
                                               message="来源最多 64 个字")])
    default_category = SelectField("来源类别", choices=choices(CATEGORY_CHOICES),
                                   default=csv_import.DEFAULT_CATEGORY,
                                   validate_choice=False)  # checked by import_file, in Chinese
    skip_errors = BooleanField("跳过错误行（只导入正确的行）")


class AddForm(ChineseForm):
    """One account typed in; csv_import.typed_account checks it as an import line."""

    account = StringField("账号", render_kw={"autocomplete": "off", "inputmode": "numeric",
                                            "maxlength": 40})
    category = SelectField("来源类别", choices=choices([("", "请选择"), *CATEGORY_CHOICES]),
                           validate_choice=False)
    source = StringField("来源说明（可选）", render_kw={"maxlength": csv_import.MAX_SOURCE_CHARS})
    listed_on = StringField("列入日期", render_kw={"placeholder": "2024-03-05"})
    expires_on = StringField("到期日（可选）", render_kw={"placeholder": "2025-12-31"})
    note = TextAreaField("备注（可选）", render_kw={"maxlength": csv_import.MAX_NOTE_CHARS})


class RemoveForm(ChineseForm):
    reason = StringField("移出原因", validators=[DataRequired("请填写移出原因"),
                                              Length(max=200, message="原因最多 200 个字")])


class ExportForm(ChineseForm):
    """CSRF-only form for the export button."""


def _render_index(search_form=None, found=None, searched_masked=None, status=200):
    db = get_db()
    today = clock.today()
    before = ascii_int(request.args.get("before"))  # at most 18 digits: an id SQLite can bind
    view = request.args.get("show") if request.args.get("show") in store.VIEWS else "all"
    entries, next_before = store.page(db, before, view=view, today=today)
    counts = store.counts(db, today)
    return render_template(
        "watchlist/index.html", entries=entries, next_before=next_before, paged=before is not None,
        total=counts["active"] + counts["expired"], counts=counts, view=view,
        views=VIEW_LABELS, today=today, labels=labels, imports=store.recent_imports(db, 5),
        search_form=search_form or SearchForm(formdata=None), found=found,
        searched_masked=searched_masked, export_form=ExportForm(),
    ), status


@bp.route("/")
def index():
    return _render_index()


@bp.route("/search", methods=["POST"])
def search():
    form = SearchForm()
    if not form.validate_on_submit():
        return _render_index(search_form=form, status=400)
    try:
        digits = store.account_digits(form.account.data)
    except store.AccountError as problem:
        form.account.errors.append(str(problem))
        return _render_index(search_form=form, status=400)
    entry = store.find(get_db(), store.account_hash(pii_key(), digits))
    # The typed number is not echoed back: the page shows only the masked form.
    return _render_index(found=entry, searched_masked=pii.mask_account(digits))


@bp.route("/import", methods=["GET", "POST"])
def import_upload():
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("watchlist/import.html", form=form), 400 if form.errors else 200
    try:
        report = csv_import.import_file(
            get_db(), pii_key=pii_key(), ledger_key=ledger_key(), data=form.upload.data.read(),
            actor_id=g.user.id, default_source=form.default_source.data or "",
            skip_errors=form.skip_errors.data, today=clock.today(),
            default_category=form.default_category.data or csv_import.DEFAULT_CATEGORY)
    except csv_import.UploadRejected as problem:
        form.upload.errors.append(str(problem))
        return render_template("watchlist/import.html", form=form), 400
    if report.imported:
        flash(f"导入完成：新增 {report.added} 个账户，重新列入 {report.renewed} 个，"
              f"已在名单中 {report.already_listed} 个。")
    # After a refusal keep the default source and the tick; a file input cannot be refilled.
    next_form = ImportForm(formdata=None) if report.imported else form
    return render_template("watchlist/import.html", form=next_form, report=report,
                           errors_shown=ERRORS_SHOWN), 200 if report.imported else 400


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    form = ImportForm(formdata=None)  # the body was refused, so there is no form data to read
    limit_mb = (request.max_content_length or 0) // (1024 * 1024)
    form.upload.errors = [f"文件过大（上限 {limit_mb} MB）。请拆分成几个文件分批导入。"]
    return render_template("watchlist/import.html", form=form), 413


@bp.route("/add", methods=["GET", "POST"])
def add():
    form = AddForm()
    if not form.validate_on_submit():
        return render_template("watchlist/add.html", form=form), 400 if form.errors else 200
    values = {name: getattr(form, name).data or "" for name in csv_import.FORM_FIELDS}
    entry, errors = csv_import.typed_account(pii_key(), clock.today(), values)
    if entry is not None:
        added = store.add_typed(get_db(), ledger_key(), entry, g.user.id, clock.today())
        if added is not None:
            flash(f"已重新列入 {entry.account_masked}（原名单条目已过期或仍待审批）"
                  if added.renewed else f"已将 {entry.account_masked} 加入名单")
            return redirect(url_for("watchlist.entry", entry_id=added.entry_id), 303)
        errors = {"account": f"账号 {entry.account_masked} 已在名单中且仍有效，未重复添加"}
    for name, message in errors.items():
        getattr(form, name).errors = [message]
    # What was typed stays in the fields (the account too, as the screening form keeps it).
    return render_template("watchlist/add.html", form=form), 400


@bp.route("/<int:entry_id>")
def entry(entry_id: int):
    db = get_db()
    found = store.get(db, entry_id)
    if found is None:
        flash("该账户已不在名单中")
        return redirect(url_for("watchlist.index"))
    names = review_store.user_names(db)
    return render_template("watchlist/entry.html", entry=found, today=clock.today(), labels=labels,
                           history=proposals.history(db, found, names),
                           proposer=names.get(found.proposed_by, ""),
                           may_approve=proposals.may_approve_watchlist(g.user))


def _render_proposals(errors: dict | None = None, failed_id: int | None = None, status=200):
    return render_template(
        "watchlist/proposals.html", proposals=proposals.pending(get_db()),
        may_approve=proposals.may_approve_watchlist(g.user), errors=errors or {},
        failed_id=failed_id, values=request.form if failed_id else {},
        max_shown=proposals.MAX_SHOWN, max_chars=proposals.MAX_NOTE_CHARS), status


@bp.route("/proposals")
def proposals_page():
    return _render_proposals()


def _decide(entry_id: int, decide):
    if not proposals.may_approve_watchlist(g.user):
        abort(403)
    try:
        decided = decide()
    except proposals.ProposalError as problem:
        return _render_proposals({problem.field or "banner": str(problem)}, entry_id, 409)
    return decided


@bp.route("/proposals/<int:entry_id>/approve", methods=["POST"])
def approve(entry_id: int):
    def decide():
        # CSRFProtect has already refused a bad token.
        approved = proposals.approve(get_db(), ledger_key(), g.user, entry_id,
                                     request.form.get("expires_on", ""), today=clock.today())
        flash(f"已批准：{approved.account_masked} 列入名单（{labels.WATCHLIST_CATEGORIES['own']}）")
        return redirect(url_for("watchlist.proposals_page"), 303)
    return _decide(entry_id, decide)


@bp.route("/proposals/<int:entry_id>/reject", methods=["POST"])
def reject(entry_id: int):
    def decide():
        rejected = proposals.reject(get_db(), ledger_key(), g.user, entry_id,
                                    request.form.get("reason", ""))
        flash(f"已驳回：{rejected.account_masked}")
        return redirect(url_for("watchlist.proposals_page"), 303)
    return _decide(entry_id, decide)


@bp.route("/<int:entry_id>/remove", methods=["GET", "POST"])
def remove(entry_id: int):
    entry = store.get(get_db(), entry_id)
    if entry is None:
        flash("该账户已不在名单中")
        return redirect(url_for("watchlist.index"))
    form = RemoveForm()
    if form.validate_on_submit():
        removed = store.remove(get_db(), ledger_key(), entry_id, g.user.id, form.reason.data)
        flash(f"已将 {removed.account_masked} 移出名单" if removed else "该账户已不在名单中")
        return redirect(url_for("watchlist.index"))
    return render_template("watchlist/remove.html", entry=entry, form=form), 400 if form.errors else 200


@bp.route("/export", methods=["POST"])
def export():
    ExportForm().validate_on_submit()  # CSRFProtect has already refused a bad token
    body = store.export_high_risk_payees(get_db(), ledger_key(), pii_key(), g.user.id,
                                         branch_scope.current())
    filename = f"high_risk_payees_{clock.today():%Y%m%d}.csv"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={filename}",
        "Cache-Control": "no-store",
    })
