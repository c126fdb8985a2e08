"""Watchlist file import: encodings, header, errors by line, all or nothing, counts, ledger."""

import json
from datetime import date

import pytest

from teller_guard import audit, pii
from teller_guard.watchlist import csv_import, store

pytestmark = pytest.mark.both_backends


TODAY = date(2026, 3, 31)
ACCOUNTS = ["6222021234567890123", "6217001234567890", "6228480012345678901"]


@pytest.fixture
def keys(app):
    extensions = app.extensions["teller_guard"]
    return extensions["pii_key"], extensions["ledger_key"]


@pytest.fixture
def run_import(database, keys):
    def run(data, **options):
        if isinstance(data, str):
            data = data.encode("utf-8")
        return csv_import.import_file(database, pii_key=keys[0], ledger_key=keys[1], data=data,
                                      actor_id=None, today=TODAY, **options)
    return run


def listed(database):
    return database.execute("SELECT count(*) FROM watchlist").fetchone()[0]


def test_imports_with_header_bom_and_counts(database, run_import, keys):
    text = ("账号,来源,日期,备注\r\n"
            f"{ACCOUNTS[0]},市反诈中心,2026-03-01,刷单\r\n"
            f"6217-0012 3456 7890,,2026/3/2,\r\n"
            f"{ACCOUNTS[2]}\r\n"
            "\r\n"
            f"{ACCOUNTS[0]},重复,2026-03-03,\r\n")
    report = run_import(("\ufeff" + text).encode("utf-8"), default_source="总行通报")
    assert report.imported and report.kind == "accounts"
    assert (report.data_lines, report.added, report.already_listed) == (4, 3, 0)
    assert report.duplicates == [(6, 2)]
    entry = store.find(database, pii.keyed_hash(keys[0], ACCOUNTS[1]))
    assert entry.account_masked == "6217 **** **** 7890"
    assert (entry.source, entry.listed_on) == ("总行通报", "2026-03-02")
    first = store.find(database, pii.keyed_hash(keys[0], ACCOUNTS[0]))
    assert (first.source, first.note) == ("市反诈中心", "刷单")  # first occurrence wins
    event = database.execute("SELECT data FROM ledger WHERE kind = 'watchlist.imported'").fetchone()
    data = json.loads(event[0])
    assert data == {"import_id": report.import_id, "kind": "accounts", "data_lines": 4,
                    "added": 3, "renewed": 0, "already_listed": 0, "duplicates": 1,
                    "skipped_errors": 0}
    again = run_import(f"{ACCOUNTS[0]}\n6222000011112222\n")
    assert (again.added, again.already_listed) == (1, 1)
    assert listed(database) == 4


def test_hash_matches_the_screening_hash_of_the_same_account(database, run_import, keys):
    run_import("６２２２ ０２１２－３４５６ ７８９０ １２３\n")  # full-width digits, spaces, dash
    assert store.is_listed(database, pii.keyed_hash(keys[0], ACCOUNTS[0]))


def test_any_bad_line_imports_nothing(database, run_import):
    text = (f"{ACCOUNTS[0]},来源,2026-03-01\n"
            "12345,来源\n"
            "6222abc1234567890\n"
            "6.22202E+18\n"
            f"{ACCOUNTS[1]},来源,2026-02-30\n"
            f"{ACCOUNTS[2]},来源,2027-01-01\n"
            "6222000011112222,a,2026-01-01,note,2026-12-31,extra\n"
            f"6222000011113333,{'长' * 65}\n")
    report = run_import(text)
    assert not report.imported and listed(database) == 0
    reasons = {error.line: error.reason for error in report.errors}
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 8}
    assert "8 至 30 位" in reasons[2] and "5 位" in reasons[2]
    assert "只能包含数字" in reasons[3]
    assert "科学计数法" in reasons[4]
    assert "日期无法识别" in reasons[5]
    assert "晚于今天" in reasons[6]
    assert "列数超过" in reasons[7]
    assert "来源超过 64" in reasons[8]
    assert all(account not in reason for account in ACCOUNTS for reason in reasons.values())
    assert database.execute("SELECT count(*) FROM ledger WHERE kind = 'watchlist.imported'"
                            ).fetchone()[0] == 0
    assert database.execute("SELECT count(*) FROM watchlist_imports").fetchone()[0] == 0


def test_skip_errors_imports_only_good_lines(database, run_import):
    report = run_import(f"{ACCOUNTS[0]}\nbad\n{ACCOUNTS[1]}\n", skip_errors=True)
    assert report.imported and report.added == 2 and [e.line for e in report.errors] == [2]
    row = database.execute("SELECT skipped_errors, added FROM watchlist_imports").fetchone()
    assert row == (1, 2)


def test_import_is_one_transaction(database, run_import, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(audit, "append", fail)
    with pytest.raises(RuntimeError):
        run_import(f"{ACCOUNTS[0]}\n{ACCOUNTS[1]}\n")
    assert listed(database) == 0
    assert database.execute("SELECT count(*) FROM watchlist_imports").fetchone()[0] == 0


@pytest.mark.parametrize(("data", "message"), [
    (b"", "文件为空"),
    (b"  \r\n \n", "文件为空"),
    (b"PK\x03\x04rest-of-zip", "xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是文本文件"),
    (b"\xff\xfe\x00", "UTF-16"),
    ("账号,来源\n".encode(), "没有数据行"),
    (b"6222021234567890123,\"unclosed\n", "引号"),
    (b"\x80\x81\xff\xfe\xfd", "编码无法识别"),
    (bytes(range(1, 32)) * 4, "控制字符"),
])
def test_unusable_files_get_a_clear_message(run_import, data, message):
    with pytest.raises(csv_import.UploadRejected) as problem:
        run_import(data)
    assert message in str(problem.value)


def test_gbk_and_utf16_tab_files_from_excel(database, run_import, keys):
    gbk = f"账号,来源,日期,备注\r\n{ACCOUNTS[0]},公安通报,2026年3月5日,冒充公检法\r\n".encode("gbk")
    report = run_import(gbk)
    assert report.added == 1
    entry = store.find(database, pii.keyed_hash(keys[0], ACCOUNTS[0]))
    assert (entry.source, entry.listed_on, entry.note) == ("公安通报", "2026-03-05", "冒充公检法")
    utf16 = f"账号\t来源\r\n{ACCOUNTS[1]}\t协查\r\n".encode("utf-16")
    assert run_import(utf16).added == 1


def test_long_numbers_in_notes_are_masked(database, run_import):
    run_import(f"{ACCOUNTS[0]},来源,,关联账号 {ACCOUNTS[1]} 手机 13812345678\n")
    note = database.execute("SELECT note FROM watchlist").fetchone()[0]
    assert ACCOUNTS[1] not in note and "13812345678" not in note
    assert "6217 **** **** 7890" in note


def test_own_export_file_can_be_imported_back(app, database, run_import, keys):
    payee = pii.keyed_hash(keys[0], ACCOUNTS[2])
    teller_id = database.execute("SELECT id FROM users WHERE username = 'teller'").fetchone()[0]
    database["sessions"].insert({"reference": "TG1", "teller_id": teller_id, "status": "finished",
                                 "started_at": "2026-03-20T10:00:00+08:00", "level": "critical",
                                 "payee_hash": payee, "payee_masked": "6228 **** **** 8901"})
    exported = store.export_high_risk_payees(database, keys[1], keys[0], actor_id=None)
    report = run_import(exported)
    assert report.imported and report.kind == "hashes" and report.added == 1
    entry = store.find(database, payee)
    assert (entry.account_masked, entry.listed_on, entry.note) == (
        "6228 **** **** 8901", "2026-03-20", "问询 1 次")


def test_export_from_another_instance_is_refused(run_import):
    other_key = b"another instance" * 2
    line = f"{'a' * 64},6228 **** **** 8901,1,2026-03-20,{store.key_fingerprint(other_key)}"
    with pytest.raises(csv_import.UploadRejected, match="另一个实例"):
        run_import("payee_hash,payee_masked,sessions,last_seen,key_id\n" + line + "\n")


def test_quoted_line_break_is_reported_at_its_first_line(run_import):
    report = run_import(f'{ACCOUNTS[0]}\n{ACCOUNTS[1]},"来源\n续",2026-03-01\n{ACCOUNTS[2]}\n')
    assert not report.imported
    assert [(error.line, "跨到了第 3 行" in error.reason) for error in report.errors] == [(2, True)]
