"""Configuration: defaults, then the instance TOML file, then TELLER_GUARD_* variables, then a
test dict. Every value is checked when it is read: a wrong type ("15" for 15), a number out of
range, an unknown key in config.toml or a file that is not TOML stops start-up with one message
naming the file (or variable), the key and the problem, instead of a 500 on the first page that
uses it."""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import private_files

DEFAULTS = {
    "DATABASE": None,  # filled in from the instance folder, or DATABASE_URL
    # postgresql://user@host/dbname selects PostgreSQL (bank-wide); unset: the SQLite file.
    "DATABASE_URL": None,
    # The bank's IANA time zone (Asia/Shanghai) for business days and the times people read;
    # stored times are UTC (clock.py). Unset: the server's own zone.
    "TIME_ZONE": None,
    "SESSION_IDLE_MINUTES": 15,
    # How long before the idle logout a dialog offers one key to stay logged in (idle.js).
    "SESSION_IDLE_WARNING_SECONDS": 120,
    # However active, a browser session ends this long after its login (login_sessions.py).
    "SESSION_MAX_HOURS": 12,
    # Failed logins from one address for one name within the window before that pair waits
    # (30 s, doubling up to the maximum); accounts are never locked (login_throttle.py).
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    "LOGIN_BACKOFF_MAX_SECONDS": 300,
    "LOGIN_LOCK_MINUTES": None,  # no longer used (accounts are not locked); older files load
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted for the client
    # address (werkzeug ProxyFix); 0 when browsers connect to waitress directly.
    "TRUSTED_PROXIES": 0,
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
    "ALERT_ALLOW_HTTP": False,  # tests and labs only: the alert holds personal data
    "ALERT_TIMEOUT_SECONDS": 5.0,
    "OUTBOX_INTERVAL_SECONDS": None,  # how often the background sender looks (default 5 s)
    # How the police endpoint knows us (printing_web/outbox.py): a bearer token kept in a file,
    # and/or a client certificate for mutual TLS; ALERT_CA_FILE trusts a bank's internal CA.
    "ALERT_TOKEN_FILE": None,
    "ALERT_CLIENT_CERT": None,
    "ALERT_CLIENT_KEY": None,
    "ALERT_CA_FILE": None,
    "API_RATE_LIMIT_PER_MINUTE": 600,
    # The largest API request body (the biggest real screening is a few kilobytes).
    "API_MAX_CONTENT_LENGTH": 64 * 1024,
    # How long an API POST's Idempotency-Key is remembered (api_idempotency.py).
    "IDEMPOTENCY_KEY_HOURS": 48,
    # /readyz fails while a police alert has waited this long undelivered (outbox).
    "READY_OUTBOX_MAX_AGE_MINUTES": 30,
    # How long /readyz waits for the database's write lock before calling it not writable.
    "READY_DB_TIMEOUT_SECONDS": 2.0,
    # /metrics answers loopback clients, and anyone sending this as a bearer token.
    "METRICS_TOKEN": None,
    # One line per request on the teller_guard.access logger (no personal data).
    "ACCESS_LOG": True,
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
    # other branches (issue 16): a payee paid at this many branches (this one included) within
    # PAYEE_BRANCHES_DAYS; the customer screened at another branch within the days given
    "PAYEE_BRANCHES_MIN": 3,
    "PAYEE_BRANCHES_DAYS": 7,
    "CUSTOMER_OTHER_BRANCH_DAYS": 30,
}

# What a setting whose default is None takes when it is set.
OPTIONAL_TYPES = {
    "DATABASE": str, "DATABASE_URL": str, "TIME_ZONE": str, "SECRET_KEY": str, "FONT_PATH": str, "RULES_OVERRIDE": str,
    "ALERT_ENDPOINT": str, "ALERT_TOKEN_FILE": str, "ALERT_CLIENT_CERT": str,
    "ALERT_CLIENT_KEY": str, "ALERT_CA_FILE": str, "PII_KEY_FILE": str,
    "LOGIN_LOCK_MINUTES": int, "WTF_CSRF_TIME_LIMIT": int, "OUTBOX_INTERVAL_SECONDS": float,
}
# The smallest value each number may take (1 unless listed).
MINIMUM = {"TRUSTED_PROXIES": 0, "LOGIN_LOCK_MINUTES": 0}

ENV_PREFIX = "TELLER_GUARD_"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_LENGTH = 32
CONFIG_FILE = "config.toml"
DATABASE_FILE = "teller_guard.db"
ENVIRONMENT = "环境变量 (environment)"


class ConfigError(Exception):
    """A setting that cannot be used. The message names where it came from (the file, or the
    environment), the key as it was written, and the problem in Chinese and English."""

    def __init__(self, source: str, key: str, problem_zh: str, problem_en: str):
        super().__init__(f"{source}: {key}: {problem_zh} ({problem_en})")


class SecretKeyError(OSError):
    """The instance secret is missing beside existing data, empty, too short or unreadable."""


def default_instance_path() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "INSTANCE") or Path.cwd() / "instance")


def _kind(name: str):
    default = DEFAULTS.get(name)
    return type(default) if default is not None else OPTIONAL_TYPES.get(name)


def check_value(source: str, key: str, value, name: str | None = None):
    """`value` if it suits the setting `name` (default: `key`, any case); raises ConfigError
    naming `source` and `key` otherwise."""
    name = (name or key).upper()
    kind = _kind(name)
    if kind is None or value is None and DEFAULTS.get(name) is None:
        return value  # not ours to check (Flask's own settings), or left unset
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"应为 true 或 false（不加引号），现为 {value!r}",
                              "expected true or false, unquoted")
    elif kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(source, key, f"应为整数（不加引号），现为 {value!r}",
                              "expected an integer, not a quoted string")
        minimum = MINIMUM.get(name, 1)
        if value < minimum:
            raise ConfigError(source, key, f"应至少为 {minimum}，现为 {value}",
                              f"must be at least {minimum}")
    elif kind is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(source, key, f"应为数字（不加引号），现为 {value!r}",
                              "expected a number, not a quoted string")
        if value <= 0:
            raise ConfigError(source, key, f"应大于 0，现为 {value}", "must be greater than 0")
    elif not isinstance(value, str):
        raise ConfigError(source, key, f"应为加引号的文本，现为 {value!r}",
                          "expected a quoted string")
    return value


def _known(name: str) -> bool:
    from flask import Flask

    return (name in DEFAULTS or name in OPTIONAL_TYPES or name in Flask.default_config
            or name.startswith("WTF_"))


def _read_file(config_file: Path) -> dict:
    source = str(config_file)
    try:
        with config_file.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, "TOML", f"文件格式错误：{error}", "not valid TOML") from None
    except UnicodeDecodeError:
        raise ConfigError(source, "TOML", "文件不是 UTF-8 文本", "not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(source, "TOML", f"无法读取：{error.strerror or error}",
                          "cannot be read") from None
    values = {}
    for key, value in document.items():
        if not _known(key.upper()):
            raise ConfigError(source, key, "未知的设置项（拼写是否有误？）",
                              "unknown setting, misspelt?")
        values[key.upper()] = check_value(source, key, value)
    return values


def _coerce(name: str, raw: str):
    """Environment values are strings; give them the type of the setting."""
    kind = _kind(name)
    variable = ENV_PREFIX + name
    if kind is bool:
        text = raw.strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(ENVIRONMENT, variable, f"应为 true 或 false，现为 {raw!r}",
                          "expected true or false")
    if kind in (int, float):
        try:
            value = kind(raw.strip())
        except ValueError:
            words = ("整数", "an integer") if kind is int else ("数字", "a number")
            raise ConfigError(ENVIRONMENT, variable, f"应为{words[0]}，现为 {raw!r}",
                              f"expected {words[1]}") from None
        return check_value(ENVIRONMENT, variable, value, name)
    return raw


def load_secret_key(instance_path: Path, database: Path | None = None) -> str:
    """Read the instance secret, creating it (mode 0600, atomically) on first run.

    Refused with SecretKeyError: a key file that is empty or shorter than 32 characters (a
    disk that filled up during `init` once left an empty one, and every key derived from the
    empty string), and a missing key beside an existing database (a new key would make the
    ledger look tampered with and every stored hash stop matching)."""
    key_file = instance_path / SECRET_KEY_FILE
    try:
        text = key_file.read_text(encoding="ascii")
    except FileNotFoundError:
        database = Path(database) if database else instance_path / DATABASE_FILE
        if database.exists() and database.stat().st_size > 0:
            raise SecretKeyError(
                f"实例密钥文件缺失：{key_file}，而数据库 {database} 已有数据。"
                "请从备份恢复原来的 secret_key（换用新密钥会使审计链校验失败、已保存的哈希全部失配）"
            ) from None
        return private_files.write_new(key_file, secrets.token_hex(32), _valid_key)
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyError(f"无法读取实例密钥文件 {key_file}：{error}") from None
    return _valid_key(key_file, text)


def _valid_key(key_file: Path, text: str) -> str:
    key = text.strip()
    if not key:
        raise SecretKeyError(f"实例密钥文件 {key_file} 为空。请从备份恢复原来的 secret_key；"
                             "全新的实例可删除该空文件后重新运行 teller-guard init")
    if len(key) < MIN_SECRET_LENGTH:
        raise SecretKeyError(f"实例密钥文件 {key_file} 太短（{len(key)} 个字符，"
                             f"至少 {MIN_SECRET_LENGTH} 个）")
    return key


# File settings that may be given relative to the instance folder.
INSTANCE_RELATIVE_FILES = ("ALERT_TOKEN_FILE", "ALERT_CLIENT_CERT", "ALERT_CLIENT_KEY",
                           "ALERT_CA_FILE")


def build_config(instance_path: Path, test_config: dict | None = None) -> dict:
    config = dict(DEFAULTS)
    config_file = instance_path / CONFIG_FILE
    if config_file.exists():
        config.update(_read_file(config_file))
    for name, value in os.environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "INSTANCE":
            key = name[len(ENV_PREFIX):]
            config[key] = _coerce(key, value)
    if test_config:
        config.update({key: check_value("test_config", key, value)
                       for key, value in test_config.items()})
    url = (config.get("DATABASE_URL") or "").strip()
    if url:
        if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ConfigError("DATABASE_URL", "DATABASE_URL", "须以 postgresql:// 开头",
                              "must start with postgresql://")
        config["DATABASE"] = url
    if not config.get("DATABASE"):
        config["DATABASE"] = str(instance_path / DATABASE_FILE)
    zone = (config.get("TIME_ZONE") or "").strip()
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("TIME_ZONE", "TIME_ZONE", f"未知的时区 {zone!r}（应为如 Asia/Shanghai 的时区名）",
                              "unknown time zone, expected an IANA name such as Asia/Shanghai") from None
    config["TIME_ZONE"] = zone or None
    if not config.get("SECRET_KEY"):
        database = None if url else Path(config["DATABASE"])
        config["SECRET_KEY"] = load_secret_key(instance_path, database)
    elif len(config["SECRET_KEY"].strip()) < MIN_SECRET_LENGTH:
        raise ConfigError("SECRET_KEY", "SECRET_KEY", f"太短（至少 {MIN_SECRET_LENGTH} 个字符）",
                          f"shorter than {MIN_SECRET_LENGTH} characters")
    for name in INSTANCE_RELATIVE_FILES:
        value = config.get(name)
        if isinstance(value, str) and value.strip():
            config[name] = str(instance_path / value.strip())  # an absolute path stays as is
    return config
