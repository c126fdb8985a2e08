"""One watchlist for the bank (issue 16): source category, expiry date, branch proposals from
confirmed cases approved or rejected by head office, each step in the ledger."""

import io
import json
import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from conftest import csrf_token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_review_support import ledger_key, make_session, user_id

from teller_guard import db
from teller_guard.config import DEFAULTS
from teller_guard.storage import watchlist as watchlist_store
from teller_guard.users import get_user
from teller_guard.watchlist import csv_import, proposals, signals, store

pytestmark = pytest.mark.both_backends

TODAY = date(2026, 3, 31)
ACCOUNT = "6222021234567890123"
MASKED = "6222 **** **** 0123"


def pii_key(app) -> bytes:
    return app.extensions["teller_guard"]["pii_key"]


def add(database, account_hash: str, *, expires_on=None, status="active", category="police",
        session_id=None) -> int:
    with db.write_transaction(database):
        return database.execute(
            "INSERT INTO watchlist (account_hash, account_masked, source, listed_on, note, "
            "added_at, category, expires_on, status, session_id) "
            "VALUES (?, ?, '', '2026-01-01', '', '2026-01-01T09:00:00+08:00', ?, ?, ?, ?) "
            "RETURNING id",
            [account_hash, MASKED, category, expires_on, status, session_id]).fetchone()[0]


def events(database, kind_prefix="watchlist."):
    return [(kind, session_id, json.loads(data)) for kind, session_id, data in database.execute(
        "SELECT kind, session_id, data FROM ledger WHERE kind LIKE ? ORDER BY id",
        [kind_prefix + "%"])]


def confirmed_case(app, database, payee_hash="payee-1", status="confirmed_fraud") -> int:
    session_id = make_session(app, database, level="critical", outcome="police_called")
    with db.write_transaction(database):
        database.execute("UPDATE sessions SET review_status = ?, payee_hash = ?, branch_id = 1 "
                         "WHERE id = ?", [status, payee_hash, session_id])
    return session_id


def branch_1(database) -> str:
    return database.execute("SELECT name FROM branches WHERE id = 1").fetchone()[0]


def actor(database, username):
    return get_user(database, user_id(database, username))


HQ_PASSWORD = "Hq-admin-1234"


def head_office_admin(app, database) -> str:
    """A 总行管理员 (approvals are head office's), created once per test; its user name."""
    from teller_guard import users

    if users.find_user(database, "hq_admin") is None:
        users.create_user(database, ledger_key(app), "hq_admin", HQ_PASSWORD, "ho_admin",
                          "管理员乙", must_change=False)
    return "hq_admin"


# --- expiry: the boundary ---------------------------------------------------------------------


def test_an_entry_matches_through_its_expiry_day_and_not_after(database):
    entries = {"yesterday": TODAY - timedelta(days=1), "today": TODAY,
               "tomorrow": TODAY + timedelta(days=1), "never": None}
    for name, expiry in entries.items():
        add(database, name, expires_on=expiry.isoformat() if expiry else None)
    listed = {name: store.is_listed(database, name, TODAY) for name in entries}
    assert listed == {"yesterday": False, "today": True, "tomorrow": True, "never": True}
    assert signals.is_watchlisted(database, "today", TODAY)
    assert not signals.is_watchlisted(database, "today", TODAY + timedelta(days=1))
    assert watchlist_store.entry_by_hash(database, "yesterday", TODAY.isoformat()) is None
    assert watchlist_store.entry_by_hash(database, "yesterday")["expires_on"] == "2026-03-30"


def test_the_screening_signal_turns_off_at_local_midnight_after_the_expiry_day(database):
    add(database, "payee", expires_on="2026-03-31")
    # A naive `now` is the server's local time, as everywhere in signals.
    last_minute = datetime(2026, 3, 31, 23, 59)
    assert signals.cross_session_facts(database, "payee", None, last_minute,
                                       DEFAULTS)["payee_watchlisted"] is True
    next_day = datetime(2026, 4, 1, 0, 0)
    assert signals.cross_session_facts(database, "payee", None, next_day,
                                       DEFAULTS)["payee_watchlisted"] is False
    # An aware `now` counts by the server's local date too.
    aware = next_day.astimezone()
    assert signals.cross_session_facts(database, "payee", None, aware,
                                       DEFAULTS)["payee_watchlisted"] is False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=-400, max_value=400), status=st.sampled_from(["active", "proposed"]))
def test_property_listed_exactly_while_active_and_not_past_expiry(database, offset, status):
    with db.write_transaction(database):
        database.execute("DELETE FROM watchlist")
    add(database, "h", expires_on=(TODAY + timedelta(days=offset)).isoformat(), status=status)
    assert store.is_listed(database, "h", TODAY) == (status == "active" and offset >= 0)
    entry = store.find(database, "h")
    assert entry.state(TODAY) == ("proposed" if status == "proposed"
                                  else "active" if offset >= 0 else "expired")


def test_counts_and_list_views(database):
    add(database, "a")
    add(database, "b", expires_on="2026-03-30")
    add(database, "c", expires_on="2026-03-31")
    add(database, "p", status="proposed")
    assert store.counts(database, TODAY) == {"active": 2, "expired": 1, "proposed": 1}
    assert store.count(database) == 3

    def hashes(view):
        return [entry.account_hash for entry in store.page(database, view=view, today=TODAY)[0]]

    assert hashes("active") == ["c", "a"]
    assert hashes("expired") == ["b"]
    assert hashes("all") == ["c", "b", "a"]


# --- CSV import: the new columns, old files ----------------------------------------------------


@pytest.fixture
def run_import(app, database):
    def run(text: str, **options):
        return csv_import.import_file(database, pii_key=pii_key(app), ledger_key=ledger_key(app),
                                      data=text.encode(), actor_id=None, today=TODAY, **options)
    return run


def entry_of(app, database, account):
    return store.find(database, store.account_hash(pii_key(app), account))


def test_import_reads_expiry_and_category_and_old_four_column_files(app, database, run_import):
    report = run_import("账号,来源,日期,备注,到期日\n"
                        "6222021234567890123,同业,2026-01-05,某行通报,2026-06-30\n"
                        "6217001234567890,市公安局反诈中心 3 月通报,2026-02-01,,\n"
                        "6228480012345678901,公安/反诈中心,2026-02-01,,2026-03-30\n")
    assert report.imported and report.added == 3
    peer = entry_of(app, database, "6222021234567890123")
    assert (peer.category, peer.expires_on, peer.origin) == ("peer", "2026-06-30", "同业")
    police = entry_of(app, database, "6217001234567890")
    assert (police.category, police.expires_on) == ("police", "")
    assert police.origin == "公安/反诈中心（市公安局反诈中心 3 月通报）"
    expired = entry_of(app, database, "6228480012345678901")
    assert expired.state(TODAY) == "expired" and not store.is_listed(database, expired.account_hash, TODAY)

    old = run_import("6222000011112222,来源,2026-01-01,旧文件\n", default_category="own")
    assert old.imported and old.added == 1
    entry = entry_of(app, database, "6222000011112222")
    assert (entry.category, entry.expires_on, entry.note) == ("own", "", "旧文件")


def test_import_refuses_bad_expiry_dates_and_unknown_categories(app, database, run_import):
    report = run_import("6222000011112222,a,2026-03-01,,2026-02-28\n"
                        "6222000011113333,a,2026-03-01,,2026-13-01\n"
                        "6222000011114444,a,2026-03-01,,2026-03-01\n")
    reasons = {error.line: error.reason for error in report.errors}
    assert not report.imported
    assert reasons == {1: "到期日早于列入日期，请核对", 2: "到期日无法识别，请写成 2025-12-31 的格式"}
    with pytest.raises(csv_import.UploadRejected, match="来源类别"):
        run_import("6222000011112222\n", default_category="somewhere")


def test_hash_file_entries_are_the_banks_own(app, database, run_import):
    from teller_guard.pii_key import fingerprint

    payee = "ab" * 32
    report = run_import(f"payee_hash,payee_masked,sessions,last_seen,key_id\n"
                        f"{payee},6222 **** **** 0123,3,2026-03-01,{fingerprint(pii_key(app))}\n")
    assert report.imported
    assert store.find(database, payee).category == "own"


# --- proposals: propose, approve, reject --------------------------------------------------------


def test_only_head_office_may_approve_watchlist_proposals():
    def user(role):
        return SimpleNamespace(id=1, role=role)
    assert [role for role in ("teller", "supervisor", "security", "admin", "ho_security", "ho_admin")
            if proposals.may_approve_watchlist(user(role))] == ["ho_security", "ho_admin"]
    assert not proposals.may_approve_watchlist(None)


def test_a_proposal_waits_then_approval_lists_it_as_the_banks_own(app, database):
    case = confirmed_case(app, database)
    key = ledger_key(app)
    entry_id = proposals.propose(database, key, actor(database, "security"), case,
                                 "  确认诈骗，收款账号 6222021234567890123 已冻结 ")
    row = database.execute("SELECT account_hash, account_masked, status, session_id, proposed_by, "
                           "note, category FROM watchlist WHERE id = ?", [entry_id]).fetchone()
    assert tuple(row) == ("payee-1", "6222 **** **** 1234", "proposed", case,
                          user_id(database, "security"), "确认诈骗，收款账号 6222 **** **** 0123 已冻结", "own")
    assert not store.is_listed(database, "payee-1")
    assert [(proposal.reference, proposal.branch_name) for proposal in proposals.pending(database)] == [
        (database.execute("SELECT reference FROM sessions WHERE id = ?", [case]).fetchone()[0],
         branch_1(database))]

    with pytest.raises(proposals.ProposalError, match="总行"):
        proposals.approve(database, key, actor(database, "security"), entry_id)
    hq = actor(database, head_office_admin(app, database))
    with pytest.raises(proposals.ProposalError, match="早于今天"):
        proposals.approve(database, key, hq, entry_id, "2026-03-30", TODAY)
    approved = proposals.approve(database, key, hq, entry_id, "2026-12-31", TODAY)
    assert (approved.status, approved.category, approved.listed_on, approved.expires_on) == (
        "active", "own", "2026-03-31", "2026-12-31")
    assert store.is_listed(database, "payee-1", TODAY)
    assert proposals.pending(database) == []
    with pytest.raises(proposals.ProposalError, match="已被处理"):
        proposals.approve(database, key, actor(database, head_office_admin(app, database)), entry_id)

    assert [(kind, session_id, data.get("entry_id")) for kind, session_id, data in events(database)] == [
        ("watchlist.proposed", case, entry_id), ("watchlist.approved", case, entry_id)]
    assert events(database)[0][2]["branch_id"] == 1  # the proposing branch
    names = {user_id(database, "security"): "安保甲", user_id(database, head_office_admin(app, database)): "管理员乙"}
    history = proposals.history(database, store.get(database, entry_id), names)
    assert [(line.label, line.actor) for line in history] == [
        ("提请列入涉诈名单", "安保甲"), ("批准列入涉诈名单", "管理员乙")]
    assert "到期日 2026-12-31" in history[1].details


def test_a_rejected_proposal_goes_with_its_reason_and_may_be_made_again(app, database):
    case = confirmed_case(app, database)
    key = ledger_key(app)
    entry_id = proposals.propose(database, key, actor(database, "security"), case, "确认诈骗")
    with pytest.raises(proposals.ProposalError, match="驳回原因"):
        proposals.reject(database, key, actor(database, head_office_admin(app, database)), entry_id, "  ")
    proposals.reject(database, key, actor(database, head_office_admin(app, database)), entry_id, "证据不足")
    assert store.get(database, entry_id) is None and not store.is_listed(database, "payee-1")
    kinds = [(kind, data.get("reason")) for kind, _, data in events(database)]
    assert kinds == [("watchlist.proposed", None), ("watchlist.rejected", "证据不足")]
    again = proposals.propose(database, key, actor(database, "security"), case, "补充了证据")
    assert store.get(database, again).status == "proposed"
    history = proposals.history(database, store.get(database, again), {})
    assert [line.kind for line in history] == ["watchlist.proposed", "watchlist.rejected",
                                               "watchlist.proposed"]
    assert "证据不足" in history[1].details and "补充了证据" in history[2].details


@pytest.mark.parametrize("status", ["pending", "in_review", "dissuaded", "false_alarm",
                                    "police_handled"])
def test_only_a_case_confirmed_as_fraud_may_be_proposed(app, database, status):
    case = confirmed_case(app, database, status=status)
    with pytest.raises(proposals.ProposalError, match="确认诈骗"):
        proposals.propose(database, ledger_key(app), actor(database, "security"), case, "理由")
    assert database.execute("SELECT count(*) FROM watchlist").fetchone()[0] == 0
    assert events(database) == []


def test_proposals_are_refused_without_note_role_payee_or_twice(app, database):
    key = ledger_key(app)
    case = confirmed_case(app, database)
    with pytest.raises(proposals.ProposalError, match="提请理由"):
        proposals.propose(database, key, actor(database, "security"), case, " ")
    with pytest.raises(proposals.ProposalError, match="安保"):
        proposals.propose(database, key, actor(database, "supervisor"), case, "理由")
    no_payee = confirmed_case(app, database, payee_hash=None)
    with pytest.raises(proposals.ProposalError, match="没有收款账号"):
        proposals.propose(database, key, actor(database, "security"), no_payee, "理由")
    proposals.propose(database, key, actor(database, "security"), case, "理由")
    with pytest.raises(proposals.ProposalError, match="等待总行审批"):
        proposals.propose(database, key, actor(database, "admin"), case, "理由")
    listed = confirmed_case(app, database, payee_hash="listed")
    add(database, "listed")
    with pytest.raises(proposals.ProposalError, match="已在涉诈名单中"):
        proposals.propose(database, key, actor(database, "security"), listed, "理由")


# --- pages ---------------------------------------------------------------------------------------


def post(client, path, data, token_from):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from)})


def test_case_page_proposes_and_head_office_approves_through_the_pages(app, client, auth, database):
    case = confirmed_case(app, database)
    page = f"/review/{case}"
    auth.login("supervisor")
    assert "提请列入名单" not in client.get(page).get_data(as_text=True)
    assert client.post(f"{page}/watchlist-proposal", data={"note": "x"}).status_code in (400, 403)
    auth.logout()

    auth.login("security")
    html = client.get(page).get_data(as_text=True)
    assert 'id="propose-form"' in html and "提请列入名单" in html
    refused = post(client, f"{page}/watchlist-proposal", {"note": ""}, page)
    assert refused.status_code == 409 and "请填写提请理由" in refused.get_data(as_text=True)
    done = post(client, f"{page}/watchlist-proposal", {"note": "已确认诈骗，受害人报案"}, page)
    assert done.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "等待总行审批" in html and 'id="propose-form"' not in html
    assert "提请列入涉诈名单" in html  # the case's record shows the ledger event
    entry_id = store.find(database, "payee-1").id
    waiting = client.get("/watchlist/proposals").get_data(as_text=True)
    assert "已确认诈骗，受害人报案" in waiting and "批准列入名单" not in waiting  # security reads only
    assert branch_1(database) in waiting
    assert post(client, f"/watchlist/proposals/{entry_id}/approve", {}, "/watchlist/proposals"
                ).status_code == 403
    auth.logout()

    auth.login(head_office_admin(app, database), HQ_PASSWORD)
    bad = post(client, f"/watchlist/proposals/{entry_id}/approve", {"expires_on": "明年"},
               "/watchlist/proposals")
    body = bad.get_data(as_text=True)
    assert bad.status_code == 409 and "到期日无法识别" in body and 'value="明年"' in body
    approved = post(client, f"/watchlist/proposals/{entry_id}/approve", {"expires_on": ""},
                    "/watchlist/proposals")
    assert approved.status_code == 303
    assert store.is_listed(database, "payee-1")
    entry_page = client.get(f"/watchlist/{entry_id}").get_data(as_text=True)
    assert "本行发现" in entry_page and "提请列入涉诈名单" in entry_page and "批准列入涉诈名单" in entry_page
    assert "已在涉诈名单中" in client.get(page).get_data(as_text=True)


def test_rejecting_on_the_page_keeps_the_reason_typed_when_refused(app, client, auth, database):
    case = confirmed_case(app, database)
    entry_id = proposals.propose(database, ledger_key(app), actor(database, "security"), case, "理由")
    auth.login(head_office_admin(app, database), HQ_PASSWORD)
    path = f"/watchlist/proposals/{entry_id}/reject"
    too_long = post(client, path, {"reason": "长" * 201}, "/watchlist/proposals")
    assert too_long.status_code == 409 and "驳回原因最多 200 个字" in too_long.get_data(as_text=True)
    assert post(client, path, {"reason": "证据不足"}, "/watchlist/proposals").status_code == 303
    assert store.get(database, entry_id) is None
    auth.logout()
    auth.login("security")
    html = client.get(f"/review/{case}").get_data(as_text=True)
    assert "已被总行驳回，原因：证据不足" in html and 'id="propose-form"' in html


def test_the_list_marks_expired_entries_and_filters_them(client, auth, database):
    today = date.today()
    add(database, "gone", expires_on=(today - timedelta(days=1)).isoformat())
    with db.write_transaction(database):
        database.execute("UPDATE watchlist SET account_masked = '6222 **** **** 9999'")
    add(database, "live", expires_on=today.isoformat())
    auth.login("security")
    everything = client.get("/watchlist/").get_data(as_text=True)
    assert "已过期" in everything and "6222 **** **** 9999" in everything
    assert "有效 1 个，已过期 1 个" in everything
    active = client.get("/watchlist/?show=active").get_data(as_text=True)
    assert "6222 **** **** 9999" not in active and MASKED in active
    expired = client.get("/watchlist/?show=expired").get_data(as_text=True)
    assert "6222 **** **** 9999" in expired and MASKED not in expired
    assert client.get("/watchlist/?show=nonsense").status_code == 200


def test_manual_add_checks_every_field_in_chinese_and_keeps_what_was_typed(app, client, auth, database):
    auth.login("security")
    form = {"account": "6222 0212 3456 7890 123", "category": "peer", "source": "某行 3 月通报",
            "listed_on": "2026/3/5", "expires_on": "2026-03-01", "note": "备注甲"}
    refused = post(client, "/watchlist/add", {**form, "category": ""}, "/watchlist/add")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "请选择来源类别" in html and "到期日早于列入日期" in html
    assert 'value="2026-03-01"' in html and "备注甲" in html and 'value="某行 3 月通报"' in html
    assert database.execute("SELECT count(*) FROM watchlist").fetchone()[0] == 0
    bad_account = post(client, "/watchlist/add", {**form, "account": "123", "expires_on": ""},
                       "/watchlist/add")
    assert "8 至 30 位" in bad_account.get_data(as_text=True)

    added = post(client, "/watchlist/add", {**form, "expires_on": "2027-01-01"}, "/watchlist/add")
    assert added.status_code == 303
    entry = entry_of(app, database, ACCOUNT)
    assert (entry.category, entry.source, entry.listed_on, entry.expires_on, entry.note) == (
        "peer", "某行 3 月通报", "2026-03-05", "2027-01-01", "备注甲")
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert MASKED in page and "手工加入涉诈名单" in page and ACCOUNT not in page
    assert [kind for kind, _, _ in events(database)] == ["watchlist.added"]
    again = post(client, "/watchlist/add", form | {"expires_on": ""}, "/watchlist/add")
    assert again.status_code == 400 and "已在名单中" in again.get_data(as_text=True)
    assert database.execute("SELECT count(*) FROM watchlist_imports").fetchone()[0] == 1
    stored = json.dumps([list(row) for row in database.execute("SELECT * FROM watchlist")])
    assert not re.search(r"6222\s?0212", stored)


def test_import_page_takes_the_category_and_the_expiry_column(app, client, auth, database):
    auth.login("security")
    token = csrf_token(client, "/watchlist/import")
    response = client.post("/watchlist/import", data={
        "csrf_token": token, "default_category": "peer", "default_source": "",
        "upload": (io.BytesIO(f"{ACCOUNT},某行,2026-01-01,,2099-12-31\n".encode()), "名单.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    entry = entry_of(app, database, ACCOUNT)
    assert (entry.category, entry.expires_on) == ("peer", "2099-12-31")
    history = client.get(f"/watchlist/{entry.id}").get_data(as_text=True)
    assert "导入涉诈名单" in history and "同业（某行）" in history


def test_the_teller_and_the_police_alert_see_the_category():
    from teller_guard.printing_web import content

    entry = store.Entry(1, "h", MASKED, "某行 3 月通报", "2026-03-01", "", None, "", "peer",
                        "2026-12-31")
    assert content.watchlist_line(entry) == "涉诈名单记录（来源：同业（某行 3 月通报），列入日期：2026-03-01）"
    assert store.Entry(2, "h", MASKED, "", "", "", None, "", "own").origin == "本行发现"
    assert store.Entry(3, "h", MASKED, "市反诈中心", "", "", None, "").origin == "市反诈中心"


def test_head_office_security_approves_on_the_page(app, client, auth, database):
    from teller_guard import users

    users.create_user(database, ledger_key(app), "hq", "Hq-pass-1234", "ho_security", "总行甲",
                      must_change=False)
    case = confirmed_case(app, database)
    entry_id = proposals.propose(database, ledger_key(app), actor(database, "security"), case, "理由")
    auth.login("hq", "Hq-pass-1234")
    page = client.get("/watchlist/proposals").get_data(as_text=True)
    assert "批准列入名单" in page and "驳回" in page
    assert post(client, f"/watchlist/proposals/{entry_id}/approve", {},
                "/watchlist/proposals").status_code == 303
    assert store.get(database, entry_id).status == "active"
    assert events(database)[-1][0] == "watchlist.approved"


# --- a new listing renews an entry: expired, proposed, or expiring sooner (0016) -----------------

RENEWED_ACCOUNTS = {"expired": "6222000011110001", "proposed": "6222000011110002",
                    "sooner": "6222000011110003", "later": "6222000011110004",
                    "permanent": "6222000011110005"}


def entries_to_renew(app, database) -> dict[str, str]:
    hashes = {name: store.account_hash(pii_key(app), account)
              for name, account in RENEWED_ACCOUNTS.items()}
    add(database, hashes["expired"], expires_on="2026-03-01")
    add(database, hashes["proposed"], status="proposed", category="own")
    add(database, hashes["sooner"], expires_on="2026-04-30", category="peer")
    add(database, hashes["later"], expires_on="2027-06-30", category="peer")
    add(database, hashes["permanent"])
    return hashes


def test_an_import_lists_again_expired_proposed_and_sooner_expiring_entries(app, database,
                                                                            run_import):
    hashes = entries_to_renew(app, database)
    assert not store.is_listed(database, hashes["expired"], TODAY)
    assert not store.is_listed(database, hashes["proposed"], TODAY)
    lines = "".join(f"{account},公安/反诈中心,2026-03-20,4 月通报,2026-12-31\n"
                    for account in RENEWED_ACCOUNTS.values())
    report = run_import(lines)
    assert (report.added, report.renewed, report.already_listed) == (0, 3, 2)
    for name in ("expired", "proposed", "sooner"):
        entry = store.find(database, hashes[name])
        assert (entry.status, entry.category, entry.expires_on, entry.listed_on, entry.note) == \
            ("active", "police", "2026-12-31", "2026-03-20", "4 月通报"), name
        assert entry.renewed_import_id == report.import_id and entry.renewed_at, name
        assert entry.import_id is None  # the first listing stays its origin
        assert store.is_listed(database, hashes[name], TODAY), name
    later, permanent = store.find(database, hashes["later"]), store.find(database, hashes["permanent"])
    assert (later.category, later.expires_on, later.renewed_import_id) == ("peer", "2027-06-30", None)
    assert (permanent.expires_on, permanent.renewed_import_id) == ("", None)
    imported = [data for kind, _, data in events(database) if kind == "watchlist.imported"]
    assert imported[-1]["renewed"] == 3 and imported[-1]["already_listed"] == 2
    assert store.recent_imports(database)[0].renewed == 3
    history = proposals.history(database, store.find(database, hashes["expired"]), {})
    assert [line.label for line in history][-1] == "重新列入名单"
    assert "2026-12-31" in history[-1].details

    again = run_import(lines)  # nothing left to renew
    assert (again.added, again.renewed, again.already_listed) == (0, 0, 5)


def test_the_form_lists_an_expired_account_again_and_refuses_one_in_force(app, database):
    hashes = entries_to_renew(app, database)
    key = pii_key(app)

    def typed(account, expires_on="2026-12-31"):
        entry, errors = csv_import.typed_account(key, TODAY, {
            "account": account, "category": "police", "source": "", "listed_on": "2026-03-31",
            "expires_on": expires_on, "note": ""})
        assert not errors
        return entry

    added = store.add_typed(database, ledger_key(app), typed(RENEWED_ACCOUNTS["expired"]),
                            None, TODAY)
    assert added is not None and added.renewed
    assert store.find(database, hashes["expired"]).id == added.entry_id
    assert store.is_listed(database, hashes["expired"], TODAY)
    assert store.add_typed(database, ledger_key(app), typed(RENEWED_ACCOUNTS["permanent"]),
                           None, TODAY) is None
    fresh = store.add_typed(database, ledger_key(app), typed("6222000011119999"), None, TODAY)
    assert fresh is not None and not fresh.renewed
    added_events = [data for kind, _, data in events(database) if kind == "watchlist.added"]
    assert [data["renewed"] for data in added_events] == [True, False]


def test_the_radar_lists_an_expired_payee_again_but_keeps_a_listing_in_force(app, database):
    from teller_guard.watchlist import radar

    hashes = entries_to_renew(app, database)

    def payee(name):
        return radar.RadarPayee(hashes[name], MASKED, ("甲", "乙", "丙"), 3, 4, 1, 100, "", "",
                                True)

    assert radar.add_to_watchlist(database, ledger_key(app), payee("expired"), None, 7, TODAY)
    expired = store.find(database, hashes["expired"])
    assert (expired.status, expired.category, expired.expires_on) == ("active", "own", "")
    assert not radar.add_to_watchlist(database, ledger_key(app), payee("sooner"), None, 7, TODAY)
    sooner = store.find(database, hashes["sooner"])
    assert (sooner.category, sooner.expires_on) == ("peer", "2026-04-30")
