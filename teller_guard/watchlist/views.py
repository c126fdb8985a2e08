"""Watchlist pages (涉诈名单) for branch security and admins: list, search, import, remove, export.

Account numbers travel only in POST bodies, are looked up by keyed hash and shown masked.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .. import branch_scope, pii
from ..db import get_db
from ..forms import ChineseForm, ascii_int
from ..web import guard_area, ledger_key, pii_key
from . import csv_import, store

bp = Blueprint("watchlist", __name__, url_prefix="/watchlist")
guard_area(bp, "security", "admin")

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
    skip_errors = BooleanField("跳过错误行（只导入正确的行）")


class RemoveForm(ChineseForm):
    reason = StringField("移出原因", validators=[DataRequired("请填写移出原因"),
                                              Length(max=200, message="原因最多 200 个字")])


class ExportForm(ChineseForm):
    """CSRF-only form for the export button."""


def _render_index(search_form=None, found=None, searched_masked=None, status=200):
    db = get_db()
    before = ascii_int(request.args.get("before"))  # at most 18 digits: an id SQLite can bind
    entries, next_before = store.page(db, before)
    return render_template(
        "watchlist/index.html", entries=entries, next_before=next_before, paged=before is not None,
        total=store.count(db), imports=store.recent_imports(db, 5),
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
            skip_errors=form.skip_errors.data, today=date.today())
    except csv_import.UploadRejected as problem:
        form.upload.errors.append(str(problem))
        return render_template("watchlist/import.html", form=form), 400
    if report.imported:
        flash(f"导入完成：新增 {report.added} 个账户，已在名单中 {report.already_listed} 个。")
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
    filename = f"high_risk_payees_{date.today():%Y%m%d}.csv"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={filename}",
        "Cache-Control": "no-store",
    })
