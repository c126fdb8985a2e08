"""The Flask application factory."""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from . import audit, config, db, errors, pii_key, telemetry
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


def _yuan(fen) -> str:
    """Amount in fen -> ¥50,000.00 for display."""
    if fen is None:
        return ""
    return f"¥{int(fen) / 100:,.2f}"


def create_app(test_config: dict | None = None, instance_path: str | Path | None = None) -> Flask:
    instance = Path(instance_path or config.default_instance_path()).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    root = _asset_root()
    app = Flask(
        __name__, instance_path=str(instance), instance_relative_config=True,
        template_folder=str(root / "templates"), static_folder=str(root / "static"),
    )
    app.config.update(config.build_config(instance, test_config))
    app.session_interface = SessionInterface()
    # API answers as UTF-8 (readable Chinese, half the bytes of \uXXXX), keys in the order the
    # code builds them rather than sorted on every response.
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    secret = app.config["SECRET_KEY"]
    app.extensions["teller_guard"] = {
        "ledger_key": audit.chain_key(secret),
        "pii_key": pii_key.load(app.config, instance, secret),
    }

    db.init_app(app)
    telemetry.init_app(app)  # first: the request's duration covers every other hook
    csrf.init_app(app)
    errors.register(app)
    app.after_request(set_security_headers)
    app.add_template_filter(_dict_without_none, "dict_without_none")
    app.add_template_filter(_yuan, "yuan")

    from . import admin, api, auth, ops, review, screening
    from .watchlist import views as watchlist_views

    app.before_request(auth.load_logged_in_user)
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.register_blueprint(auth.bp)
    app.register_blueprint(screening.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(watchlist_views.bp)
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

        from . import settings

        branch = settings.load(db.get_db()) if g.get("user") else None
        return {"current_user": g.get("user"), "branch": branch}

    return app
