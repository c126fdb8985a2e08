"""Login, logout, the idle timeout, and each role's home page."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from . import audit, users
from .db import get_db, write_transaction
from .forms import ChineseForm
from .web import OPS_PATHS, ledger_key, record

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    "teller": "screening.mine",
    "supervisor": "screening.mine",
    "security": "review.queue",
    "admin": "admin.index",
}


class LoginForm(ChineseForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=256)])


def load_logged_in_user() -> None:
    """Runs before every request: find the user and end idle sessions.

    Not for the JSON API (/api/…): it authenticates by bearer token only, never by the cookie
    session, so reading the cookie (and the users table) there would be wasted work, and an
    API call must not count as activity that keeps a browser session alive."""
    g.user = None
    if request.path.startswith("/api/") or request.path in OPS_PATHS:
        return  # bearer tokens, probes and scrapes: no cookie session
    user_id = session.get("user_id")
    if user_id is None:
        return
    idle_limit = current_app.config["SESSION_IDLE_MINUTES"] * 60
    last_seen = session.get("last_seen", 0)
    if time.time() - last_seen > idle_limit:
        session.clear()
        session["expired"] = True
        return
    user = users.get_user(get_db(), user_id)
    if user is None or not user.active or session.get("role") != user.role:
        session.clear()
        return
    g.user = user
    session["last_seen"] = int(time.time())


@bp.route("/")
def home():
    if g.user is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[g.user.role]))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if session.pop("expired", False):
        error = "长时间未操作，已自动退出，请重新登录"
    if form.validate_on_submit():
        config = current_app.config
        result = users.authenticate(
            get_db(), ledger_key(), form.username.data, form.password.data,
            max_failures=config["LOGIN_MAX_FAILURES"], lock_minutes=config["LOGIN_LOCK_MINUTES"],
        )
        if result.user:
            next_url = session.get("next")
            session.clear()
            session.permanent = False
            session["user_id"] = result.user.id
            session["role"] = result.user.role
            session["last_seen"] = int(time.time())
            if next_url and next_url.startswith("/") and not next_url.startswith("//"):
                return redirect(next_url)
            return redirect(url_for(HOME_BY_ROLE[result.user.role]))
        if result.locked_until:
            local = result.locked_until.astimezone().strftime("%H:%M")
            error = f"登录失败次数过多，账户已锁定，请于 {local} 后再试或联系管理员"
        else:
            error = "用户名或密码错误"
    return render_template("auth/login.html", form=form, error=error), (401 if error and
                                                                        request.method == "POST"
                                                                        else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    if g.user is not None:
        with write_transaction(get_db()):
            record(audit.AuditEvent("logout", g.user.id, data={"username": g.user.username}))
    session.clear()
    flash("已退出登录")
    return redirect(url_for("auth.login"))
