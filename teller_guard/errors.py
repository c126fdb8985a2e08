"""Error pages in Chinese (HTML) or JSON (API); never a stack trace."""

from __future__ import annotations

import sqlite3

from flask import jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from . import disk_full
from .db import DatabaseUnavailable
from .storage import postgres
from .web import wants_json

MESSAGES = {
    400: ("请求无效", "提交的内容无法处理。请返回上一页重新操作。"),
    401: ("需要登录", "请先登录。"),
    403: ("无权访问", "您的角色无权查看此页面。如需办理，请联系主管或管理员。"),
    404: ("页面不存在", "找不到您要的页面，请检查地址或返回首页。"),
    405: ("操作不允许", "此页面不支持该操作。"),
    409: ("当前状态不允许此操作", "该记录当前的状态不允许此操作，请刷新页面查看最新状态。"),
    413: ("内容过大", "提交的内容过大。"),
    429: ("请求过于频繁", "请稍后再试。"),
    500: ("系统错误", "系统出现错误，已记录。您填写的内容已保存的部分不会丢失，请稍后重试或联系管理员。"),
    503: ("服务暂不可用", "数据库暂不可用，请稍后重试或联系管理员。"),
}


def render_error(code: int, detail: str | None = None, headers=None, title: str | None = None):
    default_title, message = MESSAGES.get(code, MESSAGES[500])
    title = title or default_title
    if wants_json():
        response = jsonify({"error": {"code": code, "message": detail or message}})
    else:
        response = make_response(render_template("error.html", code=code, title=title,
                                                 message=detail or message))
    response.status_code = code
    # The exception's own headers: Allow on a 405, WWW-Authenticate on a 401.
    for name, value in headers or ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "页面已过期或来源无法验证（CSRF 校验失败），内容未保存。请刷新页面后重新提交。")

    @app.errorhandler(HTTPException)
    def http_error(error):
        # abort(409, "中文说明") carries its own message; werkzeug's English defaults do not.
        custom = error.description if error.description != type(error).description else None
        return render_error(error.code or 500, custom, error.get_headers())

    @app.errorhandler(DatabaseUnavailable)
    def database_error(error):
        app.logger.error("database unavailable: %s", error)
        return render_error(503)

    @app.errorhandler(postgres.psycopg.OperationalError)
    def database_server_error(error):
        # PostgreSQL restarting, failing over or out of disk: nothing was saved by this request
        # (its transaction rolled back), so the teller may resubmit the same page.
        if disk_full.is_disk_full(error):
            return storage_error(error)
        app.logger.error("database server unavailable: %s", error)
        response = render_error(503)
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(sqlite3.OperationalError)
    @app.errorhandler(OSError)
    def storage_error(error):
        if not disk_full.is_disk_full(error):
            return unexpected_error(error)
        disk_full.throttle.note(app.logger, f"{request.method} {request.path}")
        response = render_error(503, disk_full.MESSAGE, title="磁盘空间不足")
        response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error):
        app.logger.exception("unhandled error")
        return render_error(500)
