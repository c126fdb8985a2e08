"""The key personal data is hashed with: per instance by default, bank-wide from a key file so
head office can merge branches' exports, and never changed under stored hashes."""

import pytest
from conftest import TEST_CONFIG

from teller_guard import create_app, db, pii, pii_key, users
from teller_guard.cli import main
from teller_guard.watchlist import csv_import, signals, store

ACCOUNT = "6228480402564890018"
BANK_KEY = "head-office-key-" + "k" * 40


def make_app(path, **config):
    app = create_app({**TEST_CONFIG, **config}, instance_path=path)
    db.prepare(app.config["DATABASE"])
    return app


def keys_of(app):
    return app.extensions["teller_guard"]["pii_key"], app.extensions["teller_guard"]["ledger_key"]


def test_by_default_each_instance_has_its_own_key(tmp_path):
    first, second = make_app(tmp_path / "a"), make_app(tmp_path / "b")
    secret = (tmp_path / "a" / "secret_key").read_text().strip()
    assert keys_of(first)[0] == pii.pii_key(secret)
    assert keys_of(first)[0] != keys_of(second)[0]


def test_a_shared_key_file_lets_one_branch_import_anothers_export(tmp_path):
    """Branch A's high-risk payee reaches branch B's watchlist by hash only: B then stops a
    transfer to the same account, without either file holding the account number."""
    (tmp_path / "bank.key").write_text(BANK_KEY + "\n")
    branch_a = make_app(tmp_path / "a", PII_KEY_FILE=str(tmp_path / "bank.key"))
    branch_b = make_app(tmp_path / "b", PII_KEY_FILE="../bank.key")  # relative to the instance
    key_a, ledger_a = keys_of(branch_a)
    key_b, ledger_b = keys_of(branch_b)
    assert key_a == key_b and ledger_a != ledger_b  # only the hashing key is shared

    database_a = db.connect(branch_a.config["DATABASE"])
    teller_id = users.create_user(database_a, ledger_a, "teller", "teller-pass-1", "teller", staff_no="T01")
    database_a["sessions"].insert({
        "reference": "TG1", "teller_id": teller_id, "status": "finished", "level": "critical",
        "started_at": "2026-03-20T10:00:00+08:00", "payee_hash": pii.keyed_hash(key_a, ACCOUNT),
        "payee_masked": pii.mask_account(ACCOUNT)})
    exported = store.export_high_risk_payees(database_a, ledger_a, key_a, actor_id=None)
    database_a.conn.close()
    assert ACCOUNT.encode() not in exported

    database_b = db.connect(branch_b.config["DATABASE"])
    try:
        report = csv_import.import_file(database_b, pii_key=key_b, ledger_key=ledger_b,
                                        data=exported, actor_id=None)
        assert report.imported and report.added == 1
        assert signals.is_watchlisted(database_b, pii.keyed_hash(key_b, ACCOUNT))
    finally:
        database_b.conn.close()


@pytest.mark.parametrize(("content", "message"), [
    (None, "无法读取个人信息哈希密钥文件"),
    ("short", "太短"),
    (b"\xff\xfe\x00bad", "不是文本"),
])
def test_key_file_problems_are_named(tmp_path, content, message):
    path = tmp_path / "bank.key"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(OSError, match=message):
        create_app({**TEST_CONFIG, "PII_KEY_FILE": str(path)}, instance_path=tmp_path / "inst")


def test_changing_the_key_under_stored_hashes_is_refused(runner, tmp_path):
    instance = tmp_path / "inst"
    assert runner.invoke(main, ["init", "--instance", str(instance)]).exit_code == 0
    (tmp_path / "bank.key").write_text(BANK_KEY)
    (instance / "config.toml").write_text(f"pii_key_file = '{tmp_path / 'bank.key'}'\n")
    changed = runner.invoke(main, ["init", "--instance", str(instance)])
    assert changed.exit_code == 1
    assert "个人信息哈希密钥已更换" in changed.output
    (instance / "config.toml").write_text("")
    assert runner.invoke(main, ["init", "--instance", str(instance)]).exit_code == 0


def test_the_first_check_records_the_key(tmp_path):
    app = make_app(tmp_path / "inst")
    database = db.connect(app.config["DATABASE"])
    try:
        key = keys_of(app)[0]
        pii_key.check_unchanged(database, key)
        pii_key.check_unchanged(database, key)  # the same key again: fine
        assert database.execute("SELECT value FROM instance_facts").fetchall() == [
            (pii_key.fingerprint(key),)]
        with pytest.raises(pii_key.PiiKeyMismatch):
            pii_key.check_unchanged(database, pii.pii_key(BANK_KEY))
    finally:
        database.conn.close()


def upgraded_instance_with_a_screening(runner, tmp_path):
    """An instance whose sessions were hashed before m008 recorded the key (no fingerprint)."""
    from teller_guard.screening import inputs, service
    from teller_guard.settings import DEMO_SETTINGS

    instance = tmp_path / "inst"
    assert runner.invoke(main, ["init", "--instance", str(instance)]).exit_code == 0
    app = create_app(TEST_CONFIG, instance_path=instance)
    pii_hash_key, ledger_key = keys_of(app)
    database = db.connect(app.config["DATABASE"])
    teller_id = users.create_user(database, ledger_key, "teller", "teller-pass-1", "teller", staff_no="T01")
    facts = inputs.parse_facts({"amount": "3000", "payee_account": ACCOUNT, "payee_known": "new",
                                "customer_age": "40"}, service.now_local().date()).value
    service.start(database, service.Keys(ledger_key, pii_hash_key), teller_id, facts,
                  DEMO_SETTINGS)
    database.execute("DELETE FROM instance_facts")  # as before m008
    database.conn.close()
    return instance


def test_a_key_changed_with_the_upgrade_is_caught_by_the_vault(runner, tmp_path):
    instance = upgraded_instance_with_a_screening(runner, tmp_path)
    (tmp_path / "bank.key").write_text(BANK_KEY)
    (instance / "config.toml").write_text(f"pii_key_file = '{tmp_path / 'bank.key'}'\n")
    changed = runner.invoke(main, ["init", "--instance", str(instance)])
    assert changed.exit_code == 1
    assert "与已保存的收款账户哈希不一致" in changed.output and "Traceback" not in changed.output
    (instance / "config.toml").write_text("")  # the key the hashes were made with
    assert runner.invoke(main, ["init", "--instance", str(instance)]).exit_code == 0
    app = create_app(TEST_CONFIG, instance_path=instance)
    database = db.connect(app.config["DATABASE"])
    try:
        assert database.execute("SELECT value FROM instance_facts").fetchall() == [
            (pii_key.fingerprint(keys_of(app)[0]),)]
    finally:
        database.conn.close()
