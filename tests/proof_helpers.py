"""Live-server helpers for the proof tests: a temporary instance, the real `teller-guard serve`
as a subprocess on a free port, and plain-HTTP clients (standard library only)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from teller_guard import api_tokens, audit, create_app, db

# The API's per-token limit (600/min) would turn load into 429s; the outbox sender has nothing
# to send to.
LOAD_CONFIG = "api_rate_limit_per_minute = 100000000\nsend_outbox_in_background = false\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command() -> list[str]:
    """`teller-guard serve`: the installed console script next to this Python, else the same
    click command through the interpreter (identical code path)."""
    script = Path(sys.executable).parent / "teller-guard"
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-c", "from teller_guard.cli import main; main()", "serve"]


def copy_instance(template: Path, destination: Path) -> Path:
    shutil.copytree(template, destination)
    (destination / "config.toml").write_text(LOAD_CONFIG, encoding="utf-8")
    return destination


def create_token(instance: Path) -> str:
    """An API token made through the Python API before the server starts."""
    app = create_app(instance_path=instance)
    database = db.connect(app.config["DATABASE"])
    try:
        _, token = api_tokens.create(database, app.extensions["teller_guard"]["ledger_key"],
                                     "proof", actor_id=None)
    finally:
        database.conn.close()
    return token


def ledger_key(instance: Path) -> bytes:
    secret = (instance / "secret_key").read_text(encoding="ascii").strip()
    return audit.chain_key(secret)


def database_path(instance: Path) -> Path:
    return instance / "teller_guard.db"


class LiveServer:
    """`teller-guard serve --instance … --port …` in a subprocess; its output goes to a log."""

    def __init__(self, instance: Path, threads: int = 8):
        self.instance, self.threads = instance, threads
        self.process: subprocess.Popen | None = None
        self.log_path = instance.parent / "server.log"
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> LiveServer:
        self.port = free_port()
        command = [*serve_command(), "--instance", str(self.instance), "--port", str(self.port),
                   "--threads", str(self.threads)]
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("TELLER_GUARD_")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]
        except FileNotFoundError:
            return ""


def post_json(url: str, body, token: str, timeout: float = 15) -> tuple[int, dict]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, {"raw": raw.decode("utf-8", "replace")}


def gunicorn_command(workers: int, threads: int, port: int) -> list[str]:
    """gunicorn as the README runs it (`teller_guard.wsgi:app`), through this interpreter;
    threaded workers (gthread), as waitress serves its threads."""
    import gunicorn

    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread",
               "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5"]
    if gunicorn.version_info >= (27,):  # its control socket is one path per account
        command.append("--no-control-socket")
    return [*command, "teller_guard.wsgi:app"]


class GunicornServer(LiveServer):
    """`gunicorn -w N … teller_guard.wsgi:app` on an instance folder and a database URL, in a
    session of its own so that the master and its workers can be killed at once."""

    def __init__(self, instance: Path, database_url: str | None, workers: int = 2,
                 threads: int = 8):
        super().__init__(instance, threads)
        self.database_url, self.workers = database_url, workers

    def start(self, timeout: float = 60) -> GunicornServer:
        self.port = free_port()
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("TELLER_GUARD_", "PROMETHEUS_"))}
        env["TELLER_GUARD_INSTANCE"] = str(self.instance)
        if self.database_url:
            env["TELLER_GUARD_DATABASE_URL"] = self.database_url
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                gunicorn_command(self.workers, self.threads, self.port), stdout=log,
                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n"
                                     f"{self.log()}")
            if len(self.worker_pids()) == self.workers and self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gunicorn not ready after {timeout} s:\n{self.log()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/login", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def worker_pids(self) -> list[int]:
        """The master's children (its workers), from /proc."""
        master = self.process.pid
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                found.append(int(entry.name))
        return found

    def kill_worker(self) -> int:
        """kill -9 one worker (the master starts another); returns its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """kill -9 the master and every worker at once: nothing shuts down."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
