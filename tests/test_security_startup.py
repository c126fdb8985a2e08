"""Safe failure at start-up (issue 13, items 6-9 and 13): private files, an atomically written
and checked secret key, the whole configuration and the rules checked before anything runs, a
read-only database refused, and a damaged page reported by verify."""

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from teller_guard import config, create_app, db
from teller_guard.cli import main

ROOT = Path(__file__).resolve().parent.parent


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def copy(template_instance, tmp_path) -> Path:
    instance = tmp_path / "instance"
    shutil.copytree(template_instance, instance)
    return instance


def usual_umask():
    os.umask(0o022)  # what a login shell gives: files 0644, folders 0755 unless the app acts


def cli(*args, env=None, timeout=120):
    """The real command in a child process started with the usual umask (its own exit code
    and stderr)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", "from teller_guard.cli import main; main()",
                           *args], capture_output=True, text=True, env=environment,
                          timeout=timeout, preexec_fn=usual_umask)


# --- item 6: files only the service account can read --------------------------------------------


def test_init_and_serving_create_private_files(tmp_path):
    instance = tmp_path / "inst"
    result = cli("init", "--instance", str(instance))
    assert result.returncode == 0, result.stderr
    assert mode(instance) == 0o700
    database = instance / "teller_guard.db"
    # A second process writes through the WAL, which SQLite creates then.
    result = cli("user", "add", "zhang", "--role", "teller", "--staff-no", "T01", "--instance", str(instance))
    assert result.returncode == 0, result.stderr
    for path in (database, instance / "secret_key"):
        assert mode(path) == 0o600, path
    holder = sqlite3.connect(database)  # keep -wal and -shm in place to look at them
    try:
        holder.execute("SELECT count(*) FROM users").fetchone()
        for suffix in ("-wal", "-shm"):
            path = Path(f"{database}{suffix}")
            if path.exists():
                assert mode(path) == 0o600, path
    finally:
        holder.close()


def test_backup_is_private(tmp_path):
    instance = tmp_path / "inst"
    assert cli("init", "--instance", str(instance)).returncode == 0
    result = cli("backup", str(tmp_path / "copy.db"), "--instance", str(instance))
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "copy.db") == 0o600


def test_an_upgraded_instance_is_made_private(tmp_path):
    instance = tmp_path / "inst"
    assert cli("init", "--instance", str(instance)).returncode == 0
    database = instance / "teller_guard.db"
    os.chmod(instance, 0o755)  # noqa: S103 - the old, too open mode under test
    os.chmod(database, 0o644)
    assert cli("user", "add", "li", "--role", "teller", "--staff-no", "T02", "--instance",
               str(instance)).returncode == 0
    assert mode(instance) == 0o700 and mode(database) == 0o600


def test_the_process_umask_keeps_new_files_private(tmp_path):
    create_app({"TESTING": True, "SEND_OUTBOX_IN_BACKGROUND": False},
               instance_path=tmp_path / "inst")
    current = os.umask(0o077)
    os.umask(current)
    assert current == 0o077


# --- item 7: the secret key ---------------------------------------------------------------------


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every write fails, as on a full disk
from teller_guard import config
config.load_secret_key(Path(sys.argv[1]), Path(sys.argv[1]) / "teller_guard.db")
"""


def test_a_full_disk_leaves_no_empty_key_behind(tmp_path):
    instance = tmp_path / "inst"
    instance.mkdir()
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(instance)],
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode != 0
    assert not (instance / "secret_key").exists()
    assert [path.name for path in instance.iterdir()] == []  # no temporary file either
    key = config.load_secret_key(instance, instance / "teller_guard.db")
    assert len(key) == 64 and (instance / "secret_key").read_text() == key


@pytest.mark.parametrize(("content", "problem"), [("", "为空"), ("   \n", "为空"),
                                                  ("short-key", "太短")])
def test_an_empty_or_short_key_is_refused(tmp_path, content, problem):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "secret_key").write_text(content)
    with pytest.raises(config.SecretKeyError, match=problem):
        create_app(instance_path=instance)
    result = cli("verify", "--instance", str(instance))
    assert result.returncode == 1
    assert "secret_key" in result.stderr and problem in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_key_beside_existing_data_is_refused_not_replaced(tmp_path):
    instance = tmp_path / "inst"
    assert cli("init", "--instance", str(instance)).returncode == 0
    (instance / "secret_key").unlink()
    result = cli("verify", "--instance", str(instance))
    assert result.returncode == 1
    assert "缺失" in result.stderr and "secret_key" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (instance / "secret_key").exists()


# --- item 8: the configuration and the rules, checked at start ----------------------------------


def write_config(instance: Path, text: str) -> Path:
    path = instance / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "key", "words"), [
    ('session_idle_minutes = "15"\n', "session_idle_minutes", "整数"),
    ('login_max_failures = "5"\n', "login_max_failures", "整数"),
    ("session_idle_minutes = 0\n", "session_idle_minutes", "至少为 1"),
    ('session_cookie_secure = "true"\n', "session_cookie_secure", "true 或 false"),
    ("alert_timeout_seconds = \"5\"\n", "alert_timeout_seconds", "数字"),
    ("sesion_idle_minutes = 10\n", "sesion_idle_minutes", "未知的设置项"),
    ("session_idle_minutes = \n", "config.toml", "TOML"),
])
def test_a_bad_setting_stops_every_command_naming_file_and_key(template_instance, tmp_path,
                                                               text, key, words):
    instance = copy(template_instance, tmp_path)
    path = write_config(instance, text)
    with pytest.raises(config.ConfigError):
        create_app(instance_path=instance)
    for command in (["verify"], ["user", "disable", "teller"], ["redact"]):
        result = cli(*command, "--instance", str(instance))
        assert result.returncode == 2, (command, result.stderr)
        assert str(path) in result.stderr and key in result.stderr and words in result.stderr
        assert "Traceback" not in result.stderr


def test_serve_stops_before_serving_on_a_bad_setting(template_instance, tmp_path, runner,
                                                      monkeypatch):
    import waitress

    served = []
    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: served.append(args))
    instance = copy(template_instance, tmp_path)
    write_config(instance, 'session_idle_minutes = "15"\n')
    result = runner.invoke(main, ["serve", "--instance", str(instance)])
    assert result.exit_code == 2 and served == []
    assert "session_idle_minutes" in result.output


def test_a_bad_environment_variable_is_named(template_instance, tmp_path):
    instance = copy(template_instance, tmp_path)
    result = cli("verify", "--instance", str(instance),
                 env={"TELLER_GUARD_SESSION_IDLE_MINUTES": "fifteen"})
    assert result.returncode == 2
    assert "TELLER_GUARD_SESSION_IDLE_MINUTES" in result.stderr and "整数" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("override", "problem"), [
    ("[[rules]\nid = 1\n", "invalid TOML"),
    ('[[rules]]\nid = "purpose_safe_account"\nweight = "heavy"\n', "weight"),
    (None, "not found"),
])
def test_a_broken_rules_override_stops_start_up(template_instance, tmp_path, override, problem):
    instance = copy(template_instance, tmp_path)
    rules = tmp_path / "branch-rules.toml"
    if override is not None:
        rules.write_text(override, encoding="utf-8")
    write_config(instance, f'rules_override = "{rules}"\n')
    with pytest.raises(config.ConfigError, match="RULES_OVERRIDE"):
        create_app(instance_path=instance)
    result = cli("verify", "--instance", str(instance))
    assert result.returncode == 2
    assert "rules_override" in result.stderr.lower() and problem in result.stderr
    assert rules.name in result.stderr and "Traceback" not in result.stderr


def test_a_good_override_is_loaded_once_at_start(template_instance, tmp_path):
    instance = copy(template_instance, tmp_path)
    rules = tmp_path / "branch-rules.toml"
    rules.write_text("", encoding="utf-8")
    write_config(instance, f'rules_override = "{rules}"\n')
    app = create_app(instance_path=instance)
    assert app.extensions["teller_guard"]["rules"] is not None


def test_settings_of_the_right_type_still_load(template_instance, tmp_path):
    instance = copy(template_instance, tmp_path)
    write_config(instance, "session_idle_minutes = 30\nsession_cookie_secure = true\n"
                           "alert_timeout_seconds = 3\nlogin_lock_minutes = 15\n")
    app = create_app(instance_path=instance)
    assert app.config["SESSION_IDLE_MINUTES"] == 30
    assert app.config["ALERT_TIMEOUT_SECONDS"] == 3


# --- item 9: a read-only database ---------------------------------------------------------------


def without_root_powers() -> list[str]:
    """Root writes to read-only files anyway; drop that power the way a service account lacks
    it (or run as is when the tests do not run as root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only for root")
    return [setpriv, "--bounding-set=-dac_override,-fowner"]


def test_a_read_only_database_stops_serve_at_once(template_instance, tmp_path):
    instance = copy(template_instance, tmp_path)
    database = instance / "teller_guard.db"
    os.chmod(database, 0o444)
    command = [*without_root_powers(), sys.executable, "-c",
               "from teller_guard.cli import main; main()", "serve", "--instance", str(instance),
               "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("serve started on a read-only database")
    assert process.returncode == 1
    assert "只读" in stderr and str(database) in stderr and "Traceback" not in stderr


def test_check_database_refuses_a_read_only_file(template_instance, tmp_path):
    instance = copy(template_instance, tmp_path)
    database = instance / "teller_guard.db"
    os.chmod(database, 0o444)
    code = ("import sys; from teller_guard import db\n"
            "try:\n    db.check_database(sys.argv[1])\n"
            "except db.DatabaseUnavailable as error:\n    print(error); sys.exit(3)\n")
    result = subprocess.run([*without_root_powers(), sys.executable, "-c", code, str(database)],
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "只读" in result.stdout


# --- item 13: verify on a damaged page ----------------------------------------------------------


@pytest.mark.parametrize("table", ["sessions", "ledger"])
def test_verify_reports_a_damaged_page(template_instance, tmp_path, runner, table):
    from printing_web_helpers import make_session

    instance = copy(template_instance, tmp_path)
    app = create_app({"SEND_OUTBOX_IN_BACKGROUND": False}, instance_path=instance)
    database = db.connect(app.config["DATABASE"])
    for _ in range(3):
        make_session(app, database, "critical")
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = database.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            [table]).fetchone()[0]
    size = database.execute("PRAGMA page_size").fetchone()[0]
    database.conn.close()
    with open(app.config["DATABASE"], "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xff" * size)
    result = runner.invoke(main, ["verify", "--instance", str(instance)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "损坏" in result.output and app.config["DATABASE"] in result.output
    assert "--pages" in result.output


def test_a_server_with_another_instance_secret_refuses_to_start(app, runner):
    # A new host given an empty instance folder makes a new secret: its events would be chained
    # with another key. The PII key is kept (PII_KEY_FILE) so only the chain key differs.
    from teller_guard.cli import main

    instance = Path(app.instance_path)
    old_secret = (instance / "secret_key").read_text()
    (instance / "pii_secret").write_text(old_secret)
    (instance / "config.toml").write_text('pii_key_file = "pii_secret"\n')
    (instance / "secret_key").write_text("f" * 64)
    result = runner.invoke(main, ["user", "add", "newteller", "--role", "teller", "--staff-no", "T03",
                                  "--password", "newteller-pass-1", "--instance", str(instance)])
    assert result.exit_code == 1
    assert "实例密钥" in result.output and "审计链不一致" in result.output
    (instance / "secret_key").write_text(old_secret)
    result = runner.invoke(main, ["user", "add", "newteller", "--role", "teller", "--staff-no", "T03",
                                  "--password", "newteller-pass-1", "--instance", str(instance)])
    assert result.exit_code == 0, result.output
