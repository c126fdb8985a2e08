"""Fuzzing the review (待复核) and watchlist (涉诈名单) areas with Hypothesis: never a 5xx.

Drives the queue filters, the disposition forms (status change, assignment, note), the queue and
statistics exports, the watchlist import, search, removal and export with arbitrary strings,
huge values, odd ids and random or badly encoded files. Every form post carries a valid CSRF
token, so the view itself answers. A refused change leaves the database as it was (a refused
import adds nothing at all) and says why in Chinese; a note with HTML comes back escaped.
Flask test client, one app per module, modest example counts (shared with test_proof_fuzz.py).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from itertools import count
from urllib.parse import quote

import pytest
from conftest import csrf_token, open_database
from fuzz_helpers import FEW, FUZZ, SQL, XSS, User, digits, fuzz_instance_app, nasty, no_server_error, text
from hypothesis import example, given
from hypothesis import strategies as st
from markupsafe import escape
from screening_helpers import BENIGN_ANSWERS, BENIGN_FACTS, SAFE_ACCOUNT_ANSWERS, SAFE_ACCOUNT_FACTS, screen
from werkzeug.datastructures import MultiDict

from teller_guard import labels, pii
from teller_guard.review import state
from teller_guard.watchlist import csv_import, store

pytestmark = pytest.mark.both_backends


CHINESE = re.compile(r"[\u4e00-\u9fff]")
ERROR_BANNER = 'class="error banner"'
FIELD_ERROR = '<p class="error" id='
# Ids that name no row: past the newest row, the largest SQLite INTEGER, past it and past
# int()'s 4,300-digit limit (each was a 500).
NO_SUCH_IDS = ["999999", str(2**63 - 1), str(2**63), "9" * 40, "9" * 4301]


@dataclass(frozen=True)
class Cases:
    queued: tuple[int, int]  # two 极高风险 screenings, in the review queue
    plain: int  # a low-risk screening, not in the queue


@pytest.fixture(scope="module")
def review_app(tmp_path_factory, template_instance):
    return fuzz_instance_app(tmp_path_factory, template_instance, "fuzz-review")


@pytest.fixture(scope="module")
def security(review_app):
    return User(review_app, "security")


@pytest.fixture(scope="module")
def admin(review_app):
    return User(review_app, "admin")


def rows(app, sql: str, params=()) -> list[tuple]:
    database = open_database(app)
    try:
        return [tuple(row) for row in database.execute(sql, list(params)).fetchall()]
    finally:
        database.conn.close()


def scalar(app, sql: str, params=()):
    return rows(app, sql, params)[0][0]


@pytest.fixture(scope="module")
def cases(review_app) -> Cases:
    teller = User(review_app, "teller")
    queued = (screen(teller.client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS),
              screen(teller.client, SAFE_ACCOUNT_FACTS, SAFE_ACCOUNT_ANSWERS))
    plain = screen(teller.client, BENIGN_FACTS, BENIGN_ANSWERS)
    in_queue = dict(rows(review_app, "SELECT id, in_queue FROM sessions"))
    assert [in_queue[session_id] for session_id in (*queued, plain)] == [1, 1, 0]
    return Cases(queued, plain)


@pytest.fixture(scope="module")
def user_ids(review_app) -> dict[str, int]:
    return dict(rows(review_app, "SELECT username, id FROM users"))


def review_status(app, session_id: int) -> str | None:
    return scalar(app, "SELECT review_status FROM sessions WHERE id = ?", [session_id])


def assignee_of(app, session_id: int) -> int | None:
    return scalar(app, "SELECT assignee_id FROM sessions WHERE id = ?", [session_id])


def path_segment(raw: str) -> str:
    return quote(raw, safe="")


# Path segments that are no id at all: the int converter does not match them (404), or the
# empty one is merged away (a redirect). Strings of digits are left to NO_SUCH_IDS, since
# werkzeug reads "１" (full-width) as 1.
odd_segments = st.one_of(
    st.sampled_from(["-1", "⓵", "①", "1.0", "1e3", "0x1", " 1", "1 ", "abc", SQL, "%00", "..", "", "/",
                     *XSS]),
    text.filter(lambda raw: not raw.strip().isdigit()),
)


# --- the queue, its filters and the statistics ------------------------------------------------

FILTER_NAMES = ["date_from", "date_to", "level", "typology", "teller", "status", "outcome", "reference",
                "after"]
dates = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(["9999-12-31", "0001-01-01", "2026-02-30", "2026-11-30T10:00", "20261130",
                     "2026-W48-1", "2026/11/30", "２０２６-１１-３０", " 2026-11-30 "]),
)
filter_values = st.one_of(
    text, dates,
    st.sampled_from([*labels.LEVELS, *labels.OUTCOMES, *state.STATUSES, *labels.typology_labels(),
                     "TG", "TG2026", "tg2026-", "TG" + "9" * 40, "1", "2", "3", "4", "5", "0"]),
)
filter_pairs = st.lists(st.tuples(st.sampled_from([*FILTER_NAMES, "unknown"]), filter_values),
                        max_size=10)


def first(pairs, name: str) -> str | None:
    """What request.args.get(name) sees: the first value given."""
    return next((value for key, value in pairs if key == name), None)


@FUZZ
@given(pairs=filter_pairs)
@example(pairs=[("date_to", "9999-12-31")])
@example(pairs=[("date_from", "0001-01-01"), ("date_to", "9999-12-31")])
@example(pairs=[("after", "9" * 19), ("teller", "9" * 18)])
def test_queue_filters(security, cases, pairs):
    response = security.client.get("/review/", query_string=MultiDict(pairs))
    no_server_error(response, pairs)
    assert response.status_code == 200  # a bad filter is ignored and named, never refused
    html = response.get_data(as_text=True)
    level = (first(pairs, "level") or "").strip()
    if level and level not in labels.LEVELS:
        assert "风险等级“" in html and "无法识别，已忽略该条件" in html, level
    teller = (first(pairs, "teller") or "").strip()
    if teller and not re.fullmatch(r"[0-9]{1,18}", teller):
        assert "柜员条件无法识别" in html, teller
    reference = (first(pairs, "reference") or "").strip().upper()
    if reference and not re.fullmatch(r"[A-Z0-9-]{1,32}", reference):
        assert "业务编号只能包含字母、数字和短横线" in html, reference
    if not pairs:
        for session_id in cases.queued:  # the unfiltered queue lists every queued case
            assert f'href="/review/{session_id}"' in html


stats_form = st.lists(st.tuples(st.sampled_from(["date_from", "date_to", "unknown"]),
                                st.one_of(dates, text)), max_size=4)


def valid_range(pairs) -> tuple[date, date] | None:
    """Both dates given, readable, in order and at most ten years apart (the range used)."""
    try:
        low = date.fromisoformat((first(pairs, "date_from") or "").strip())
        high = date.fromisoformat((first(pairs, "date_to") or "").strip())
    except ValueError:
        return None
    return (low, high) if low <= high and (high - low).days <= 3660 else None


@FUZZ
@given(pairs=stats_form, who=st.sampled_from(["security", "admin"]))
@example(pairs=[("date_from", "0001-01-01"), ("date_to", "0001-01-05")], who="security")
@example(pairs=[("date_from", "9999-12-20"), ("date_to", "9999-12-31")], who="admin")
def test_statistics_and_their_export(security, admin, pairs, who):
    user = security if who == "security" else admin
    page = user.client.get("/review/statistics", query_string=MultiDict(pairs))
    no_server_error(page, pairs)
    assert page.status_code == 200
    response = user.post("/review/export/statistics", pairs)
    no_server_error(response, pairs)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).strip()
    chosen = valid_range(pairs)
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r"attachment; filename=statistics-\d{8}-\d{8}\.csv", disposition), disposition
    if chosen:
        first, last = (day.isoformat().replace("-", "") for day in chosen)
        assert f"statistics-{first}-{last}.csv" in disposition


flags = st.one_of(st.none(), st.sampled_from(["1", "0", "", " 1", "true", "on"]), text)


@FUZZ
@given(pairs=filter_pairs, full=flags, confirm=flags, who=st.sampled_from(["security", "admin"]))
@example(pairs=[("date_to", "9999-12-31")], full=None, confirm=None, who="security")
@example(pairs=[("date_to", "9999-12-31")], full="1", confirm="1", who="admin")
@example(pairs=[], full="1", confirm="1", who="admin")
@example(pairs=[], full="1", confirm=None, who="admin")
@example(pairs=[], full=None, confirm=None, who="admin")
def test_queue_export(security, admin, cases, pairs, full, confirm, who):
    user = security if who == "security" else admin
    form = [*pairs, *([("full", full)] if full is not None else []),
            *([("confirm", confirm)] if confirm is not None else [])]
    response = user.post("/review/export/queue", form)
    no_server_error(response, form)
    if full == "1" and who == "security":
        assert response.status_code == 403  # full personal data is for admins only
    elif full == "1" and confirm != "1":
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/review/")
    else:
        assert response.status_code == 200, response.status_code
        assert response.mimetype == "text/csv"
        body = response.get_data(as_text=True)
        header = next(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
        assert header[:2] == ["业务编号", "开始时间"]
        assert ("收款人姓名" in header or "收款账号" in header) == (full == "1"), header
        account = SAFE_ACCOUNT_FACTS["payee_account"]  # of the queued cases
        if full != "1":
            assert account not in body  # masked only
        elif not pairs:
            assert account in body


# --- dispositions -----------------------------------------------------------------------------

notes = st.one_of(st.just(""), st.sampled_from(XSS), text,
                  st.builds(lambda payload, words: f"{words}{payload}", st.sampled_from(XSS), text))


@FUZZ
@given(pick=st.integers(0, 1), target=st.one_of(st.sampled_from(state.STATUSES), st.sampled_from(state.STATUSES), text),
       note=notes, expected=st.one_of(st.none(), st.none(), st.sampled_from(state.STATUSES), text))
@example(pick=0, target=state.IN_REVIEW, note="", expected=None)  # from 待复核 (the first time)
@example(pick=0, target="dissuaded", note=f"客户已被劝阻 {XSS[3]}", expected=None)
@example(pick=0, target=state.IN_REVIEW, note="", expected=None)  # reopening needs a note
@example(pick=1, target="9" * 5000, note="x" * 100_000, expected="pending")
def test_transition_form(review_app, security, cases, pick, target, note, expected):
    session_id = cases.queued[pick]
    before = review_status(review_app, session_id)
    form = {"to": target, "note": note, **({} if expected is None else {"expected": expected})}
    response = security.post(f"/review/{session_id}/transition", form)
    no_server_error(response, form)
    after = review_status(review_app, session_id)
    assert response.status_code in (303, 409), response.status_code
    if response.status_code == 303:
        assert after == target and target in state.allowed_targets(before), (before, target)
        assert state.is_closed(target) is False or note.strip()  # closing needs a note
    else:
        assert after == before
        html = response.get_data(as_text=True)
        assert_refusal_shown(html)


def assert_refusal_shown(html: str) -> None:
    """A refused change is worded in Chinese on a banner, or at its field (which then has the
    focus)."""
    marker = ERROR_BANNER if ERROR_BANNER in html else FIELD_ERROR
    assert marker in html and CHINESE.search(html.split(marker, 1)[1][:200])
    if marker == FIELD_ERROR:
        assert html.count("autofocus") == 1 and 'aria-invalid="true"' in html


@FUZZ
@given(pick=st.integers(0, 1), target=st.one_of(st.sampled_from(state.STATUSES), text),
       note=notes, then=st.one_of(st.sampled_from(["next", "stay"]), text))
@example(pick=0, target="dissuaded", note=f"客户已被劝阻 {XSS[3]}", then="next")
@example(pick=1, target="false_alarm", note="", then="stay")
def test_close_form(review_app, security, cases, pick, target, note, then):
    session_id = cases.queued[pick]
    before = review_status(review_app, session_id)
    form = {"to": target, "note": note, "then": then}
    response = security.post(f"/review/{session_id}/close", form)
    no_server_error(response, form)
    after = review_status(review_app, session_id)
    assert response.status_code in (303, 409), response.status_code
    if response.status_code == 303:
        assert target in state.CLOSED and after == target and note.strip()
        assert not state.is_closed(before)
    else:
        assert after == before
        assert_refusal_shown(response.get_data(as_text=True))


@FUZZ
@given(account_tail=st.one_of(digits, nasty, text), surname=st.one_of(nasty, text),
       id_tail=st.one_of(digits, nasty, text))
def test_search_form(review_app, security, cases, account_tail, surname, id_tail):
    form = {"account_tail": account_tail, "surname": surname, "id_tail": id_tail}
    response = security.post("/review/search", form)
    no_server_error(response, form)
    assert response.status_code in (303, 400), response.status_code
    if response.status_code == 303:
        assert response.headers["Location"].endswith("search=1")
        for value in form.values():
            assert not value.strip() or value.strip() not in response.headers["Location"]
    else:
        html = response.get_data(as_text=True)
        assert FIELD_ERROR in html and 'aria-invalid="true"' in html


@FUZZ
@given(pick=st.integers(0, 2), assignee=st.one_of(
    st.sampled_from(["security", "admin", "supervisor", "teller", "teller2"]), digits, nasty, text,
    st.integers(-(2**70), 2**70).map(str)))
def test_assign_form(review_app, security, cases, user_ids, pick, assignee):
    session_id = [*cases.queued, cases.plain][pick]
    value = str(user_ids[assignee]) if assignee in user_ids else assignee
    before = assignee_of(review_app, session_id)
    response = security.post(f"/review/{session_id}/assign", {"assignee_id": value})
    no_server_error(response, value)
    after = assignee_of(review_app, session_id)
    assert response.status_code in (303, 409), response.status_code
    if response.status_code == 303:
        assert session_id != cases.plain
        assert after == int(value.strip()) and after != before
        assert after in (user_ids["security"], user_ids["admin"])  # only reviewers are assigned
    else:
        assert after == before
        assert_refusal_shown(response.get_data(as_text=True))


@FUZZ
@given(pick=st.integers(0, 2), note=notes)
@example(pick=0, note="x" * 2000)
@example(pick=0, note="x" * 2001)
@example(pick=2, note=XSS[0])
def test_note_form(review_app, security, cases, pick, note):
    session_id = [*cases.queued, cases.plain][pick]
    notes_before = scalar(review_app, "SELECT count(*) FROM ledger WHERE session_id = ? AND kind = 'review.note'",
                          [session_id])
    response = security.post(f"/review/{session_id}/note", {"note": note})
    no_server_error(response, note)
    notes_after = scalar(review_app, "SELECT count(*) FROM ledger WHERE session_id = ? AND kind = 'review.note'",
                         [session_id])
    cleaned = note.strip()
    if session_id == cases.plain or not cleaned or len(cleaned) > state.MAX_NOTE_LENGTH:
        assert response.status_code == 409, response.status_code
        assert_refusal_shown(response.get_data(as_text=True))
        assert notes_after == notes_before
    else:
        assert response.status_code == 303, response.status_code
        assert notes_after == notes_before + 1
        detail = security.page(f"/review/{session_id}")
        assert str(escape(pii.mask_numbers_in_text(cleaned))) in detail  # numbers masked as stored
        assert not any(payload in detail for payload in XSS)


@pytest.mark.parametrize("payload", XSS)
def test_script_in_a_review_note_is_escaped(review_app, security, cases, payload):
    session_id = cases.queued[0]
    note = f"回访客户 {payload}"
    assert security.post(f"/review/{session_id}/note", {"note": note}).status_code == 303
    detail = security.page(f"/review/{session_id}")
    assert str(escape(note)) in detail
    for fragment in (payload, "<script>alert", "<img src=x", "<svg/onload"):
        assert fragment not in detail


@FUZZ
@given(segment=st.one_of(st.sampled_from(NO_SUCH_IDS), odd_segments),
       action=st.sampled_from(["transition", "assign", "note"]),
       form=st.fixed_dictionaries({}, optional={"to": st.sampled_from(state.STATUSES), "note": text,
                                                "assignee_id": st.just("1")}))
@example(segment=str(2**63), action="transition", form={"to": state.IN_REVIEW})  # was a 500
@example(segment="9" * 4300, action="note", form={"note": "备注"})  # was a 500
def test_dispositions_of_no_such_session(security, cases, segment, action, form):
    response = security.post(f"/review/{path_segment(segment)}/{action}", form)
    no_server_error(response, (segment, action))
    if segment in NO_SUCH_IDS:
        assert response.status_code == 404
    else:
        assert response.status_code in (308, 404, 405), response.status_code


@FEW
@given(segment=st.one_of(st.sampled_from(NO_SUCH_IDS), odd_segments))
@example(segment=str(2**63))  # was a 500
def test_detail_of_no_such_session(security, segment):
    response = security.client.get(f"/review/{path_segment(segment)}")
    no_server_error(response, segment)
    assert response.status_code in ((404,) if segment in NO_SUCH_IDS else (200, 308, 404)), response.status_code


# --- the watchlist ----------------------------------------------------------------------------

LISTED = ("6222021234567890123", "6217001234567890", "6228480012345678901")
accounts = st.from_regex(r"62[0-9]{14,17}", fullmatch=True)
FRESH = count(1)


def watchlist_size(app) -> tuple[int, int]:
    return (scalar(app, "SELECT count(*) FROM watchlist"),
            scalar(app, "SELECT count(*) FROM watchlist_imports"))


def import_directly(app, data: bytes) -> csv_import.ImportReport:
    database = open_database(app)
    keys = app.extensions["teller_guard"]
    try:
        return csv_import.import_file(database, pii_key=keys["pii_key"], ledger_key=keys["ledger_key"],
                                      data=data, actor_id=None)
    finally:
        database.conn.close()


@pytest.fixture(scope="module")
def listed(review_app):
    report = import_directly(review_app, "\n".join(f"{account},市反诈中心" for account in LISTED).encode())
    assert report.imported and report.added == len(LISTED)
    return LISTED


cells = st.one_of(
    accounts, text,
    st.sampled_from(["2024-03-05", "2024年3月5日", "20240305", "2024/3/5", "9999-12-31", "2024-02-30",
                     "6.22E+18", "'6222021234567890", "6222 0212 3456 7890", "账号", "payee_hash",
                     '"', '""', "a,b", "a\nb", "\t", "x" * 300]),
)
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16", "utf-16-le", "latin-1", "big5", "shift_jis"]


def csv_bytes(lines, delimiter: str, encoding: str, quoted: bool) -> bytes:
    if quoted:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(lines)
        content = buffer.getvalue()
    else:  # cells joined as they are: stray quotes and line breaks stay stray
        content = "\n".join(delimiter.join(line) for line in lines)
    return content.encode(encoding, errors="replace")


uploads = st.one_of(
    st.binary(max_size=2000),
    st.builds(csv_bytes, st.lists(st.lists(cells, max_size=6), max_size=8),
              st.sampled_from([",", "\t", ";"]), st.sampled_from(ENCODINGS), st.booleans()),
    st.builds(lambda account, encoding: f"账号,来源,日期,备注\r\n{account},公安通报,2024-03-05,\r\n".encode(encoding),
              accounts, st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"])),
    st.sampled_from([
        b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff\x00", b"\r\n\r\n", "账号,来源\n".encode(),
        b"PK\x03\x04rest", b"\xd0\xcf\x11\xe0rest", b"6222021234567890\x00", b"\x01\x02\x03" * 20,
        b"6222021234567890," + b"x" * 300_000, b"6222021234567890" * 20_000, b'"6222021234567890\n1,2',
        b"payee_hash,payee_masked,sessions,last_seen,key_id\n" + b"a" * 64 + b",6222 **** 1234,1,2024-01-01,x",
        "\n".join(f"62{n:016d}" for n in range(3000)).encode(),
    ]),
)
FILENAMES = ["名单.csv", "", "list.xlsx", "../../etc/passwd", 'a"b.csv', "a;b.csv", "x" * 300]


@FUZZ
@given(data=st.one_of(st.none(), uploads), filename=st.sampled_from(FILENAMES),
       default_source=st.one_of(st.none(), text), skip_errors=st.one_of(st.none(), st.just("y"), text))
@example(data=None, filename="名单.csv", default_source=None, skip_errors=None)
@example(data=b"", filename="名单.csv", default_source=None, skip_errors="y")
@example(data=f"{LISTED[0]}\nnot-an-account\n".encode(), filename="名单.csv", default_source=None,
         skip_errors=None)
def test_watchlist_import(review_app, security, listed, data, filename, default_source, skip_errors):
    form = {}
    if data is not None:
        form["upload"] = (io.BytesIO(data), filename)
    if default_source is not None:
        form["default_source"] = default_source
    if skip_errors is not None:
        form["skip_errors"] = skip_errors
    entries, imports = watchlist_size(review_app)
    response = security.post("/watchlist/import", form, content_type="multipart/form-data")
    no_server_error(response, (data or b"")[:200])
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 400), response.status_code
    now_entries, now_imports = watchlist_size(review_app)
    if response.status_code == 400:  # refused: nothing written, and the page says why
        assert (now_entries, now_imports) == (entries, imports)
        assert ERROR_BANNER in html or FIELD_ERROR in html
    else:
        assert data and filename and now_imports == imports + 1
        added = int(re.search(r'<th scope="row">新增</th><td class="num">(\d+)</td>', html).group(1))
        assert now_entries == entries + added
        if not skip_errors:  # all or nothing: imported means every line was right
            assert re.search(r'已跳过的错误行</th><td class="num">0</td>', html)


def test_watchlist_import_too_large(review_app, security, listed):
    before = watchlist_size(review_app)
    data = (LISTED[0] + "\n").encode() * (9 * 1024 * 1024 // 20)  # past the 8 MB limit
    response = security.post("/watchlist/import", {"upload": (io.BytesIO(data), "名单.csv")},
                             content_type="multipart/form-data")
    no_server_error(response)
    assert response.status_code == 413
    assert "文件过大" in response.get_data(as_text=True)
    assert watchlist_size(review_app) == before


def account_spellings(account: str) -> st.SearchStrategy[str]:
    return st.sampled_from([account, " ".join(re.findall(".{1,4}", account)), "-".join(re.findall(".{1,4}", account)),
                            account.translate(str.maketrans("0123456789", "０１２３４５６７８９")), f" {account}\t"])


@FUZZ
@given(account=st.one_of(text, digits, nasty,
                         st.sampled_from(LISTED).flatmap(account_spellings),
                         accounts.flatmap(account_spellings)))
def test_watchlist_search(review_app, security, listed, account):
    response = security.post("/watchlist/search", {"account": account})
    no_server_error(response, account)
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert FIELD_ERROR in html
        return
    plain = re.sub(r"\s|-", "", account.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if re.fullmatch(r"[0-9]{8,30}", plain):
        masked = pii.mask_account(plain)
        key = review_app.extensions["teller_guard"]["pii_key"]
        found = rows(review_app, "SELECT 1 FROM watchlist WHERE account_hash = ?",
                     [store.account_hash(key, plain)])
        verdict = "在涉诈名单中" if found else "不在涉诈名单中"
        assert f"账号 {masked} {verdict}" in html
        if len(plain) > 8:
            assert plain not in html  # only the masked number is shown


@FUZZ
@given(reason=st.one_of(st.none(), text, st.sampled_from(XSS), st.just("核实为正常账户"), st.just("x" * 201)))
def test_watchlist_remove(review_app, security, reason):
    account = f"6299{next(FRESH):015d}"  # a new entry each time, to remove
    assert import_directly(review_app, account.encode()).imported
    key = review_app.extensions["teller_guard"]["pii_key"]
    entry_id = scalar(review_app, "SELECT rowid FROM watchlist WHERE account_hash = ?",
                      [store.account_hash(key, account)])
    response = security.post(f"/watchlist/{entry_id}/remove", {} if reason is None else {"reason": reason})
    no_server_error(response, reason)
    still_listed = rows(review_app, "SELECT 1 FROM watchlist WHERE rowid = ?", [entry_id])
    if reason is not None and reason.strip() and len(reason) <= 200:
        assert response.status_code == 302
        assert not still_listed
    else:
        assert response.status_code == 400
        assert FIELD_ERROR in response.get_data(as_text=True)
        assert still_listed


@FUZZ
@given(segment=st.one_of(st.sampled_from(NO_SUCH_IDS), odd_segments), reason=text)
@example(segment=str(2**63), reason="误报")  # was a 500
def test_watchlist_remove_no_such_entry(review_app, security, listed, segment, reason):
    before = watchlist_size(review_app)
    response = security.post(f"/watchlist/{path_segment(segment)}/remove", {"reason": reason})
    no_server_error(response, segment)
    if segment in NO_SUCH_IDS[:2]:  # a row id SQLite can hold: "no longer listed", back to the list
        assert response.status_code == 302
    elif segment in NO_SUCH_IDS:
        assert response.status_code == 404
    else:
        assert response.status_code in (308, 404, 405), response.status_code
    assert watchlist_size(review_app) == before


@FEW
@given(before=st.one_of(st.sampled_from(NO_SUCH_IDS), st.sampled_from(["-1", "0", "1", "⓵", "", " 5"]), text))
@example(before=str(2**63))  # was a 500
def test_watchlist_list_page_cursor(review_app, security, listed, before):
    response = security.client.get("/watchlist/", query_string={"before": before})
    no_server_error(response, before)
    assert response.status_code == 200
    search = security.post(f"/watchlist/search?before={quote(before, safe='')}", {"account": LISTED[0]})
    no_server_error(search, before)
    assert search.status_code == 200


@FEW
@given(pairs=st.lists(st.tuples(st.sampled_from(["kind", "user", "before", "unknown"]),
                                st.one_of(st.sampled_from(["export.queue", "pii.accessed", "1", "2",
                                                           str(2**63), "9" * 19, "⓵", ""]), text)),
                      max_size=4))
def test_access_log_filters(security, cases, pairs):
    response = security.client.get("/review/access-log", query_string=MultiDict(pairs))
    no_server_error(response, pairs)
    assert response.status_code == 200  # a bad filter is named and dropped, never refused
    html = response.get_data(as_text=True)
    kind = first(pairs, "kind")
    if kind and kind not in ("export.queue", "export.statistics", "watchlist.exported",
                             "pii.accessed"):
        assert "请从列表中选择记录类别" in html, kind


@FEW
@given(extra=st.dictionaries(st.sampled_from(["full", "format", "rows", "key_id", "unknown"]), text, max_size=3),
       who=st.sampled_from(["security", "admin"]))
def test_watchlist_export(review_app, security, admin, cases, extra, who):
    user = security if who == "security" else admin
    exports = scalar(review_app, "SELECT count(*) FROM ledger WHERE kind = 'watchlist.exported'")
    response = user.post("/watchlist/export", extra)
    no_server_error(response, extra)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert tuple(lines[0]) == store.EXPORT_HEADER
    fingerprint = store.key_fingerprint(review_app.extensions["teller_guard"]["pii_key"])
    assert all(len(line) == 5 and line[4] == fingerprint and "*" in line[1] for line in lines[1:])
    assert scalar(review_app, "SELECT count(*) FROM ledger WHERE kind = 'watchlist.exported'") == exports + 1


# --- regressions: what the fuzzing above found (each was a 500) --------------------------------

def test_ids_and_dates_past_what_sqlite_and_date_can_hold(app, client, auth):
    """A path id past 2**63 - 1 (SQLite's largest INTEGER) made the lookup raise OverflowError,
    so did ?before= on the watchlist; ?date_to=9999-12-31 made the day after it overflow."""

    auth.login("security")
    token = csrf_token(client, "/review/")
    for huge in (str(2**63), "9" * 40):
        assert client.get(f"/review/{huge}").status_code == 404
        for action, form in (("transition", {"to": "in_review"}), ("assign", {"assignee_id": "1"}),
                             ("note", {"note": "备注"})):
            response = client.post(f"/review/{huge}/{action}", data={**form, "csrf_token": token})
            assert response.status_code == 404, (huge, action)
        response = client.post(f"/watchlist/{huge}/remove", data={"reason": "误报", "csrf_token": token})
        assert response.status_code == 404
        assert client.get(f"/watchlist/?before={huge}").status_code == 200
    assert client.get(f"/review/{2**63 - 1}").status_code == 404  # the largest id still routes
    queue = client.get("/review/?date_to=9999-12-31")
    assert queue.status_code == 200
    export = client.post("/review/export/queue", data={"date_to": "9999-12-31", "csrf_token": token})
    assert export.status_code == 200
    assert export.get_data(as_text=True).removeprefix("\ufeff").startswith("业务编号")


ID_ROUTES = ["/review/{}", "/screening/{}/questions", "/print/{}/slip", "/print/{}/slip.pdf",
             "/print/{}/alert"]


@pytest.mark.parametrize("number", ["9" * 4301, "9" * 20, str(2**63), "٣", "①"])
def test_an_id_no_row_can_have_is_not_found_on_every_area(app, client, auth, number):
    """Werkzeug's own <int:> took any run of digits of any script: 4,301 of them made int()
    raise while the URL was matched (a 500 before any view), and ids past 2**63 - 1 failed when
    SQLite bound them. The app's converter (app.RowIdConverter) routes neither."""
    auth.login("admin")
    token = csrf_token(client, "/admin/")
    for route in ID_ROUTES:
        assert client.get(route.format(number)).status_code == 404, route
    for route in ("/admin/users/{}/disable", "/admin/api-tokens/{}/revoke", "/watchlist/{}/remove"):
        assert client.post(route.format(number), data={"csrf_token": token}).status_code == 404
