"""The logged-in user's own account: 修改密码, and the forced change of a password somebody
else set (a new account, or one an admin or `teller-guard user reset-password` reset).

While `must_change_password` is set, every page but this one (and 退出) leads here; the JSON
API authenticates by token and never sees it. A change ends every other login session of the
account — the users trigger ends them all when password_hash changes — and this browser goes
on under a new session started in the same transaction (users.change_own_password).
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length, ValidationError

from . import login_throttle, users
from .db import get_db
from .forms import ChineseForm
from .web import guard_area, ledger_key

bp = Blueprint("account", __name__, url_prefix="/account")
guard_area(bp, *users.ROLES)

# What a user who must change their password may still reach.
OPEN_WHILE_FORCED = {"account.password", "auth.logout", "static"}
PURPOSE = "password"  # login_throttle scope: checks of the current password on this page


class PasswordForm(ChineseForm):
    current_password = PasswordField("原密码", render_kw={"autocomplete": "current-password"}, validators=[
        DataRequired("请输入原密码"), Length(max=256)])
    new_password = PasswordField("新密码", render_kw={"autocomplete": "new-password"}, validators=[
        DataRequired("请输入新密码"), Length(max=256, message="新密码最多 256 位")])
    new_password_again = PasswordField("再次输入新密码", render_kw={"autocomplete": "new-password"}, validators=[
        DataRequired("请再次输入新密码"), Length(max=256)])

    def validate_new_password(self, field):
        try:
            users.check_password_rules(field.data)
        except users.UserError as error:
            raise ValidationError(str(error)) from None
        if field.data == self.current_password.data:
            raise ValidationError("新密码不能与原密码相同")

    def validate_new_password_again(self, field):
        if field.data != self.new_password.data:
            raise ValidationError("两次输入的新密码不一致")


def require_password_change():
    """Runs before every request, after the user is loaded: send a user whose password somebody
    else set to 修改密码 first."""
    user = g.get("user")
    if user is None or not user.must_change_password or request.endpoint in OPEN_WHILE_FORCED:
        return None
    return redirect(url_for("account.password"))


WRONG_PASSWORD = "原密码错误"  # noqa: S105 - a message, not a password
THROTTLED = "原密码核对失败次数过多，请稍后再试"


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        database = get_db()
        # The same back-off as the login page, in a scope of its own: a stolen session cannot
        # guess the password faster here than at the login page.
        checked = users.authenticate(
            database, ledger_key(), g.user.username, form.current_password.data,
            address=request.remote_addr or "", purpose=PURPOSE, actor_id=g.user.id,
            limits=login_throttle.Limits.from_config(current_app.config))
        if checked.user is None or checked.user.id != g.user.id:
            form.current_password.errors.append(THROTTLED if checked.throttled else WRONG_PASSWORD)
            status = 429 if checked.throttled else 401
        else:
            session["sid"] = users.change_own_password(database, ledger_key(), g.user,
                                                       form.new_password.data)
            flash("密码已修改，该账户在其他终端的登录已全部退出")
            return redirect(url_for("auth.home"))
    elif form.errors:
        status = 400
    return render_template("account/password.html", form=form, min_length=users.MIN_PASSWORD_LENGTH,
                           forced=g.user.must_change_password), status
