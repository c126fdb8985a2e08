from teller_guard import audit, db
from teller_guard.cli import seed_demo


def test_demo_accounts_and_sessions(tmp_path):
    from teller_guard import create_app

    app = create_app({"TESTING": True}, instance_path=tmp_path / "inst")
    db.prepare(app.config["DATABASE"])
    first = seed_demo(app, days=6)
    assert [role for role, _, _ in first] == ["柜员", "主管", "安保", "管理员"]
    database = db.connect(app.config["DATABASE"])
    sessions = database["sessions"].count
    levels = {row[0] for row in database.execute("SELECT DISTINCT level FROM sessions")}
    assert sessions > 30 and {"low", "critical"} <= levels
    assert database.execute("SELECT count(*) FROM sessions WHERE in_queue = 1").fetchone()[0]
    second = seed_demo(app, days=6)
    assert database["sessions"].count == sessions  # seeded once
    assert first[0][2] != second[0][2]  # fresh passwords each start
    count, problems = audit.verify_chain(database, app.extensions["teller_guard"]["ledger_key"])
    assert count > sessions and problems == []
    database.conn.close()
