"""The Flask application factory."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from . import audit, clock, config, db, errors, labels, pii_key, private_files, telemetry
from .security import set_security_headers
from .web import OPS_PATHS

csrf = CSRFProtect()


def _asset_root() -> Path:
    """templates/ and static/ live at the repository top level (editable install), or under
    <prefix>/share/teller_guard after a regular install."""
    source_tree = Path(__file__).resolve().parent.parent
    if (source_tree / "templates").is_dir():
        return source_tree
    return Path(sys.prefix) / "share" / "teller_guard"


class SessionInterface(SecureCookieSessionInterface):
    """The cookie session, except on the JSON API (/api/…), which authenticates by bearer
    token only: there every request gets a fresh empty session, so the cookie is neither
    verified nor sent back (nothing on the API reads or writes the session)."""

    def open_session(self, app, request):
        if request.path.startswith("/api/") or request.path in OPS_PATHS:
            return self.session_class()
        return super().open_session(app, request)


SQLITE_MAX_INTEGER = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """`<int:…>` on every route: ASCII digits that fit an SQLite INTEGER, else no route (404).

    Werkzeug's own takes any run of digits of any script; past 4,300 digits int() raised while
    the URL was being matched, and a number past 2**63 - 1 failed when bound: both were 500s.
    """

    regex = r"[0-9]{1,19}"

    def __init__(self, url_map, **options):
        super().__init__(url_map, max=SQLITE_MAX_INTEGER, **options)


def _dict_without_none(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}


def _local_time(epoch) -> str:
    """Seconds since the epoch -> 2026-11-30 14:05:09 in the bank's time zone."""
    if epoch is None:
        return ""
    return clock.local(datetime.fromtimestamp(int(epoch), UTC)).strftime("%Y-%m-%d %H:%M:%S")


def _override_rules(override):
    """The rules with the branch override, loaded at start: a broken override used to start
    the server and then fail every screening. None without an override (the packaged rules)."""
    if not override:
        return None
    from .risk import load_rules
    from .risk.rules import RuleFileError

    try:
        return load_rules(override_path=override)
    except (RuleFileError, OSError, ValueError) as error:
        raise config.ConfigError(str(override), "RULES_OVERRIDE", "分行规则文件无法加载",
                                 str(error)) from None


def create_app(test_config: dict | None = None, instance_path: str | Path | None = None) -> Flask:
    # Everything this process creates from now on (database, -wal/-shm, backups, key files)
    # is readable by the service account only; the instance folder is 0700 (private_files.py).
    private_files.restrict_umask()
    instance = Path(instance_path or config.default_instance_path()).resolve()
    private_files.make_folder(instance)
    root = _asset_root()
    app = Flask(
        __name__, instance_path=str(instance), instance_relative_config=True,
        template_folder=str(root / "templates"), static_folder=str(root / "static"),
    )
    app.config.update(config.build_config(instance, test_config))
    clock.use_zone(app.config["TIME_ZONE"])  # one zone per process: its stored times are UTC
    if app.config["TRUSTED_PROXIES"]:
        # The login back-off counts per client address: behind the bank's HTTPS terminator
        # that address comes from X-Forwarded-For, trusted for this many proxies only.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    app.session_interface = SessionInterface()
    # API answers as UTF-8 (readable Chinese, half the bytes of \uXXXX), keys in the order the
    # code builds them rather than sorted on every response.
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    secret = app.config["SECRET_KEY"]
    app.extensions["teller_guard"] = {
        "ledger_key": audit.chain_key(secret),
        "pii_key": pii_key.load(app.config, instance, secret),
        "rules": _override_rules(app.config.get("RULES_OVERRIDE")),
    }

    db.init_app(app)
    telemetry.init_app(app)  # first: the request's duration covers every other hook
    csrf.init_app(app)
    errors.register(app)
    app.after_request(set_security_headers)
    app.add_template_filter(_dict_without_none, "dict_without_none")
    app.add_template_filter(labels.yuan, "yuan")
    app.add_template_filter(_local_time, "local_time")
    app.add_template_global(labels, "labels")  # the glossary: one name per code everywhere

    from . import account, admin, api, auth, head_office, ops, review, screening, supervision
    from .watchlist import radar_views
    from .watchlist import views as watchlist_views

    app.before_request(auth.load_logged_in_user)
    app.before_request(account.require_password_change)  # after the user is known
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(supervision.bp)
    app.register_blueprint(screening.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(head_office.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(watchlist_views.bp)
    app.register_blueprint(radar_views.bp)
    app.register_blueprint(ops.bp)
    csrf.exempt(api.bp)  # bearer-token clients, no cookies
    csrf.exempt(ops.bp)  # load balancers and Prometheus, no cookies

    # PDFs: register the Chinese font once per process (the admin banner reports a
    # non-embedded fallback), serve slips and alerts, deliver queued alerts in the background.
    from . import printing
    from .printing_web import outbox as printing_outbox
    from .printing_web import views as printing_views

    printing.setup_font(app.config["FONT_PATH"])
    app.register_blueprint(printing_views.bp)
    printing_outbox.start_background_sender(app)

    @app.template_global()
    def has_endpoint(name: str) -> bool:
        """Lets the menu show an area only once its blueprint exists."""
        return name in app.view_functions

    @app.context_processor
    def inject_globals():
        from flask import g

        from .screening.context import branch as branch_settings
        from .supervision import menu_count

        branch = branch_settings() if g.get("user") else None
        return {"current_user": g.get("user"), "branch": branch, "awaiting_count": menu_count()}

    return app
