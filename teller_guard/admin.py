"""Admin area: users, branch settings, API tokens.

A branch admin (`admin`) manages their own branch: its users (branch roles only) and its
网点设置; another branch's user or settings is a 404. The head-office admin (`ho_admin`)
manages every branch's users and head-office accounts, moves users between branches and keeps
the branches (admin_branches.py)."""

from __future__ import annotations

from decimal import Decimal

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from . import api_scope, api_tokens, branch_scope, labels, login_throttle, settings, users
from .db import get_db
from .forms import ChineseForm, ascii_int, choices
from .regions import PROVINCE_PINYIN, PROVINCES
from .storage import branches as branch_store
from .web import guard_area, ledger_key

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_area(bp, "admin")


class ProfileFields(ChineseForm):
    """Name, 工号 and role: what an admin sets when adding an account and may edit later."""

    display_name = StringField("姓名", validators=[
        Optional(), Length(max=users.MAX_NAME_LENGTH, message=f"姓名最多 {users.MAX_NAME_LENGTH} 个字")])
    # Not Optional(): that would skip validate_staff_no for an empty 工号.
    staff_no = StringField("工号", validators=[
        Length(max=users.MAX_STAFF_NO_LENGTH, message=f"工号最多 {users.MAX_STAFF_NO_LENGTH} 个字符")])
    role = SelectField("角色", choices=choices(users.ROLES.items()))

    def validate_staff_no(self, field):
        problem = users.staff_no_problem(self.role.data or "", field.data or "")
        if problem:
            raise ValidationError(problem)


class AddUserForm(ProfileFields):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    # Head office only (fitted() removes it for a branch admin, whose users join their branch).
    branch = SelectField("所属网点", choices=[])

    def validate_branch(self, field):
        if self.role.data not in users.HEAD_OFFICE_ROLES and not field.data:
            raise ValidationError("请选择用户所属网点（总行角色以外的用户都属于一个网点）")


class EditUserForm(ProfileFields):
    pass


class MoveUserForm(ChineseForm):
    branch = SelectField("调整到网点", choices=[])


HEAD_OFFICE_CHOICE = ("", "总行（仅总行反诈、总行管理员）")


def branch_label(row) -> str:
    return f"{row['code']} {row['name']}"


def branch_labels(db) -> dict[int, str]:
    return {row["id"]: branch_label(row) for row in branch_store.all_branches(db)}


def role_choices(head_office_account: bool) -> list:
    """The roles an account of this kind may have: head-office roles or branch roles (an
    account never turns from one into the other, users.update_user)."""
    return choices((role, label) for role, label in users.ROLES.items()
                   if (role in users.HEAD_OFFICE_ROLES) == head_office_account)


def fitted(form: AddUserForm) -> AddUserForm:
    """The add form as this admin may use it: a branch admin adds branch roles to their own
    branch (no branch field: a posted one is ignored, a posted head-office role refused); head
    office picks any role and the branch."""
    if g.user.head_office:
        form.role.choices = choices(users.ROLES.items())
        form.branch.choices = choices([*(
            (str(branch_id), label) for branch_id, label in branch_labels(get_db()).items()),
            HEAD_OFFICE_CHOICE])
    else:
        form.role.choices = role_choices(False)
        del form.branch
    return form


def manages(target: users.User) -> bool:
    return g.user.head_office or (target.branch_id is not None
                                  and target.branch_id == g.user.branch_id)


def managed_user(user_id: int) -> users.User:
    """The account if this admin manages it; otherwise 404, the same as for an id that does
    not exist (another branch's accounts are not even confirmed to exist)."""
    target = users.get_user(get_db(), user_id)
    if target is None or not manages(target):
        abort(404, "用户不存在，或不属于您管理的网点。")
    return target


def head_office_only() -> None:
    if not g.user.head_office:
        abort(403)


class UserActionForm(ChineseForm):
    """CSRF-only form for the disable/enable/reset buttons."""


def confirmed() -> bool:
    """Whether the POST came from a confirmation page (停用, 吊销), which sends confirmed=1."""
    return request.form.get("confirmed") == "1"


STAFF_NO_HINT = "柜员和主管必填，打印在风险提示单上"


class SettingsForm(ChineseForm):
    bank_name = StringField(labels.SETTING_NAMES["bank_name"],
                            validators=[DataRequired("请输入银行名称"), Length(max=64)])
    branch_name = StringField(labels.SETTING_NAMES["branch_name"],
                              validators=[DataRequired("请输入网点名称"), Length(max=64)])
    # data-pinyin: typing "gd" picks 广东省 (static/js/typeahead.js)
    province = SelectField(labels.SETTING_NAMES["province"], render_kw={"data-typeahead": ""}, choices=choices(
        (p, p, {"data-pinyin": PROVINCE_PINYIN[p]}) for p in PROVINCES))
    city = StringField(labels.SETTING_NAMES["city"], validators=[Optional(), Length(max=32)])
    large_amount = DecimalField(
        labels.SETTING_NAMES["large_amount"], places=2,
        validators=[InputRequired("请输入大额标准"),
                    NumberRange(min=1, max=100_000_000, message="大额标准应在 1 至 1 亿元之间")])
    elderly_age = IntegerField(
        labels.SETTING_NAMES["elderly_age"],
        validators=[InputRequired("请输入年龄"),
                    NumberRange(min=40, max=100, message="年龄应在 40 至 100 岁之间")])
    slip_paper = SelectField(labels.SETTING_NAMES["slip_paper"], choices=choices(
        (paper, labels.PAPERS[paper]) for paper in ("a5", "a4", "roll80")))

    def to_settings(self) -> settings.BranchSettings:
        return settings.BranchSettings(
            bank_name=self.bank_name.data.strip(), branch_name=self.branch_name.data.strip(),
            province=self.province.data, city=(self.city.data or "").strip(),
            large_amount=Decimal(self.large_amount.data).quantize(Decimal("0.01")),
            elderly_age=self.elderly_age.data, slip_paper=self.slip_paper.data,
        )


def listed_branch() -> str:
    """Head office's filter of the user list (`?branch=`): a branch id, "ho" for head-office
    accounts, "" for all."""
    wanted = request.args.get("branch", "")
    return wanted if wanted == "ho" or ascii_int(wanted) is not None else ""


def users_page(add_form, status=200):
    db = get_db()
    everyone = users.list_users(db)
    wanted = listed_branch() if g.user.head_office else ""
    if not g.user.head_office:
        shown = [user for user in everyone if manages(user)]
    elif wanted == "ho":
        shown = [user for user in everyone if user.branch_id is None]
    elif wanted:
        shown = [user for user in everyone if user.branch_id == int(wanted)]
    else:
        shown = everyone
    failures = login_throttle.recent(db, login_throttle.Limits.from_config(current_app.config))
    if not g.user.head_office:  # names of other branches' accounts are not this admin's
        own = {user.username for user in shown}
        failures = [row for row in failures if not row["username"] or row["username"] in own]
    branches = branch_labels(db)
    return render_template(
        "admin/index.html", users=shown, add_form=add_form, branches=branches,
        listed=wanted, action_form=UserActionForm(), roles=users.ROLES,
        staff_no_hint=STAFF_NO_HINT, failures=failures,
        own_branch=None if g.user.head_office else branches.get(g.user.branch_id),
    ), status


@bp.route("/")
def index():
    form = fitted(AddUserForm())
    if g.user.head_office and listed_branch() not in ("", "ho"):
        form.branch.data = listed_branch()  # adding to the branch being looked at
    return users_page(form)


@bp.route("/users", methods=["POST"])
def add_user():
    form = fitted(AddUserForm())
    if form.validate_on_submit():
        password = users.generate_password()
        if not g.user.head_office:
            branch_id = g.user.branch_id
        elif form.role.data in users.HEAD_OFFICE_ROLES:
            branch_id = None
        else:
            branch_id = int(form.branch.data)
        try:
            users.create_user(get_db(), ledger_key(), form.username.data, password,
                              form.role.data, form.display_name.data or "",
                              form.staff_no.data or "", actor_id=g.user.id,
                              branch_id=branch_id)
        except users.UserError as error:
            form.username.errors.append(str(error))
        else:
            flash(f"已新增用户 {form.username.data.strip()}，初始密码：{password}（请当面交给本人；"
                  "本人首次登录后须修改）")
            return redirect(url_for("admin.index"))
    return users_page(form, 400)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
def edit_user(user_id: int):
    target = managed_user(user_id)
    own = target.id == g.user.id
    form = EditUserForm(data={"display_name": target.display_name, "staff_no": target.staff_no,
                              "role": target.role})
    form.role.choices = role_choices(target.head_office)
    if own:
        form.role.data = target.role  # not offered: an admin cannot change their own role
    error = None
    if form.validate_on_submit():
        try:
            changed = users.update_user(get_db(), ledger_key(), target.id, form.role.data,
                                        form.display_name.data or "", form.staff_no.data or "",
                                        actor_id=g.user.id)
        except users.UserError as refused:
            error = str(refused)
        else:
            if not changed:
                flash(f"用户 {target.username} 的信息没有变化")
            elif "role" in changed:
                flash(f"已修改用户 {target.username} 的信息；角色已改为{users.ROLES[form.role.data]}，"
                      "该用户须重新登录")
            else:
                flash(f"已修改用户 {target.username} 的信息")
            return redirect(url_for("admin.index"))
    status = 400 if form.errors or error else 200
    return render_template("admin/edit_user.html", form=form, target=target, own=own,
                           error=error, staff_no_hint=STAFF_NO_HINT,
                           move_form=move_form_for(target),
                           branches=branch_labels(get_db())), status


def move_form_for(target: users.User) -> MoveUserForm | None:
    """Head office's 调整所属网点 form for a branch account (None: not offered)."""
    if not g.user.head_office or target.head_office:
        return None
    form = MoveUserForm(data={"branch": str(target.branch_id)})
    form.branch.choices = choices((str(branch_id), label)
                                  for branch_id, label in branch_labels(get_db()).items())
    return form


@bp.route("/users/<int:user_id>/branch", methods=["POST"])
def move_user(user_id: int):
    """Head office moves a branch account to another branch; its login sessions end."""
    head_office_only()
    target = managed_user(user_id)
    form = move_form_for(target)
    if form is None:
        abort(404, "总行账户不属于任何网点。")
    if not form.validate_on_submit():
        flash("请选择要调整到的网点")
        return redirect(url_for("admin.edit_user", user_id=user_id))
    try:
        previous = users.move_to_branch(get_db(), ledger_key(), target.id, int(form.branch.data),
                                        actor_id=g.user.id)
    except users.UserError as refused:
        flash(str(refused))
        return redirect(url_for("admin.edit_user", user_id=user_id))
    if previous is None:
        flash(f"用户 {target.username} 已在该网点")
    else:
        flash(f"已将用户 {target.username} 调整到 {branch_labels(get_db())[int(form.branch.data)]}，"
              "该用户须重新登录")
    return redirect(url_for("admin.index"))


# One rule per path for GET and POST: with two, an id the converter refuses answered 405.
@bp.route("/users/<int:user_id>/disable", methods=["GET", "POST"])
def disable_user(user_id: int):
    """GET: the step before 停用 (what it does, and a button that says so). POST from that
    page (confirmed=1): disable; any other POST only leads to the question."""
    if request.method == "POST":
        UserActionForm().validate_on_submit()  # CSRFProtect has already rejected a bad token
    target = managed_user(user_id)
    if target.id == g.user.id:
        flash("不能停用自己的账户")
        return redirect(url_for("admin.index"))
    if request.method == "POST" and confirmed():
        users.set_active(get_db(), ledger_key(), target.username, False, g.user.id)
        flash(f"已停用用户 {target.username}")
        return redirect(url_for("admin.index"))
    if request.method == "POST":  # a form from before the confirmation step, or a crafted one
        return redirect(url_for("admin.disable_user", user_id=user_id), 303)
    if not target.active:
        flash(f"用户 {target.username} 已停用")
        return redirect(url_for("admin.index"))
    return render_template("admin/confirm_disable.html", target=target,
                           action_form=UserActionForm())


@bp.route("/users/<int:user_id>/reset", methods=["GET", "POST"])
def reset_user_password(user_id: int):
    """GET: the step before 重置密码 (the old password stops working at once). POST from that
    page (confirmed=1): reset and show the new password once; any other POST only leads to the
    question."""
    if request.method == "POST":
        UserActionForm().validate_on_submit()  # CSRFProtect has already rejected a bad token
    target = managed_user(user_id)
    if request.method == "POST" and confirmed():
        password = users.reset_password(get_db(), ledger_key(), target.username,
                                        actor_id=g.user.id)
        flash(f"已重置 {target.username} 的密码，新密码：{password}（请当面交给本人；本人登录后须修改）")
        return redirect(url_for("admin.index"))
    if request.method == "POST":
        return redirect(url_for("admin.reset_user_password", user_id=user_id), 303)
    return render_template("admin/confirm_reset.html", target=target,
                           action_form=UserActionForm())


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
def enable_user(user_id: int):
    UserActionForm().validate_on_submit()  # CSRFProtect has already rejected a bad token
    target = managed_user(user_id)
    users.set_active(get_db(), ledger_key(), target.username, True, g.user.id)
    flash(f"已启用用户 {target.username}")
    return redirect(url_for("admin.index"))


def branch_of_page(named: int | None) -> int:
    """The branch a settings page works on: the one in its address if this admin may (head
    office: any; a branch admin: their own, any other is a 404), else the admin's own."""
    if named is None:
        return g.user.branch_id
    if not g.user.head_office and named != g.user.branch_id:
        abort(404)
    return named


@bp.route("/settings", methods=["GET", "POST"])
@bp.route("/branches/<int:branch_id>/settings", methods=["GET", "POST"])
def branch_settings(branch_id: int | None = None):
    if branch_id is None and g.user.head_office:
        return redirect(url_for("admin.branches"))  # head office picks the branch there
    db = get_db()
    branch_id = branch_of_page(branch_id)
    row = branch_store.get(db, branch_id)
    if row is None:
        abort(404, "网点不存在。")
    current = settings.of_row(row)
    form = SettingsForm(data={**current.to_json_dict(), "large_amount": current.large_amount})
    if form.validate_on_submit():
        changed = settings.save(db, ledger_key(), form.to_settings(), actor_id=g.user.id,
                                branch_id=branch_id)
        flash("网点设置已保存" if changed else "设置没有变化")
        return redirect(url_for("admin.branch_settings",
                                branch_id=branch_id if g.user.head_office else None))
    status = 400 if form.errors else 200
    return render_template("admin/settings.html", form=form, branch_label=branch_label(row)), status


class TokenForm(ChineseForm):
    name = StringField("调用系统名称", validators=[
        DataRequired("请输入调用系统名称"),
        Length(max=api_tokens.NAME_MAX, message=f"名称最多 {api_tokens.NAME_MAX} 个字")])
    tellers_mode = RadioField("可代为提交问询的柜员", default="all", choices=choices([
        ("all", api_scope.ALL_TELLERS), ("listed", "仅限下列柜员")]))
    tellers = SelectMultipleField("指定柜员", choices=[])
    read_scope = RadioField("可查看的问询", default="own",
                            choices=choices(api_scope.READ_SCOPES.items()))
    may_supervise = BooleanField("可提交主管授权（主管身份由调用系统核验，仍须与办理柜员不是同一人）")
    # Head office only (a branch admin's tokens act for their own branch): branch_scope.py.
    branch = SelectField("代表的网点", coerce=int, choices=[])

    def validate_tellers(self, field):
        if self.tellers_mode.data == "listed" and not field.data:
            raise ValidationError("请至少选择一名柜员")

    def scope(self) -> api_scope.Scope:
        listed = self.tellers_mode.data == "listed"
        return api_scope.Scope(tuple(self.tellers.data) if listed else None,
                               self.read_scope.data, bool(self.may_supervise.data))


def filing_users(db) -> list[tuple[str, str]]:
    """(username, label) of the accounts a token may file for: active tellers and supervisors
    of the admin's branch (head office: of every branch)."""
    return [(user.username, f"{user.display_name or user.username}（{user.username}，{user.role_label}）")
            for user in api_tokens.filing_accounts(db, branch_scope.current())]


def _token_branch(db, form: TokenForm) -> int | None:
    """The branch a new token acts for: a branch admin's own; head office picks one, and the
    tellers listed must be of it (a token never files for another branch's)."""
    if not g.user.head_office:
        return g.user.branch_id
    branch_id = form.branch.data
    others = [user.username for user in api_tokens.filing_accounts(db)
              if user.username in (form.tellers.data or []) and user.branch_id != branch_id]
    if form.tellers_mode.data == "listed" and others:
        form.tellers.errors = [*form.tellers.errors, "所选柜员须属于该令牌代表的网点："
                               + "、".join(others)]
        return None
    return branch_id


@bp.route("/api-tokens", methods=["GET", "POST"])
def api_tokens_page():
    db = get_db()
    form = TokenForm()
    teller_choices = filing_users(db)
    form.tellers.choices = choices(teller_choices)
    if g.user.head_office:
        form.branch.choices = [(row["id"], f"{row['code']} {row['name']}")
                               for row in settings.branches(db)]
    else:
        del form.branch
    new_token = None
    if form.validate_on_submit():
        branch_id = _token_branch(db, form)
        if branch_id is not None:
            _, new_token = api_tokens.create(db, ledger_key(), form.name.data.strip(), g.user.id,
                                             form.scope(), branch_id=branch_id)
    status = 400 if form.errors else 200
    tokens = api_tokens.list_all(db, branch_scope.current())
    scopes = {token["id"]: api_scope.Scope.of(token) for token in tokens}
    return render_template("admin/api_tokens.html", form=form, tokens=tokens,
                           scopes=scopes, read_scopes=api_scope.READ_SCOPES,
                           teller_choices=teller_choices,
                           new_token=new_token, action_form=UserActionForm()), status


def _token(token_id: int) -> dict | None:
    """The token, when it acts for the admin's branch (head office: any)."""
    return next((token for token in api_tokens.list_all(get_db(), branch_scope.current())
                 if token["id"] == token_id), None)


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["GET", "POST"])
def revoke_token(token_id: int):
    """GET: the step before 吊销 (a revoked token cannot be brought back). POST from that page
    (confirmed=1): revoke; any other POST only leads to the question."""
    if request.method == "POST":
        UserActionForm().validate_on_submit()
        if not confirmed():
            return redirect(url_for("admin.revoke_token", token_id=token_id), 303)
        if _token(token_id) is not None and \
                api_tokens.revoke(get_db(), ledger_key(), token_id, g.user.id):
            flash("令牌已吊销，使用该令牌的系统将无法再调用接口")
        else:
            flash("令牌不存在或已吊销")
        return redirect(url_for("admin.api_tokens_page"))
    token = _token(token_id)
    if token is None or token["revoked_at"]:
        flash("令牌不存在或已吊销")
        return redirect(url_for("admin.api_tokens_page"))
    return render_template("admin/confirm_revoke.html", token=token,
                           scope=api_scope.Scope.of(token), read_scopes=api_scope.READ_SCOPES,
                           action_form=UserActionForm())


from . import admin_branches  # noqa: E402, F401 - head office's branch pages, on this blueprint
