from teller_guard import create_app, db, migrations


def test_instance_toml_then_environment_then_test_dict(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.toml").write_text('session_idle_minutes = 30\nlogin_max_failures = 7\n'
                                      'alert_endpoint = "https://soc.bank.local/alerts"\n')
    monkeypatch.setenv("TELLER_GUARD_LOGIN_MAX_FAILURES", "9")
    monkeypatch.setenv("TELLER_GUARD_SESSION_COOKIE_SECURE", "true")
    app = create_app({"ALERT_ENDPOINT": None}, instance_path=inst)
    assert app.config["SESSION_IDLE_MINUTES"] == 30
    assert app.config["LOGIN_MAX_FAILURES"] == 9
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["ALERT_ENDPOINT"] is None
    assert app.config["DATABASE"] == str(inst.resolve() / "teller_guard.db")


def test_secret_key_is_kept_between_starts(tmp_path):
    first = create_app(instance_path=tmp_path / "inst").config["SECRET_KEY"]
    second = create_app(instance_path=tmp_path / "inst").config["SECRET_KEY"]
    assert first == second and len(first) == 64


def test_migrations_twice_change_nothing(tmp_path):
    path = tmp_path / "t.db"
    assert db.prepare(path)
    database = db.connect(path)
    schema = database.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    database.conn.close()
    assert db.prepare(path) == []
    database = db.connect(path)
    assert database.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    database.conn.close()


def test_durability_settings(tmp_path):
    database = db.connect(tmp_path / "t.db")
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert database.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    database.conn.close()


def test_every_migration_is_named_in_order():
    names = [migration.name for migration in migrations.migrations._migrations]
    assert names == sorted(names)


def test_the_ledger_has_only_the_indexes_its_readers_use(tmp_path):
    # verify reads by id, timelines and the session check by session_id, the access log by a
    # partial index of its rare kinds (m010); a (kind, at) index only added pages to every
    # screening's commit (dropped by m009); verify --branch reads one chain by (chain, id)
    # (0014).
    path = tmp_path / "t.db"
    db.prepare(path)
    database = db.connect(path)
    names = [row[1] for row in database.execute("PRAGMA index_list(ledger)")]
    database.conn.close()
    assert sorted(names) == ["idx_ledger_chain_id", "idx_ledger_session_id",
                             "ledger_access_events"]
