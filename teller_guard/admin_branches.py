"""网点管理 for the head-office admin (`ho_admin`): the bank's branches with their users and
screenings, adding a branch, and 全行设置 (bank_settings.py, with the risk rules in force shown
read-only). Each branch's 网点设置 is admin.branch_settings; branch admins get 403 here."""

from __future__ import annotations

from dataclasses import asdict, replace

from flask import current_app, flash, g, redirect, render_template, url_for
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange, ValidationError

from . import bank_settings, labels, settings
from .admin import SettingsForm, bp, head_office_only
from .db import get_db
from .forms import ChineseForm
from .screening import context
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


def _threshold(name: str, unit: str) -> IntegerField:
    low, high = bank_settings.RANGES[name]
    label = labels.BANK_SETTING_NAMES[name]
    return IntegerField(label, validators=[
        InputRequired(f"请输入{label}"),
        NumberRange(min=low, max=high, message=f"{label}应在 {low} 至 {high} {unit}之间")])


class BankSettingsForm(ChineseForm):
    payee_branches_min = _threshold("payee_branches_min", "个")
    payee_branches_days = _threshold("payee_branches_days", "天")
    customer_other_branch_days = _threshold("customer_other_branch_days", "天")
    payee_repeat_min_customers = _threshold("payee_repeat_min_customers", "名")
    payee_repeat_days = _threshold("payee_repeat_days", "天")
    customer_repeat_min = _threshold("customer_repeat_min", "次")
    customer_repeat_days = _threshold("customer_repeat_days", "天")

    def to_settings(self) -> bank_settings.BankSettings:
        return bank_settings.BankSettings(**{name: getattr(self, name).data
                                             for name in bank_settings.NAMES})


@bp.route("/bank-settings", methods=["GET", "POST"])
def bank_settings_page():
    head_office_only()
    db = get_db()
    current = bank_settings.load(db, current_app.config)
    form = BankSettingsForm(data=asdict(current))
    if form.validate_on_submit():
        changed = bank_settings.save(db, ledger_key(), form.to_settings(), current_app.config,
                                     actor_id=g.user.id)
        flash("全行设置已保存，各网点的下一笔问询即按新设置判断" if changed else "设置没有变化")
        return redirect(url_for("admin.bank_settings_page"))
    rules = context.rules()
    return render_template(
        "admin/bank_settings.html", form=form, saved=bank_settings.saved(db),
        rules_version=rules.version, rules_sources=rules.sources,
        rules_override=current_app.config.get("RULES_OVERRIDE"),
    ), 400 if form.errors else 200
