from datetime import date, datetime, timedelta

from teller_guard import audit, db, demo, pii, users
from teller_guard.cli import seed_demo
from teller_guard.review import integrity_records


def test_demo_accounts_and_sessions(tmp_path):
    from teller_guard import create_app

    app = create_app({"TESTING": True}, instance_path=tmp_path / "inst")
    db.prepare(app.config["DATABASE"])
    first = seed_demo(app, days=6)
    database = db.connect(app.config["DATABASE"])

    # Three branches in two provinces; branch 1 is 沙河支行, as before.
    branches = {row[0]: row[1:] for row in database.execute(
        "SELECT id, code, name, province, city FROM branches ORDER BY id")}
    assert branches == {1: ("0001", "沙河支行", "河北省", "邢台市"),
                        2: ("0002", "桥东支行", "河北省", "邢台市"),
                        3: ("0003", "历下支行", "山东省", "济南市")}
    # Every branch role at every branch, head office's two roles with no branch; the README's
    # teller1 … admin1 are branch 1's.
    roles = {(row[0], row[1]) for row in database.execute("SELECT branch_id, role FROM users")}
    assert roles == {(branch, role) for branch in branches for role in demo.BRANCH_ROLES} | {
        (None, "ho_security"), (None, "ho_admin")}
    assert [users.find_user(database, name)["branch_id"] for name in (
        "teller1", "supervisor1", "security1", "admin1", "qd_teller1", "lx_admin1")] == [
        1, 1, 1, 1, 2, 3]
    # The printed list names each account's branch.
    assert ("沙河支行", "柜员", "teller1") == first[0][:3]
    assert ("历下支行", "管理员", "lx_admin1") in [account[:3] for account in first]
    assert [account[:3] for account in first[-2:]] == [("总行", "总行反诈", "ho_security1"),
                                                     ("总行", "总行管理员", "ho_admin1")]

    sessions = database["sessions"].count
    per_branch = dict(database.execute(
        "SELECT branch_id, count(*) FROM sessions GROUP BY branch_id").fetchall())
    assert set(per_branch) == {1, 2, 3} and per_branch[1] > 30 and min(per_branch.values()) > 10
    levels = {row[0] for row in database.execute("SELECT DISTINCT level FROM sessions")}
    assert {"low", "critical"} <= levels
    assert database.execute("SELECT count(*) FROM sessions WHERE in_queue = 1").fetchone()[0]

    # The mule: paid at all three branches within three days, the latest yesterday.
    payee = pii.keyed_hash(app.extensions["teller_guard"]["pii_key"], demo.MULE_ACCOUNT)
    paid = database.execute("SELECT branch_id, started_at, status FROM sessions "
                            "WHERE payee_hash = ? ORDER BY started_at", [payee]).fetchall()
    assert [row[0] for row in paid] == [1, 2, 3] and {row[2] for row in paid} == {"finished"}
    days = [datetime.fromisoformat(row[1]).date() for row in paid]
    assert days[-1] == date.today() - timedelta(days=1) and days[-1] - days[0] <= timedelta(3)

    second = seed_demo(app, days=6)
    assert database["sessions"].count == sessions  # seeded once
    assert database.execute("SELECT count(*) FROM branches").fetchone()[0] == 3
    assert [account[2] for account in second] == [account[2] for account in first]
    assert all(old[3] != new[3] for old, new in zip(first, second, strict=True))  # fresh
    key = app.extensions["teller_guard"]["ledger_key"]
    count, problems = audit.verify_chain(database, key)
    assert count > sessions and problems == []
    assert integrity_records.check(database, key, database["ledger"].count).problems == []
    database.conn.close()


def test_demo_passwords_log_in(tmp_path):
    """The printed passwords are the stored ones (hashed side by side before the writes)."""
    from teller_guard import create_app

    app = create_app({"TESTING": True}, instance_path=tmp_path / "inst")
    db.prepare(app.config["DATABASE"])
    database = db.connect(app.config["DATABASE"])
    key = app.extensions["teller_guard"]["ledger_key"]
    try:
        for _ in range(2):  # created, then reset at the next start
            accounts = seed_demo(app, days=1)
            for where, _, username, password in (accounts[0], accounts[-1]):
                assert users.authenticate(database, key, username, password).user, where
    finally:
        database.conn.close()


def test_a_single_branch_demo_instance_gains_the_new_branches_screenings(tmp_path):
    """An instance `serve --demo` seeded before issue 16 (branch 1, its four accounts and its
    screenings) gets the two new branches' screenings and the mule at its next start."""
    from teller_guard import create_app, settings
    from teller_guard.screening.service import Keys

    app = create_app({"TESTING": True}, instance_path=tmp_path / "inst")
    db.prepare(app.config["DATABASE"])
    database = db.connect(app.config["DATABASE"])
    extension = app.extensions["teller_guard"]
    key = extension["ledger_key"]
    try:
        settings.save(database, key, settings.DEMO_SETTINGS)
        teller = users.create_user(database, key, "teller1", "Teller-pass-1", "teller", "王柜员",
                                   "T001", must_change=False)
        supervisor = users.create_user(database, key, "supervisor1", "Super-pass-1",
                                       "supervisor", "李主管", "S001", must_change=False)
        old = demo.seed_sessions(database, Keys(key, extension["pii_key"]),
                                 settings.load(database), [teller], supervisor, days=2)
        seed_demo(app, days=2)
        per_branch = dict(database.execute(
            "SELECT branch_id, count(*) FROM sessions GROUP BY branch_id").fetchall())
        assert per_branch[1] == old + 1 and per_branch[2] > 1 and per_branch[3] > 1  # + the mule
        payee = pii.keyed_hash(extension["pii_key"], demo.MULE_ACCOUNT)
        assert database.execute("SELECT count(DISTINCT branch_id) FROM sessions "
                                "WHERE payee_hash = ?", [payee]).fetchone()[0] == 3
    finally:
        database.conn.close()
