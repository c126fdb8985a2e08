"""The police alert outbox: rows written with the print, delivered by a sender.

A police alert is queued (an ``outbox`` row plus an ``alert.queued`` ledger event) in the same
transaction as its first ``print.alert`` event, so an alert is never printed without being
queued, nor queued without being printed. ``deliver_due`` POSTs each due row as JSON with an
``Idempotency-Key`` header; a row is claimed (its next attempt pushed past the timeout) before
the request, so two senders (the server's background thread and ``teller-guard send-alerts``)
never post the same row at the same time. A success marks the row sent with an ``alert.sent``
event; a failure schedules the next attempt with exponential backoff, and after
``MAX_ATTEMPTS`` attempts the row is ``failed`` until someone presses 重新发送 on the status
page. The receiver sees the same key for every attempt of one alert, so a retry after a lost
response is recognised as a duplicate there.

Nothing here writes personal data to logs or to ``last_error``: errors are reduced to the HTTP
status or the kind of network failure.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from .. import audit, clock, disk_full, labels, storage
from .. import db as dbmod
from ..storage import printing as print_store

log = logging.getLogger(__name__)

KIND_POLICE_ALERT = "police_alert"
KIND_CHAIN_ANCHOR = "chain_anchor"  # the ledger head, sent off the machine (anchor.py)
MAX_ATTEMPTS = 10  # then status "failed" (still retryable from the status page)
BASE_DELAY_SECONDS = 30  # 30 s, 1 min, 2 min, 4 min ... doubling per failed attempt
MAX_DELAY_SECONDS = 3600
LEASE_EXTRA_SECONDS = 60  # a claimed row is due again this long after the timeout
WAKE_SECONDS = 5.0  # the background sender looks for due rows this often
BATCH = 50
MAX_ERROR_CHARS = 120
STATUS_LABELS = labels.OUTBOX_STATUSES


class EndpointError(ValueError):
    """ALERT_ENDPOINT is not usable (message in Chinese)."""


# --- time and keys ---------------------------------------------------------------------------


def as_utc(moment: datetime | None) -> datetime:
    return clock.as_utc(moment) if moment is not None else clock.now()


stamp = clock.stamp  # outbox times, like all stored times, are UTC text that compares as text


def instance_id(ledger_key: bytes) -> str:
    """A stable, non-secret id of this installation (derived from its secret)."""
    return hashlib.sha256(b"teller_guard instance id\n" + ledger_key).hexdigest()[:12]


def alert_idempotency_key(instance: str, reference: str) -> str:
    return f"{instance}-{reference}-alert-1"


def backoff_seconds(attempts: int) -> int:
    """Delay after the `attempts`-th failed attempt of a round: 30 s × 2^(attempts-1), ≤ 1 h."""
    exponent = max(0, min(attempts - 1, 20))
    return min(BASE_DELAY_SECONDS * 2 ** exponent, MAX_DELAY_SECONDS)


def check_endpoint(endpoint: str | None, allow_http: bool = False) -> str:
    """The endpoint if usable; https is required unless ALERT_ALLOW_HTTP (tests, labs)."""
    if not endpoint or not str(endpoint).strip():
        raise EndpointError("未配置警情外发地址（ALERT_ENDPOINT）")
    endpoint = str(endpoint).strip()
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EndpointError("警情外发地址（ALERT_ENDPOINT）无效，应为 https:// 开头的完整网址")
    if parts.scheme == "http" and not allow_http:
        raise EndpointError("警情外发地址必须使用 https://（含客户个人信息）；"
                            "仅测试环境可设置 ALERT_ALLOW_HTTP = true")
    return endpoint


# --- writes with the print --------------------------------------------------------------------


def queue_alert(db, key: bytes, session_id: int, actor_id: int | None, idempotency_key: str,
                payload: dict, now: datetime | None = None) -> int | None:
    """Queue a police alert. Call inside the transaction that appends the print.alert event.

    Returns the outbox row id, or None when the key is already queued (nothing is written).
    """
    outbox_id = queue_row(db, KIND_POLICE_ALERT, idempotency_key, payload, session_id, now)
    if outbox_id is None:
        return None
    audit.append(db, key, audit.AuditEvent(
        "alert.queued", actor_id, session_id,
        {"outbox_id": outbox_id, "idempotency_key": idempotency_key}))
    return outbox_id


def queue_row(db, kind: str, idempotency_key: str, payload: dict, session_id: int | None = None,
              now: datetime | None = None) -> int | None:
    """Queue any payload for ALERT_ENDPOINT (a police alert, a chain anchor); returns the row
    id, or None when the key is already queued. Call inside a write transaction."""
    return print_store.queue(db, kind, idempotency_key,
                        json.dumps(payload, ensure_ascii=False, sort_keys=True), session_id,
                        stamp(as_utc(now)))


# --- sending -----------------------------------------------------------------------------------


class DeliveryError(Exception):
    """One failed attempt; the message is short, Chinese and free of personal data."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 302 with a GET and no body: a "success" that delivered nothing.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(ssl_context: ssl.SSLContext | None):
    handlers = [_NoRedirects()]
    if ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
    return urllib.request.build_opener(*handlers)


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or "timed out" in str(error)


def post_alert(endpoint: str, body: bytes, idempotency_key: str, timeout: float,
               ssl_context: ssl.SSLContext | None = None,
               headers: dict[str, str] | None = None) -> int:
    """POST one alert; returns the 2xx status or raises DeliveryError."""
    # check_endpoint allowed only https (or http when configured): no file: or custom schemes.
    request = urllib.request.Request(endpoint, data=body, method="POST", headers={  # noqa: S310
        **(headers or {}),
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        "User-Agent": "teller_guard-outbox/1",
    })
    try:
        with _opener(ssl_context).open(request, timeout=timeout) as response:
            response.read(65536)
            status = response.status
    except urllib.error.HTTPError as error:
        error.close()
        raise DeliveryError(f"对方返回 HTTP {error.code}") from None
    except urllib.error.URLError as error:
        if _is_timeout(error.reason):
            raise DeliveryError(f"超时（{timeout:g} 秒内无响应）") from None
        if isinstance(error.reason, ssl.SSLError):
            raise DeliveryError(f"TLS 证书或握手失败：{type(error.reason).__name__}") from None
        reason = getattr(error.reason, "strerror", None) or type(error.reason).__name__
        raise DeliveryError(f"无法连接：{reason}") from None
    except TimeoutError:
        raise DeliveryError(f"超时（{timeout:g} 秒内无响应）") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise DeliveryError(f"连接中断：{type(error).__name__}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"对方返回 HTTP {status}")
    return status


def _claim(db, row_id: int, now: datetime, timeout: float) -> bool:
    lease = now + timedelta(seconds=timeout + LEASE_EXTRA_SECONDS)
    with storage.transaction(db):
        return print_store.claim(db, row_id, stamp(now), stamp(lease))


def _record_sent(db, key: bytes, row: dict, status: int, now: datetime) -> None:
    attempts = row["attempts"] + 1
    with storage.transaction(db):
        print_store.mark_sent(db, row["id"], stamp(now), attempts)
        audit.append(db, key, audit.AuditEvent(
            "anchor.sent" if row["kind"] == KIND_CHAIN_ANCHOR else "alert.sent", None,
            row["session_id"],
            {"outbox_id": row["id"], "idempotency_key": row["idempotency_key"],
             "attempts": attempts, "http_status": status}))


def _record_failure(db, row: dict, error: str, now: datetime, max_attempts: int) -> str:
    attempts = row["attempts"] + 1
    in_round = (attempts - 1) % max_attempts + 1  # a manual retry starts a new round
    if in_round >= max_attempts:
        status, next_at = "failed", None
    else:
        status, next_at = "pending", stamp(now + timedelta(seconds=backoff_seconds(in_round)))
    with storage.transaction(db):
        print_store.mark_attempt_failed(db, row["id"], status, attempts, next_at,
                                   error[:MAX_ERROR_CHARS])
    return status


def deliver_due(db, key: bytes, endpoint: str, timeout: float, now: datetime | None = None, *,
                allow_http: bool = False, limit: int = BATCH, max_attempts: int = MAX_ATTEMPTS,
                ssl_context: ssl.SSLContext | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, int]:
    """One pass over the due rows; returns (sent, failed attempts).

    `now` (default: the clock) decides what is due and when the next attempt is; tests pass
    it to check the schedule. Raises EndpointError when the endpoint is unusable.
    """
    endpoint = check_endpoint(endpoint, allow_http)
    sent = failed = 0
    for row in print_store.due(db, stamp(as_utc(now)), limit):
        moment = as_utc(now)
        if not _claim(db, row["id"], moment, timeout):
            continue  # another sender took it
        try:
            status = post_alert(endpoint, row["payload"].encode("utf-8"), row["idempotency_key"],
                                timeout, ssl_context, headers)
        except DeliveryError as error:
            failed += 1
            outcome = _record_failure(db, row, str(error), as_utc(now), max_attempts)
            log.warning("police alert outbox row %s: attempt %s failed (%s), now %s",
                        row["id"], row["attempts"] + 1, error, outcome)
            continue
        _record_sent(db, key, row, status, as_utc(now))
        sent += 1
        log.info("police alert outbox row %s delivered (attempt %s)", row["id"],
                 row["attempts"] + 1)
    return sent, failed


# --- status page -------------------------------------------------------------------------------


def counts(db, branch_ids: tuple[int, ...] | None = None) -> dict[str, int]:
    """Rows per status, of these branches' alerts (None: every row)."""
    found = print_store.status_counts(db, branch_ids)
    return {status: found.get(status, 0) for status in STATUS_LABELS}


def rows(db, limit: int = 200, branch_ids: tuple[int, ...] | None = None) -> list[dict]:
    """Failed first, then pending, then the newest sent, of these branches' alerts (None:
    every row, the ledger anchors included); no personal data (reference and the masked payee
    account only)."""
    return print_store.status_rows(db, KIND_CHAIN_ANCHOR, "账本锚点", limit, branch_ids)


def retry_failed(db, row_id: int | None = None, now: datetime | None = None,
                 branch_ids: tuple[int, ...] | None = None) -> int:
    """Make failed rows (or one failed row) of these branches due now; returns how many."""
    with storage.transaction(db):
        return print_store.retry_failed(db, stamp(as_utc(now)), row_id, branch_ids)


# --- configuration and the background sender -------------------------------------------------


_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")  # one header-safe word: no spaces, no line breaks


@dataclass(frozen=True)
class Credentials:
    """How this branch proves itself to the police endpoint, and whom it trusts."""

    headers: dict[str, str] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None


def _no_password() -> bytes:
    # An encrypted client key would make OpenSSL ask on the terminal: a server would hang.
    return b""


def credentials_for(config) -> Credentials:
    """From ALERT_TOKEN_FILE (sent as Authorization: Bearer), ALERT_CLIENT_CERT and
    ALERT_CLIENT_KEY (mutual TLS) and ALERT_CA_FILE (an internal CA), read on every pass so a
    rotated token or certificate is used without a restart. Raises EndpointError, in Chinese,
    naming the setting and never the secret."""
    headers = {}
    token_file = config.get("ALERT_TOKEN_FILE")
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError) as error:
            raise EndpointError(f"无法读取警情接口令牌文件（ALERT_TOKEN_FILE）{token_file}："
                                f"{type(error).__name__}") from None
        if not _TOKEN.fullmatch(token):
            raise EndpointError("警情接口令牌文件（ALERT_TOKEN_FILE）应只有一行令牌，"
                                "由可见的英文字母、数字和符号组成")
        headers["Authorization"] = f"Bearer {token}"
    cafile, certfile, keyfile = (config.get("ALERT_CA_FILE"), config.get("ALERT_CLIENT_CERT"),
                                 config.get("ALERT_CLIENT_KEY"))
    if keyfile and not certfile:
        raise EndpointError("设置了客户端私钥（ALERT_CLIENT_KEY）但没有客户端证书（ALERT_CLIENT_CERT）")
    if not (cafile or certfile):
        return Credentials(headers)
    try:
        context = ssl.create_default_context(cafile=cafile or None)
        if certfile:
            context.load_cert_chain(certfile, keyfile or None, password=_no_password)
    except (OSError, ssl.SSLError) as error:
        raise EndpointError("无法加载警情外发的 TLS 证书或私钥（ALERT_CA_FILE / ALERT_CLIENT_CERT / "
                            f"ALERT_CLIENT_KEY）：{type(error).__name__}") from None
    return Credentials(headers, context)


def check_config(config) -> str:
    """The endpoint, once it and the credentials are usable; raises EndpointError."""
    endpoint = check_endpoint(config.get("ALERT_ENDPOINT"), bool(config.get("ALERT_ALLOW_HTTP", False)))
    credentials_for(config)
    return endpoint


def deliver_with_config(db, key: bytes, config, now: datetime | None = None) -> tuple[int, int]:
    credentials = credentials_for(config)
    return deliver_due(db, key, config.get("ALERT_ENDPOINT"),
                       float(config.get("ALERT_TIMEOUT_SECONDS") or 5.0), now,
                       allow_http=bool(config.get("ALERT_ALLOW_HTTP", False)),
                       ssl_context=credentials.ssl_context, headers=credentials.headers)


class BackgroundSender:
    """A daemon thread that delivers due alerts every few seconds (or when woken)."""

    def __init__(self, database: str, key: bytes, config, interval: float = WAKE_SECONDS):
        self.database = database
        self.key = key
        self.config = config
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connection = None
        self.thread = threading.Thread(target=self._run, name="teller_guard-outbox", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once()
            except EndpointError as error:  # a setting or credential file to fix: no traceback
                log.error("police alert sender: %s", error)
            except Exception as error:  # noqa: BLE001 - the sender must survive anything
                if disk_full.is_disk_full(error):  # one line a minute, not a traceback a pass
                    disk_full.throttle.note(log, "police alert sender")
                else:
                    log.exception("police alert sender: pass failed; will try again")
                self._close()
        self._close()

    def run_once(self) -> tuple[int, int]:
        if self._connection is None:
            self._connection = dbmod.connect(self.database)
        return deliver_with_config(self._connection, self.key, self.config)

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.conn.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken connection
                pass
            self._connection = None


_senders: dict[str, BackgroundSender] = {}
_senders_lock = threading.Lock()


def _cli_command() -> str | None:
    """The teller-guard subcommand running in this process, if any."""
    try:
        import click
    except ImportError:  # pragma: no cover
        return None
    context = click.get_current_context(silent=True)
    return context.info_name if context is not None else None


def start_background_sender(app) -> BackgroundSender | None:
    """Start the sender for this app's database once per process, when ALERT_ENDPOINT is set
    and SEND_OUTBOX_IN_BACKGROUND is true. CLI commands other than `serve` never start it
    (`teller-guard send-alerts` does one pass itself)."""
    config = app.config
    if not config.get("ALERT_ENDPOINT") or not config.get("SEND_OUTBOX_IN_BACKGROUND"):
        return None
    command = _cli_command()
    if command is not None and command != "serve":
        return None
    try:
        check_config(config)
    except EndpointError as error:
        log.error("police alert sender not started: %s", error)
        return None
    path = os.path.realpath(config["DATABASE"])
    with _senders_lock:
        sender = _senders.get(path)
        if sender is None or not sender.thread.is_alive():
            sender = BackgroundSender(
                config["DATABASE"], app.extensions["teller_guard"]["ledger_key"], config,
                float(config.get("OUTBOX_INTERVAL_SECONDS") or WAKE_SECONDS))
            sender.start()
            _senders[path] = sender
    app.extensions["teller_guard"]["outbox_sender"] = sender
    return sender


def sender_for(app) -> BackgroundSender | None:
    sender = app.extensions.get("teller_guard", {}).get("outbox_sender")
    return sender if sender is not None and sender.thread.is_alive() else None


def stop_background_sender(app) -> None:
    """Stop this app's sender (tests)."""
    sender = app.extensions.get("teller_guard", {}).pop("outbox_sender", None)
    if sender is None:
        return
    sender.stop()
    with _senders_lock:
        for path, running in list(_senders.items()):
            if running is sender:
                del _senders[path]
