"""Login, logout, the idle timeout, and each role's home page."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import ValidationError, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from . import audit, login_sessions, login_throttle, storage, users
from .db import DATABASE_ERRORS, get_db
from .forms import ChineseForm
from .web import OPS_PATHS, ledger_key, record

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    "teller": "screening.mine",
    "supervisor": "screening.mine",
    "security": "review.queue",
    "admin": "admin.index",
    "ho_security": "head_office.queue",  # head office's own pages (its admin's: admin.index)
    "ho_admin": "admin.index",
}


class LoginForm(ChineseForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=256)])


def load_logged_in_user() -> None:
    """Runs before every request: find the user and end idle, old and revoked sessions.

    Not for the JSON API (/api/…): it authenticates by bearer token only, never by the cookie
    session, so reading the cookie (and the users table) there would be wasted work, and an
    API call must not count as activity that keeps a browser session alive."""
    g.user = None
    if request.path.startswith("/api/") or request.path in OPS_PATHS:
        return  # bearer tokens, probes and scrapes: no cookie session
    user_id = session.get("user_id")
    if user_id is None:
        return
    now = time.time()
    idle_limit = current_app.config["SESSION_IDLE_MINUTES"] * 60
    if now - session.get("last_seen", 0) > idle_limit:
        user = _valid_user(user_id, now)[0] if request.method == "POST" else None
        g.kept_next = _keep_typed_form(user) if user is not None else None
        _end_on_server("idle", now)
        return _session_ended("idle_kept" if g.kept_next else "idle", user_id)
    user, why = _valid_user(user_id, now)
    if user is None:
        if why == "max_age":
            _end_on_server(why, now)
        return _session_ended(why)
    g.user = user
    session["last_seen"] = int(now)


def _valid_user(user_id: int, now: float) -> tuple[users.User | None, str]:
    """The cookie's user if its login session is still open on the server, else why not."""
    token = session.get("sid")
    found = login_sessions.find(get_db(), token) if isinstance(token, str) else None
    if found is None or found.ended or found.user["id"] != user_id:
        return None, "revoked"  # logged out, or the account changed: see m012
    if now - found.started_at > current_app.config["SESSION_MAX_HOURS"] * 3600:
        return None, "max_age"  # polling cannot keep a session alive past this
    user = users.User.from_row(found.user)
    if not user.active or session.get("role") != user.role:
        return None, "revoked"
    return user, ""


def _end_on_server(why: str, now: float) -> None:
    """The login session ends on the server too, not only in this browser's cookie, so the
    server's record of it says it ended and why."""
    token = session.get("sid")
    if not isinstance(token, str):
        return
    try:
        database = get_db()
        with storage.transaction(database):
            login_sessions.end(database, token, why, now)
    except DATABASE_ERRORS:  # a full disk, say: the cookie still ends, and the login page shows
        current_app.logger.warning("login session not ended on the server (%s)", why)


def _keep_typed_form(user: users.User) -> str | None:
    """A form posted just after the idle limit (the customer took long to talk out of a scam)
    is not thrown away: a screening step keeps it as the teller's draft (screening/draft_views)
    and names its page, to open after the next login. Only for a login still valid but for the
    idle limit, and a form with that login's CSRF token; nothing is shown before the login."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return None
    for keeper in current_app.extensions["teller_guard"].get("idle_keepers", ()):
        kept = keeper(user)
        if kept:
            return kept
    return None


THROTTLED = "登录尝试过于频繁，请稍后再试"
ENDED_MESSAGES = {
    "idle": "长时间未操作，已自动退出，请重新登录",
    "idle_kept": "长时间未操作，已自动退出。刚才填写的内容已保存，重新登录后回到原页面继续",
    "max_age": "登录已超过 {hours} 小时，已自动退出，请重新登录",
    "revoked": "登录已失效（已退出，或账户的密码、角色、状态已变更），请重新登录",
}


def _session_ended(why: str, user_id: int | None = None) -> None:
    session.clear()
    session["ended"] = why
    if user_id is not None:  # the page to return to is only for the same user (login)
        session["ended_user"] = user_id


def safe_next(target: str | None) -> str | None:
    """`target` if it is a relative path to a page of this app, else None.

    Starting with one slash is not enough: browsers read a backslash as a slash and drop tabs
    and newlines inside a URL, so "/\\evil.example" and "/\t/evil.example" lead to another
    site. Only a path that this app's routes match is kept."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return None
    if "\\" in target or any(ord(char) <= 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("//"):
        return None
    try:
        current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:  # no such page, or a redirect to somewhere else
        return None
    return target


@bp.route("/")
def home():
    if g.user is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[g.user.role]))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    ended = session.pop("ended", None)
    if ended in ENDED_MESSAGES:
        error = ENDED_MESSAGES[ended].format(hours=current_app.config["SESSION_MAX_HOURS"])
    if form.validate_on_submit():
        result = users.authenticate(
            get_db(), ledger_key(), form.username.data, form.password.data,
            address=request.remote_addr or "",
            limits=login_throttle.Limits.from_config(current_app.config))
        if result.user:
            next_url = session.get("next")
            if session.get("ended_user") not in (None, result.user.id):
                next_url = None  # another teller at this terminal: their own home page
            database = get_db()
            with storage.transaction(database):
                token = login_sessions.start(database, result.user.id)
            session.clear()
            session.permanent = False
            session["sid"] = token
            session["user_id"] = result.user.id
            session["role"] = result.user.role
            session["last_seen"] = int(time.time())
            if result.user.must_change_password:  # the page says why
                return redirect(url_for("account.password"))
            if safe_next(next_url):
                session["resuming"] = urlsplit(next_url).path  # screening/views._new_draft
                return redirect(next_url)
            return redirect(url_for(HOME_BY_ROLE[result.user.role]))
        # The same words whatever the account: unknown, disabled or wrong password.
        error = THROTTLED if result.throttled else "用户名或密码错误"
    status = 200
    if error and request.method == "POST":
        status = 429 if error == THROTTLED else 401
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/session/keepalive", methods=["POST"])
def keepalive():
    """The idle warning's 继续工作 (static/js/idle.js): this request itself is the activity
    that restarts the idle limit (load_logged_in_user)."""
    if g.user is None:
        return jsonify(error="登录已失效，请重新登录"), 401
    return jsonify(idle_seconds=int(current_app.config["SESSION_IDLE_MINUTES"] * 60))


@bp.route("/logout", methods=["POST"])
def logout():
    if g.user is not None:
        database = get_db()
        with storage.transaction(database):
            login_sessions.end(database, session["sid"], "logout")
            record(audit.AuditEvent("logout", g.user.id, data={"username": g.user.username}))
    session.clear()
    flash("已退出登录")
    return redirect(url_for("auth.login"))
