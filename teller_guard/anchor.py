"""Anchors: the chain head written outside the database, so a rollback shows.

The hash chain proves the ledger was not edited, but not that it is the newest one: a copy of
an older database (any backup) is itself a valid chain with a valid head. So the head (last
id, its hash, the time) is appended every day and on demand (`teller-guard anchor`) as one line
to an append-only file in ANCHOR_DIR, a folder that must not be beside the database (another
volume, a WORM share, another machine's mount), and, where ALERT_ENDPOINT is configured, queued
in the outbox and sent there like an alert. Each line carries an HMAC (key derived from the
instance secret), so a forged line is detected, and the HMAC of the line before it, so a line
deleted from the middle is detected. The row anchored is the anchor's own `chain.anchored`
ledger event, which no later activity can write again byte for byte; an anchor the ledger
records but the file lacks is shown as a warning.

Since per-branch chains (issue 16) a line also records every chain's head (`heads`: chain ->
[last id, hash]; format 2), so rolling back one branch's chain shows too. Lines of format 1 (one
chain) anchored what became chain 1.

`verify` checks every anchor: an anchored (id, hash) missing from the ledger or different
there, or a chain's head older than its newest anchor, is a rollback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import audit, clock, storage
from . import db as dbmod
from .printing_web import outbox
from .storage import branches, ledger

try:
    import fcntl
except ImportError:  # Windows: one server process writes anchors
    fcntl = None

log = logging.getLogger(__name__)

CHECK_SECONDS = 600.0  # how often `serve` looks whether today's anchor is written
FORMAT_VERSION = 2  # 1: before per-branch chains, no `heads`


class AnchorConfigError(Exception):
    """ANCHOR_DIR cannot be used (message in Chinese, names the setting and the path)."""


def anchor_dir(config, instance_path) -> Path | None:
    """ANCHOR_DIR resolved (relative paths are relative to the instance folder), or None when
    unset. Refused when it is inside the instance folder or the database's folder: whoever can
    rewrite the database there could rewrite the anchors too."""
    raw = config.get("ANCHOR_DIR")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise AnchorConfigError(f"ANCHOR_DIR 应为文件夹路径（文本），当前为 {raw!r}")
    instance = Path(instance_path).resolve()
    directory = (instance / Path(raw.strip()).expanduser()).resolve()
    database_folder = Path(config.get("DATABASE") or instance).resolve().parent
    for guarded in dict.fromkeys((instance, database_folder)):
        if directory == guarded or guarded in directory.parents:
            raise AnchorConfigError(
                f"ANCHOR_DIR（{directory}）位于实例目录或数据库目录 {guarded} 之内：锚点必须存放在"
                "数据库之外（另一块磁盘、只可追加的共享目录或另一台机器），否则能改数据库的人也能改锚点。"
                "请在 config.toml 或 TELLER_GUARD_ANCHOR_DIR 中改为其他位置。")
    return directory


def anchor_key(ledger_key: bytes) -> bytes:
    return hmac.new(ledger_key, b"teller_guard anchor", hashlib.sha256).digest()


def anchor_file(directory: Path, ledger_key: bytes) -> Path:
    # One folder may hold the anchors of several instances (branches): the file is named by
    # the instance id, which is derived from the secret and reveals nothing.
    return Path(directory) / f"teller_guard-{outbox.instance_id(ledger_key)}.anchors"


@dataclass(frozen=True)
class Anchor:
    seq: int
    at: str
    last_id: int
    last_hash: str
    prev: str
    mac: str
    line_no: int = 0
    heads: dict | None = None  # chain -> (last id, hash) when written; None: a format 1 line

    def fields(self, instance: str) -> dict:
        fields = {"v": FORMAT_VERSION if self.heads is not None else 1, "instance": instance,
                  "seq": self.seq, "at": self.at, "last_id": self.last_id,
                  "last_hash": self.last_hash, "prev": self.prev}
        if self.heads is not None:
            fields["heads"] = {str(chain): [last_id, last_hash]
                               for chain, (last_id, last_hash) in sorted(self.heads.items())}
        return fields

    def anchored(self) -> dict:
        """chain -> (id, hash) this line anchors (a format 1 line: its row, now chain 1's)."""
        if self.heads is not None:
            return self.heads
        return {ledger.LEGACY_CHAIN: (self.last_id, self.last_hash)}


def _heads_of(entry: dict) -> dict | None:
    if "heads" not in entry:
        return None
    return {int(chain): (int(last_id), str(last_hash))
            for chain, (last_id, last_hash) in entry["heads"].items()}


def _mac(key: bytes, fields: dict) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(anchor_key(key), body.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AnchorProblem:
    text: str  # Chinese
    problem: str  # rollback | forged | deleted | unreadable

    def line(self) -> str:
        return f"[锚点] {self.text} ({self.problem})"


def parse(text: bytes, ledger_key: bytes) -> tuple[list[Anchor], list[AnchorProblem]]:
    """The anchors whose HMAC is right, in file order, and what is wrong with the others."""
    instance = outbox.instance_id(ledger_key)
    anchors, problems = [], []
    prev = ""
    for number, raw in enumerate(text.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            anchor = Anchor(int(entry["seq"]), str(entry["at"]), int(entry["last_id"]),
                            str(entry["last_hash"]), str(entry["prev"]), str(entry["mac"]),
                            number, _heads_of(entry))
            genuine = entry.get("instance") == instance and hmac.compare_digest(
                anchor.mac.encode("utf-8", "replace"),
                _mac(ledger_key, anchor.fields(instance)).encode("ascii"))
        except (ValueError, KeyError, TypeError, AttributeError):
            genuine = False
        if not genuine:
            problems.append(AnchorProblem(f"锚点文件第 {number} 行的校验码不符或无法读取："
                                          "该行被伪造或改动", "forged"))
            continue
        if anchor.prev != prev:
            problems.append(AnchorProblem(f"锚点文件第 {number} 行（锚点 #{anchor.seq}）之前的"
                                          "锚点被删除或改动", "deleted"))
        anchors.append(anchor)
        prev = anchor.mac
    return anchors, problems


def _heads(db) -> dict:
    """chain -> (last id, hash) of every chain that has a first event."""
    return {row["chain"]: (row["last_id"], row["last_hash"]) for row in ledger.heads(db)}


def write(database_path, ledger_key: bytes, directory: Path, config=None,
          now: datetime | None = None) -> Anchor:
    """Anchor the chain: append a `chain.anchored` event (and, with ALERT_ENDPOINT configured,
    queue the anchor for sending) in one transaction, then append that event's id and hash to
    the anchor file (fsync'd). Anchoring the event itself, rather than the head before it,
    anchors a row no later activity can write again byte for byte (it holds the anchor's
    number and time). Raises OSError when the file cannot be written; the event then stays,
    and verify says the anchor is missing from the file."""
    config = config or {}
    at = clock.stamp(now)
    path = anchor_file(directory, ledger_key)
    Path(directory).mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:  # serve and `teller-guard anchor` may write at the same moment
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        with open(descriptor, "rb", closefd=False) as handle:
            anchors, _ = parse(handle.read(), ledger_key)
        previous = anchors[-1] if anchors else None
        seq = previous.seq + 1 if previous else 1
        entry = _record(database_path, ledger_key, config, seq, at,
                        previous.mac if previous else "")
        line = json.dumps({**entry.fields(outbox.instance_id(ledger_key)), "mac": entry.mac},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
        os.write(descriptor, line.encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)  # also releases the lock
    if created:
        _fsync_folder(Path(directory))
    return entry


def _record(database_path, ledger_key: bytes, config, seq: int, at: str, prev: str) -> Anchor:
    database = dbmod.connect(database_path)
    try:
        with storage.transaction(database):
            # In the bank's chain; then every chain's head as committed (the bank's is the
            # event just appended).
            last_id = audit.append(database, ledger_key, audit.AuditEvent(
                "chain.anchored", None, data={"seq": seq, "anchored_at": at},
                chain=ledger.BANK_CHAIN))
            heads = _heads(database)
            last_hash = heads[ledger.BANK_CHAIN][1]
            instance = outbox.instance_id(ledger_key)
            unsigned = Anchor(seq, at, last_id, last_hash, prev, "", heads=heads)
            entry = Anchor(seq, at, last_id, last_hash, prev,
                           _mac(ledger_key, unsigned.fields(instance)), heads=heads)
            if config.get("ALERT_ENDPOINT"):
                outbox.queue_row(database, outbox.KIND_CHAIN_ANCHOR, f"{instance}-anchor-{seq}",
                                 {"type": outbox.KIND_CHAIN_ANCHOR, **entry.fields(instance),
                                  "mac": entry.mac})
    finally:
        database.conn.close()
    return entry


def _fsync_folder(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def written_today(directory: Path, ledger_key: bytes, today: str | None = None) -> bool:
    today = today or clock.today().isoformat()
    try:
        text = anchor_file(directory, ledger_key).read_bytes()
    except FileNotFoundError:
        return False
    anchors, _ = parse(text, ledger_key)
    return any(clock.business_day(anchor.at).isoformat() == today for anchor in anchors)


# --- verify ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    count: int = 0
    problems: list[AnchorProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


NOT_ANCHORED = ("账本未锚定：未配置 ANCHOR_DIR。校验无法发现整个数据库被换成旧副本（回滚）；"
                "请把 ANCHOR_DIR 设为数据库以外的文件夹（另一块磁盘或另一台机器）")


def _recorded(db) -> list[tuple[int, int, str, str]]:
    """(seq, id, hash, time) of every chain.anchored event."""
    found = []
    for row in ledger.anchored_events(db):
        try:
            entry = json.loads(row["data"])
            found.append((int(entry["seq"]), row["id"], str(row["hash"]), str(entry["anchored_at"])))
        except (ValueError, KeyError, TypeError):
            continue  # the chain walk reports the row
    return found


def _chain_names(db) -> dict:
    names = {row["id"]: f"网点 {row['code']} " for row in branches.all_branches(db)}
    names[ledger.BANK_CHAIN] = "总行"
    return names


def check(db, ledger_key: bytes, directory: Path | None, chain: int | None = None) -> CheckResult:
    """Every anchor against the ledger (`chain`: only what they anchored of that chain)."""
    if directory is None:
        return CheckResult(warnings=[NOT_ANCHORED])
    path = anchor_file(directory, ledger_key)
    recorded = _recorded(db)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        if recorded:
            return CheckResult(0, [AnchorProblem(
                f"锚点文件 {path} 不存在，但账本记录已写过 {len(recorded)} 个锚点：锚点文件被删除",
                "deleted")])
        return CheckResult(warnings=[f"尚未写入锚点（{path}）：运行 teller-guard anchor，"
                                     "或由 teller-guard serve 每日写入"])
    except OSError as error:
        return CheckResult(0, [AnchorProblem(f"无法读取锚点文件 {path}：{error.strerror or error}",
                                             "unreadable")])
    anchors, problems = parse(text, ledger_key)
    heads = _heads(db)
    names = _chain_names(db)
    newest: dict = {}  # chain -> the anchor with its largest anchored id
    for entry in anchors:
        for number, (last_id, _) in entry.anchored().items():
            if chain is None or number == chain:
                if number not in newest or newest[number].anchored()[number][0] < last_id:
                    newest[number] = entry
    for number, entry in sorted(newest.items()):
        anchored_id = entry.anchored()[number][0]
        head_id = heads.get(number, (0, ""))[0]
        if head_id < anchored_id:
            problems.append(AnchorProblem(
                f"{names.get(number, f'链 {number}')}的账本链头（第 {head_id} 行）早于最新锚点 "
                f"#{entry.seq}（{entry.at}，第 {anchored_id} 行）：数据库被回滚到旧副本",
                "rollback"))
    for entry in anchors:
        for number, (last_id, last_hash) in sorted(entry.anchored().items()):
            if (chain is not None and number != chain) or last_id == 0 \
                    or last_id > heads.get(number, (0, ""))[0]:
                continue  # another chain, an empty one, or reported with the head above
            row = ledger.hash_of(db, last_id)
            if row is None or row["chain"] != number or not audit.same_hash(row["hash"], last_hash):
                where = "不存在" if row is None else "与锚点不同"
                problems.append(AnchorProblem(
                    f"锚点 #{entry.seq}（{entry.at}）记录的{names.get(number, f'链 {number}')}账本"
                    f"第 {last_id} 行在账本中{where}：账本被回滚或替换", "rollback"))
    if chain is not None:
        return CheckResult(len(anchors), problems)
    # An anchor the ledger records but the file lacks hides nothing by itself (the ledger is
    # there), and a failed write of the file leaves one too: a warning, not a failure.
    in_file = {(anchor.seq, anchor.last_id, anchor.last_hash) for anchor in anchors}
    warnings = [f"账本记录的锚点 #{seq}（{at}，账本第 {row_id} 行）不在锚点文件中："
                "当时写入锚点文件失败，或该行已被删除"
                for seq, row_id, row_hash, at in recorded
                if (seq, row_id, row_hash) not in in_file]
    return CheckResult(len(anchors), problems, warnings)


# --- the daily anchor of `serve` -----------------------------------------------------------------


class DailyAnchor:
    """A daemon thread that writes an anchor when today has none: at start, then checked
    every CHECK_SECONDS. Several server processes may run one; the file lock and the check for
    today's line keep it to one line a day (a race may rarely add a second, which is harmless)."""

    def __init__(self, database: str, ledger_key: bytes, directory: Path, config,
                 interval: float = CHECK_SECONDS):
        self.database, self.ledger_key, self.directory = database, ledger_key, directory
        self.config, self.interval = config, interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="teller_guard-anchor", daemon=True)

    def start(self) -> DailyAnchor:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.thread.join(timeout)

    def run_once(self) -> Anchor | None:
        if written_today(self.directory, self.ledger_key):
            return None
        return write(self.database, self.ledger_key, self.directory, self.config)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                written = self.run_once()
                if written is not None:
                    log.info("chain anchored: #%s, ledger row %s", written.seq, written.last_id)
            except Exception as error:  # noqa: BLE001 - serving goes on; the next check retries
                log.error("chain anchor not written (%s: %s); retrying in %.0f s",
                          type(error).__name__, error, self.interval)
            self._stop.wait(self.interval)
