"""网点管理 for the head-office admin (`ho_admin`): the bank's branches with their users and
screenings, and adding a branch. Each branch's 网点设置 is admin.branch_settings; branch
admins get 403 here."""

from __future__ import annotations

from dataclasses import replace

from flask import flash, g, redirect, render_template, url_for
from wtforms import StringField
from wtforms.validators import DataRequired, ValidationError

from . import settings
from .admin import SettingsForm, bp, head_office_only
from .db import get_db
from .storage import branches as branch_store
from .web import ledger_key


class NewBranchForm(SettingsForm):
    code = StringField("网点代码", validators=[DataRequired("请输入网点代码")])

    def validate_code(self, field):
        if not settings.CODE_PATTERN.fullmatch((field.data or "").strip()):
            raise ValidationError(settings.CODE_RULE)


@bp.route("/branches")
def branches():
    head_office_only()
    return render_template("admin/branches.html", branches=branch_store.with_counts(get_db()))


@bp.route("/branches/new", methods=["GET", "POST"])
def new_branch():
    head_office_only()
    db = get_db()
    # A new branch of the same bank, with the bank-wide defaults for the rest.
    start = replace(settings.BranchSettings(), bank_name=settings.load(db).bank_name,
                    branch_name="", city="")
    form = NewBranchForm(data={**start.to_json_dict(), "large_amount": start.large_amount})
    if form.validate_on_submit():
        try:
            branch_id = settings.create_branch(db, ledger_key(), form.code.data,
                                               form.to_settings(), actor_id=g.user.id)
        except settings.BranchError as error:
            form.code.errors.append(str(error))
        else:
            flash(f"已新增网点 {form.code.data.strip()} {form.branch_name.data.strip()}；"
                  "可在用户管理中为它新增用户")
            return redirect(url_for("admin.branches", _anchor=f"branch-{branch_id}"))
    status = 400 if form.errors else 200
    return render_template("admin/new_branch.html", form=form), status
