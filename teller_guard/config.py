"""Configuration: defaults, then the instance TOML file, then TELLER_GUARD_* variables, then a test dict."""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path

DEFAULTS = {
    "DATABASE": None,  # filled in from the instance folder
    "SESSION_IDLE_MINUTES": 15,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "teller_guard_session",
    "WTF_CSRF_TIME_LIMIT": None,
    # wtforms' own Chinese messages (forms.ChineseForm) instead of Flask-Babel
    "WTF_I18N_ENABLED": False,  # the idle timeout already ends stale sessions
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "FONT_PATH": None,
    "RULES_OVERRIDE": None,
    "ALERT_ENDPOINT": None,
    "ALERT_TIMEOUT_SECONDS": 5.0,
    # How the police endpoint knows us (printing_web/outbox.py): a bearer token kept in a file,
    # and/or a client certificate for mutual TLS; ALERT_CA_FILE trusts a bank's internal CA.
    "ALERT_TOKEN_FILE": None,
    "ALERT_CLIENT_CERT": None,
    "ALERT_CLIENT_KEY": None,
    "ALERT_CA_FILE": None,
    "API_RATE_LIMIT_PER_MINUTE": 600,
    "PII_RETENTION_DAYS": 365,
    # A bank-wide key file for hashing account numbers, so branches' hashes match (pii_key.py);
    # unset: derived from the instance secret.
    "PII_KEY_FILE": None,
    "SEND_OUTBOX_IN_BACKGROUND": True,
    # A folder outside the instance (another volume or machine) for the chain anchors
    # (anchor.py); unset: verify warns that a rollback to an older copy cannot be found.
    "ANCHOR_DIR": None,
    # cross-session signals (watchlist/signals.py)
    "PAYEE_REPEAT_MIN_CUSTOMERS": 2,
    "PAYEE_REPEAT_DAYS": 30,
    "CUSTOMER_REPEAT_MIN": 2,
    "CUSTOMER_REPEAT_DAYS": 30,
}

ENV_PREFIX = "TELLER_GUARD_"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
CONFIG_FILE = "config.toml"
DATABASE_FILE = "teller_guard.db"


def default_instance_path() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "INSTANCE") or Path.cwd() / "instance")


def _coerce(raw: str, default):
    """Environment values are strings; give them the type of the default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load_secret_key(instance_path: Path) -> str:
    """Read the instance secret, creating it (mode 0600) on first run."""
    key_file = instance_path / SECRET_KEY_FILE
    if key_file.exists():
        return key_file.read_text(encoding="ascii").strip()
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key


# File settings that may be given relative to the instance folder.
INSTANCE_RELATIVE_FILES = ("ALERT_TOKEN_FILE", "ALERT_CLIENT_CERT", "ALERT_CLIENT_KEY",
                           "ALERT_CA_FILE")


def build_config(instance_path: Path, test_config: dict | None = None) -> dict:
    config = dict(DEFAULTS)
    config_file = instance_path / CONFIG_FILE
    if config_file.exists():
        with config_file.open("rb") as handle:
            config.update({key.upper(): value for key, value in tomllib.load(handle).items()})
    for name, value in os.environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "INSTANCE":
            key = name[len(ENV_PREFIX):]
            config[key] = _coerce(value, DEFAULTS.get(key, ""))
    if test_config:
        config.update(test_config)
    if not config.get("DATABASE"):
        config["DATABASE"] = str(instance_path / DATABASE_FILE)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = load_secret_key(instance_path)
    for name in INSTANCE_RELATIVE_FILES:
        value = config.get(name)
        if isinstance(value, str) and value.strip():
            config[name] = str(instance_path / value.strip())  # an absolute path stays as is
    return config
