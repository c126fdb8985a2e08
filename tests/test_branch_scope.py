"""Branch scoping (issue 16 item 2) in the storage queries, on both backends: every list,
count, statistic and export query answers a branch with its own rows and head office with
all; API tokens act for one branch, which verify checks against the ledger."""

from __future__ import annotations

import pytest
from branch_helpers import PASSWORD, make_branches
from printing_web_helpers import user_id

from teller_guard import api_scope, api_tokens, branch_scope, users
from teller_guard.review import filters
from teller_guard.review import stats as review_stats
from teller_guard.storage import api as api_store
from teller_guard.storage import api_flow, review, sessions, watchlist
from teller_guard.storage import printing as print_store
from teller_guard.storage.branches import condition

pytestmark = pytest.mark.both_backends


@pytest.fixture
def branches(app, database):
    return make_branches(app, database)


def account(database, username):
    return users.get_user(database, user_id(database, username))


def test_branch_ids_of_each_kind_of_account():
    def user(role, branch_id):
        return users.User(1, "x", "", role, "", True, branch_id=branch_id)

    assert branch_scope.branch_ids(user("teller", 3)) == (3,)
    assert branch_scope.branch_ids(user("security", 2)) == (2,)
    assert branch_scope.branch_ids(user("ho_security", None)) is None
    assert branch_scope.branch_ids(user("admin", None)) == ()  # a branch role without a branch
    assert branch_scope.branch_ids(None) == ()
    assert condition(None) == ("1 = 1", [])
    assert condition(()) == ("1 = 0", [])
    assert condition((2,), "s.branch_id") == ("s.branch_id = ?", [2])
    assert condition((2, 5)) == ("branch_id IN (?, ?)", [2, 5])


def test_the_review_queries_answer_a_branch_with_its_own_sessions(app, database, branches):
    second = set(branches.second.values())
    everything = second | set(branches.first.values())
    chosen = filters.Filters()
    for username, expected in (("security_b2", second), ("supervisor_b2", second),
                               ("ho_security_1", everything), ("security", everything - second)):
        user = account(database, username)
        queued = {row["id"] for row in review.queue_page(database, user, chosen).rows}
        assert queued and queued <= expected, username
        assert review.queue_count(database, user, chosen) == len(queued)
        assert sum(review.status_counts(database, user, chosen).values()) == len(queued)
        assert {row["id"] for row in review.iter_queue(database, user, chosen)} == queued
        for session_id in everything:
            assert (review.case(database, user, session_id) is not None) == \
                (session_id in expected), (username, session_id)
        following = review.next_open(database, user, chosen, 0)
        assert following is None or following["id"] in expected
    teller = account(database, "teller_b2")
    assert {row["id"] for row in review.queue_page(database, teller, chosen).rows} <= second


def test_a_branchs_statistics_are_its_sessions_and_head_offices_the_daily_tables(
        app, database, branches):
    first = review_stats.compute(database, None, None, (1,))
    second = review_stats.compute(database, None, None, (2,))
    bank = review_stats.compute(database, None, None)
    assert (first.total, second.total, bank.total) == (3, 3, 6)  # discarded ones count nowhere
    assert first.queued + second.queued == bank.queued
    assert {teller for teller, _, _ in second.tellers} == {user_id(database, "teller_b2")}
    assert review_stats.compute_from_sessions(database, None, None).total == bank.total


def test_the_access_log_outbox_and_supervisor_lists_of_a_branch(app, database, branches):
    first, second = branches.first, branches.second
    logged = {row["session_id"] for row in review.access_events(database, branch_ids=(2,))}
    assert logged == {second["finished"]}
    assert {row["session_id"] for row in review.access_events(database)} >= {
        first["finished"], second["finished"]}
    shown = {row["reference"] for row in print_store.status_rows(database, "anchor", "锚点",
                                                                 50, (2,))}
    assert shown == {branches.references[second["finished"]]}
    assert print_store.status_counts(database, (2,)) == {"pending": 1}
    assert print_store.status_counts(database) == {"pending": 2}
    database.execute("UPDATE outbox SET status = 'failed'")
    assert print_store.failed_count(database, (2,)) == 1
    assert print_store.retry_failed(database, "2026-12-01T00:00:00+00:00", None, (2,)) == 1
    assert print_store.failed_count(database) == 1  # branch 1's is still failed
    supervisor = user_id(database, "supervisor_b2")
    waiting = {row["id"] for row in sessions.awaiting_supervisor(database, supervisor, 50, (2,))}
    assert waiting == {second["awaiting"]}
    assert sessions.awaiting_supervisor_count(database, supervisor, (2,)) == 1
    assert sessions.awaiting_supervisor_count(database, supervisor) == 2
    own = sessions.search_own(database, user_id(database, "teller_b2"), branch_ids=(1,))
    assert own == []  # a teller's screenings of another branch (moved teller) are not listed


def test_the_api_listing_and_high_risk_payees_of_a_branch(app, database, branches):
    listed = {row["id"] for row in api_flow.screenings_page(database, limit=50,
                                                             branch_ids=(2,))}
    assert listed == set(branches.second.values())
    payees = watchlist.high_risk_payees(database, (2,))
    assert [row["sessions"] for row in payees] == [2]  # branch 2's two 极高 screenings
    assert [row["sessions"] for row in watchlist.high_risk_payees(database)] == [4]


def test_people_lists_of_a_branch(app, database, branches):
    tellers = {row["id"] for row in review.tellers(database, (2,))}
    assert tellers == {user_id(database, "teller_b2"), user_id(database, "supervisor_b2")}
    reviewers = {row["id"] for row in review.reviewers(database, 2)}
    assert reviewers == {user_id(database, name) for name in (
        "security_b2", "admin_b2", "ho_security_1", "ho_admin_1")}
    names = review.user_names(database, (2,))
    assert user_id(database, "teller") not in names and user_id(database, "ho_admin_1") in names


def test_a_case_is_not_assigned_to_another_branchs_reviewer(app, database, branches):
    from teller_guard.review import dispositions
    from teller_guard.review.state import TransitionError

    key = app.extensions["teller_guard"]["ledger_key"]
    actor = account(database, "ho_security_1")  # head office disposes of any branch's case
    case = branches.second["finished"]
    with pytest.raises(TransitionError, match="复核人不存在"):
        dispositions.assign(database, key, actor, case, user_id(database, "security"))
    dispositions.assign(database, key, actor, case, user_id(database, "security_b2"))
    dispositions.change_status(database, key, actor, case, "in_review")


# --- API tokens ----------------------------------------------------------------------------------


def test_a_token_records_its_branch_and_verify_checks_it(app, database, runner, branches):
    from test_review_verify import run_verify
    from verify_helpers import tamper

    key = app.extensions["teller_guard"]["ledger_key"]
    token_id, _ = api_tokens.create(database, key, "二号网点核心系统", None, branch_id=2)
    event = database.execute("SELECT data FROM ledger WHERE kind = 'api_token.created'"
                             ).fetchall()[-1][0]
    assert '"branch": 2' in event
    assert [row["branch_code"] for row in api_store.tokens_with_creator(database, (2,))] == ["0002"]
    assert api_store.tokens_with_creator(database, (1,)) == []
    assert run_verify(runner, app)[0].exit_code == 0
    tamper(app, "UPDATE api_tokens SET branch_id = 1 WHERE id = ?", token_id)
    result, _ = run_verify(runner, app)
    assert result.exit_code == 1
    assert f"接口令牌 #{token_id} 与账本不一致（branch_id）" in result.output


def test_the_token_page_shows_and_keeps_the_branch(app, client, auth, database, branches):
    from conftest import csrf_token

    key = app.extensions["teller_guard"]["ledger_key"]
    api_tokens.create(database, key, "一号网点系统", None, branch_id=1)
    auth.login("admin_b2", PASSWORD)
    page = client.get("/admin/api-tokens").get_data(as_text=True)
    assert "一号网点系统" not in page and "代表的网点" not in page  # a branch admin's own only
    assert "teller2名" not in page  # branch 1's tellers are not offered
    token = csrf_token(client, "/admin/api-tokens")
    response = client.post("/admin/api-tokens", data={
        "name": "二号核心", "tellers_mode": "all", "read_scope": "own", "csrf_token": token})
    assert response.status_code == 200
    assert [(row["name"], row["branch_id"]) for row in api_tokens.list_all(database, (2,))] == [
        ("二号核心", 2)]
    assert "二号核心" in response.get_data(as_text=True)  # (no 网点 column: all are theirs)
    first = next(row["id"] for row in api_tokens.list_all(database) if row["branch_id"] == 1)
    assert client.get(f"/admin/api-tokens/{first}/revoke").status_code == 302
    client.post(f"/admin/api-tokens/{first}/revoke", data={"confirmed": "1", "csrf_token": token})
    assert api_store.active_token_by_id(database, first) is not None  # not revoked

    auth.login("ho_admin_1", PASSWORD)
    token = csrf_token(client, "/admin/api-tokens")
    page = client.get("/admin/api-tokens").get_data(as_text=True)
    assert "代表的网点" in page and "一号网点系统" in page and "二号核心" in page
    refused = client.post("/admin/api-tokens", data={
        "name": "总行指定", "tellers_mode": "listed", "tellers": ["teller"], "branch": "2",
        "read_scope": "all", "csrf_token": token})
    assert refused.status_code == 400 and "所选柜员须属于该令牌代表的网点" in \
        refused.get_data(as_text=True)
    client.post("/admin/api-tokens", data={
        "name": "总行指定", "tellers_mode": "listed", "tellers": ["teller_b2"], "branch": "2",
        "read_scope": "all", "csrf_token": token})
    made = next(row for row in api_tokens.list_all(database) if row["name"] == "总行指定")
    assert made["branch_id"] == 2
    assert api_scope.Scope.of(made).tellers == ("teller_b2",)


def test_a_bank_of_one_branch_keeps_the_daily_tables_and_the_covering_index(app, database):
    """One branch holds every screening: its security is answered as head office is (the
    statistics from the daily tables), until a second branch exists."""
    from printing_web_helpers import make_session

    make_session(app, database, "critical")
    database.execute("UPDATE stats_day_level SET n = n + 100 WHERE level = 'critical'")  # only there
    assert review_stats.compute(database, None, None, (1,)).total == 101
    security = account(database, "security")
    assert review.visibility(security, database) == ("1 = 1", [])
    key = app.extensions["teller_guard"]["ledger_key"]
    from teller_guard import settings

    settings.create_branch(database, key, "0002", settings.BranchSettings())
    assert review_stats.compute(database, None, None, (1,)).total == 1
    assert review.visibility(security, database) == ("branch_id = ?", [1])


def test_a_moved_tellers_desk_lists_only_the_new_branchs_screenings(app, client, auth, database,
                                                                     branches):
    """我的问询 lists what the teller can open: after a move to another branch, not the old
    branch's unfinished or finished screenings, nor counts them in 今日."""
    from teller_guard.screening import service

    teller = user_id(database, "teller")
    unfinished = {branches.first["draft"], branches.first["awaiting"]}
    today = service.now_local().date()
    assert {row["id"] for row in service.unfinished_for(database, teller, branch_ids=(1,))} \
        == unfinished
    assert service.today_for(database, teller, today, (1,))["screenings"] == 2
    key = app.extensions["teller_guard"]["ledger_key"]
    users.move_to_branch(database, key, teller, 2)
    assert service.unfinished_for(database, teller, branch_ids=(2,)) == []
    assert service.recent_finished_for(database, teller, branch_ids=(2,)) == []
    assert service.today_for(database, teller, today, (2,))["screenings"] == 0
    assert {row["id"] for row in service.unfinished_for(database, teller)} == unfinished

    auth.login("teller")
    page = client.get("/screening/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for session_id in unfinished:
        assert branches.references[session_id] not in html
        assert client.get(f"/screening/{session_id}/result").status_code == 404
