"""The glossary (issue 15, item 13): one name per thing everywhere. Fails when a variant the
glossary replaced comes back, when two label tables name one code differently, when an
amount is shown another way than 500,000.00, or when a ledger view shows a stored code."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import csrf_token
from printing_web_helpers import make_session
from screening_helpers import BENIGN_ANSWERS, SAFE_ACCOUNT_FACTS, post_facts, screen, session_id_from

from teller_guard import api_scope, audit, clock, labels, settings, users
from teller_guard.printing import content as printing_content
from teller_guard.printing_web import content as printing_web_content
from teller_guard.printing_web import outbox
from teller_guard.review import access_log, export, state, timeline
from teller_guard.risk import default_rules
from teller_guard.risk.model import OBSERVATION_FLAGS
from teller_guard.screening import inputs, service

ROOT = Path(__file__).resolve().parent.parent
CODE_LIKE = re.compile(r"[a-z]+[._][a-z_]+")


def sources():
    """Templates and code that word things for people. The rule file (teller_guard/risk) keeps
    the police checklist's own wording and is shown through labels.plain/OBSERVATIONS; the
    glossary itself names the variants."""
    for path in sorted((ROOT / "templates").rglob("*.html")):
        yield path
    for path in sorted((ROOT / "teller_guard").rglob("*.py")):
        if "risk" not in path.parts and path.name != "labels.py":
            yield path
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))


def variants():
    return [(preferred, variant) for preferred, found in labels.VARIANTS.items()
            for variant in found]


def test_no_replaced_variant_is_written_in_templates_code_or_docs():
    found = [f"{path.relative_to(ROOT)}: {variant!r} (say {preferred!r})"
             for path in sources() for preferred, variant in variants()
             if variant in path.read_text(encoding="utf-8")]
    assert not found, "\n".join(found)


def test_variants_do_not_hide_a_preferred_name():
    for preferred, variant in variants():
        assert variant != preferred and variant not in preferred, (preferred, variant)


# --- one label per code --------------------------------------------------------------------


def test_modules_use_the_glossarys_tables_rather_than_their_own():
    same = [
        (audit.KINDS, labels.EVENT_KINDS), (users.ROLES, labels.ROLES),
        (service.OUTCOMES, labels.OUTCOMES), (service.LEVEL_LABELS, labels.LEVELS),
        (inputs.CHANNEL_LABELS, labels.CHANNELS), (inputs.OCCUPATION_LABELS, labels.OCCUPATIONS),
        (inputs.PAYEE_TYPE_LABELS, labels.PAYEE_TYPES),
        (inputs.PAYEE_KNOWN_LABELS, labels.PAYEE_KNOWN),
        (timeline.FACT_LABELS, labels.FACT_NAMES), (timeline.FACT_VALUES, labels.FACT_VALUES),
        (timeline.PAPERS, labels.PAPERS), (state.STATUS_LABELS, labels.REVIEW_STATUSES),
        (outbox.STATUS_LABELS, labels.OUTBOX_STATUSES),
    ]
    for theirs, ours in same:
        assert theirs is ours


def test_a_code_named_in_two_tables_has_the_same_name_in_both():
    supervisor_kinds = {"confirmed": "screening.supervisor_confirmed",
                        "override": "screening.supervisor_override"}
    for decision, kind in supervisor_kinds.items():
        assert labels.SUPERVISOR_DECISIONS[decision] == labels.EVENT_KINDS[kind]
    for field, name in labels.PII_FIELDS.items():
        assert name == labels.FACT_NAMES[field]
    for field, values in labels.FACT_VALUES.items():
        assert field in labels.FACT_NAMES and all(values.values())
    for field, name in inputs.TEXT_LABELS.items():  # the form's error messages
        assert name == labels.FACT_NAMES[field]


def test_the_rule_files_names_match_the_glossary():
    rules = default_rules()
    assert rules.level_labels == labels.LEVELS
    assert {code: action.label_zh for code, action in rules.actions.items()} == labels.ACTIONS
    names = {typology.id: typology.name_zh for typology in rules.typologies}
    assert labels.typology_labels() == {**labels.FALLBACK_TYPOLOGIES, **names}
    assert {code: labels.FALLBACK_TYPOLOGIES[code] for code in names} == names


def test_every_observation_and_question_has_words_for_customers():
    assert set(labels.OBSERVATIONS) == set(OBSERVATION_FLAGS)
    for definition in default_rules().questions:
        shown = labels.shown_question(definition.question.to_dict())
        for _, variant in variants():
            assert variant not in shown["text_zh"], (definition.question.id, variant)
            assert all(variant not in label for _, label in shown["options"]), variant
        if shown["answer_field"] == "observations":
            assert dict(shown["options"]) == labels.OBSERVATIONS


def test_labels_of_people_are_chinese():
    tables = [labels.LEVELS, labels.OUTCOMES, labels.ACTIONS, labels.SESSION_STATUS,
              labels.STEPS, labels.DISCARD_REASONS, labels.SUPERVISOR_DECISIONS, labels.CHANNELS, labels.PAYEE_TYPES,
              labels.PAYEE_KNOWN, labels.OCCUPATIONS, labels.OBSERVATIONS, labels.FACT_NAMES,
              labels.PII_FIELDS, labels.PII_PURPOSES, labels.PAPERS, labels.REVIEW_STATUSES,
              labels.OUTBOX_STATUSES, labels.LOGIN_PURPOSES, labels.SETTING_NAMES,
              labels.EVENT_KINDS, labels.ROLES]
    for table in tables:
        for code, label in table.items():
            assert labels.is_chinese_label(label), (code, label)


# --- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize("value, shown", [
    ("500000", "500,000.00"), (500000, "500,000.00"), ("1234567.891", "1,234,567.89"),
    ("0.005", "0.01"), ("-20", "-20.00"), (None, ""), ("abc", "abc")])
def test_amount_is_one_format(value, shown):
    assert labels.amount(value) == shown


def test_fen_amounts_on_screens_csv_and_paper():
    assert labels.yuan(50_000_000) == "500,000.00" and labels.yuan(5) == "0.05"
    assert labels.yuan_plain(50_000_000) == "500000.00" and labels.yuan_plain(-5) == "-0.05"
    assert printing_content.format_amount(500000) == "¥500,000.00"
    assert printing_content.format_amount("-20") == "-¥20.00"


def ungrouped(page: str) -> list[str]:
    """500000 written without grouping (500000, 500000.00), outside URLs and input names."""
    return re.findall(r"(?<![\d,])500000(?:\.\d\d)?(?![\d])", html_lib.unescape(page))


def test_every_page_shows_the_amount_as_500_000_00(app, client, auth, database):
    auth.login("teller")
    facts = {**SAFE_ACCOUNT_FACTS, "amount": "50万"}
    response = post_facts(client, facts)
    session_id = session_id_from(response)
    questions = client.get(f"/screening/{session_id}/questions").get_data(as_text=True)
    edit = client.get(f"/screening/{session_id}/facts").get_data(as_text=True)
    assert 'name="amount" value="500,000.00"' in edit
    screen(client, {**facts, "payee_account": "6222020200112341234"}, BENIGN_ANSWERS)
    pages = {"questions": questions, "facts-edit": edit,
             "mine": client.get("/screening/").get_data(as_text=True)}
    assessed = database.execute("SELECT id FROM sessions WHERE level IS NOT NULL").fetchone()[0]
    pages["result"] = client.get(f"/screening/{assessed}/result").get_data(as_text=True)
    auth.logout()
    auth.login("security")
    pages["review-detail"] = client.get(f"/review/{assessed}").get_data(as_text=True)
    for name, page in pages.items():
        assert "500,000.00" in page, name
        assert not ungrouped(page), (name, ungrouped(page))
    row = service.get(database, assessed)
    slip = printing_web_content.slip_content(row, settings.load(database),
                                             printing_web_content.Person("王柜员", "T001"),
                                             datetime.now())
    assert dict(printing_content.slip_summary_rows(slip))["转账金额"] == "¥500,000.00"
    csv_text = "".join(export.queue_lines([{**row, "assignee_id": None}], {}, {}))
    assert ",500000.00," in csv_text  # CSV: a plain number column, for Excel


# --- words on the pages --------------------------------------------------------------------


def assert_no_variant(name: str, page: str) -> None:
    text = html_lib.unescape(page)
    for preferred, variant in variants():
        assert variant not in text, f"{name}: {variant!r} (say {preferred!r})"


def test_pages_use_the_glossarys_words(app, client, auth, database):
    auth.login("teller")
    session_id = session_id_from(post_facts(client, SAFE_ACCOUNT_FACTS))  # 66 years old
    questions = client.get(f"/screening/{session_id}/questions").get_data(as_text=True)
    assert "年龄较大的客户" in questions
    for flag, label in labels.OBSERVATIONS.items():
        assert re.search(rf'id="obs-{flag}"[^>]*>\s*<label for="obs-{flag}">{re.escape(label)}</label>',
                         questions), flag
    assert_no_variant("questions", questions)
    critical = make_session(app, database, "critical")
    result = client.get(f"/screening/{critical}/result").get_data(as_text=True)
    assert labels.SUPERVISOR_DECISIONS["override"] in result
    assert_no_variant("result", result)
    auth.logout()
    auth.login("supervisor")
    path = f"/review/{critical}"
    detail = client.get(path).get_data(as_text=True)
    for flag in ("on_phone", "told_keep_secret", "hurried"):
        assert f"<li>{labels.OBSERVATIONS[flag]}</li>" in detail
    assert_no_variant("review-detail", detail)
    rules = default_rules()
    alert_observations = printing_web_content.observation_labels(service.get(database, critical),
                                                                 rules)
    assert alert_observations == tuple(labels.OBSERVATIONS[flag] for flag in
                                       ("on_phone", "told_keep_secret", "hurried"))


def test_the_api_asks_in_the_glossarys_words(app, client):
    from api_helpers import CRITICAL, new_token, post

    _, token = new_token(app)
    reply = post(client, token, {"teller": "teller", "facts": CRITICAL["facts"]})
    assert reply.status_code == 201, reply.get_json()
    questions = {q["id"]: q for q in reply.get_json()["questions"]}
    assert dict(map(tuple, questions["observe_customer"]["options"])) == labels.OBSERVATIONS
    assert "群众" not in questions["family_consulted"]["text_zh"]


# --- the ledger views ----------------------------------------------------------------------

# One event of every kind, with the data its producer writes.
SAMPLES = {
    "login.succeeded": {"username": "teller1", "purpose": "login"},
    "login.failed": {"username": None, "purpose": "supervisor", "address": "10.0.0.5"},
    "login.locked": {"username": "teller1"},
    "login.throttled": {"username": "teller1", "purpose": "login", "address": "10.0.0.5"},
    "logout": {"username": "teller1"},
    "user.created": {"user_id": 7, "username": "zhang", "role": "teller", "password": "ab" * 32},
    "user.disabled": {"user_id": 7, "username": "zhang"},
    "user.enabled": {"user_id": 7, "username": "zhang"},
    "user.password_reset": {"user_id": 7, "username": "zhang", "password": "ab" * 32},
    "user.role_changed": {"user_id": 7, "username": "zhang", "role": "supervisor"},
    "user.details_changed": {"user_id": 7, "username": "zhang",
                             "staff_no": {"before": "", "after": "A001"}},
    "user.password_changed": {"user_id": 7, "username": "zhang", "password": "f" * 16,
                              "must_change_password": False},
    "settings.changed": {"large_amount": {"before": "50000.00", "after": "60000.00"},
                         "slip_paper": {"before": "a5", "after": "roll80"}, "branch": 2},
    "branch.created": {"branch": 2, "code": "0002", "settings": {
        "bank_name": "示例银行", "branch_name": "桥东支行", "province": "河北省", "city": "邢台市",
        "large_amount": "50000", "elderly_age": 60, "slip_paper": "a5"}},
    "bank_settings.changed": {"payee_branches_min": {"before": 3, "after": 2},
                              "payee_branches_days": {"before": 7, "after": 14}},
    "user.branch_changed": {"user_id": 7, "username": "zhang", "branch": 2, "previous_branch": 1},
    "api_token.created": {"token_id": 3, "name": "核心系统", "token_hash": "cd" * 32,
                          "scope": {"tellers": ["teller1"], "read": "all",
                                    "may_supervise": True}},
    "api_token.revoked": {"token_id": 3, "name": "核心系统"},
    "screening.started": {"reference": "TG20261130-000123", "state": "ef" * 32,
                          "api_token_id": 3},
    "screening.step_saved": {"step": "questions", "fields": ["answers.purpose"],
                             "state": "ef" * 32},
    "screening.assessed": {"level": "critical", "score": 90, "action": "stop_and_report",
                           "typologies": ["gov_impersonation"], "rules_version": "2.0",
                           "fired": ["purpose_safe_account"], "amount_fen": 50_000_000,
                           "state": "ef" * 32},
    "screening.supervisor_confirmed": {"supervisor_id": 2, "reason": ""},
    "screening.supervisor_override": {"supervisor_id": 2, "reason": "客户坚持", "api_token_id": 3,
                                      "api_token": "核心系统"},
    "screening.outcome": {"outcome": "police_called", "amount_fen": 50_000_000,
                          "duration_seconds": 320},
    "screening.discarded": {"reason": "other", "note": "客户改日再来"},
    "screening.escalated": {"why": "manual", "reason": "疑似跨网点同一团伙"},
    "print.slip": {"paper": "roll80", "reprint": False},
    "print.alert": {"paper": "a4", "reprint": True},
    "alert.queued": {"outbox_id": 4, "idempotency_key": "inst-TG20261130-000123-alert-1"},
    "alert.sent": {"outbox_id": 4, "idempotency_key": "inst-TG20261130-000123-alert-1",
                   "attempts": 2, "http_status": 201},
    "pii.accessed": {"fields": ["customer_name", "payee_account"], "purpose": "police_alert"},
    "review.transition": {"from": "pending", "to": "in_review", "note": ""},
    "review.assigned": {"assignee_id": 3},
    "review.note": {"note": "已电话回访"},
    "export.queue": {"full": True, "filters": {"level": "critical"}, "rows": 4,
                     "sessions_with_personal_data": 4},
    "export.statistics": {"date_from": "2026-11-01", "date_to": "2026-11-30"},
    "retention.redacted": {"days": 180, "before": "2026-06-01", "sessions": 3, "fields": 9,
                           "alert_payloads": 1},
    "watchlist.imported": {"import_id": 2, "kind": "accounts", "data_lines": 10, "added": 8,
                           "already_listed": 1, "duplicates": 1, "skipped_errors": 0},
    "watchlist.removed": {"account_masked": "6222 **** **** 1234", "source": "公安通报",
                          "import_id": 2, "reason": "已核实为正常商户"},
    "watchlist.exported": {"rows": 5},
    "watchlist.added": {"entry_id": 4, "import_id": 3, "account_masked": "6222 **** **** 1234",
                        "category": "peer", "expires_on": "2026-12-31"},
    "watchlist.proposed": {"entry_id": 5, "account_masked": "6222 **** **** 1234",
                           "note": "已确认诈骗", "branch_id": 1},
    "watchlist.approved": {"entry_id": 5, "account_masked": "6222 **** **** 1234",
                           "expires_on": ""},
    "watchlist.rejected": {"entry_id": 5, "account_masked": "6222 **** **** 1234",
                           "reason": "证据不足"},
    "chain.anchored": {"seq": 12, "anchored_at": "2026-11-30T02:00:00+00:00"},
    "anchor.sent": {"outbox_id": 9, "idempotency_key": "inst-anchor-12", "attempts": 1,
                    "http_status": 200},
}


def test_every_ledger_event_kind_has_a_chinese_label_and_wording():
    assert set(SAMPLES) == set(labels.EVENT_KINDS), "add a sample for each new event kind"
    names = {2: "李主管", 3: "赵安保"}
    typologies = labels.typology_labels()
    for kind, data in SAMPLES.items():
        assert labels.is_chinese_label(labels.EVENT_KINDS[kind]), kind
        for words in (timeline.describe(kind, data, names, typologies),
                      access_log.describe(kind, data, names, typologies)):
            assert words and not CODE_LIKE.search(words), (kind, words)
            for key in data:  # no stored key shows through
                assert f"{key}：" not in words and f"{key}:" not in words, (kind, words)
            assert "police_alert" not in words and "gov_impersonation" not in words, words
    assert "打印警情通报单" in timeline.describe("pii.accessed", SAMPLES["pii.accessed"], {}, {})
    assert "同类已计分" in [line.value for line in timeline.reasons(
        {"fired": [{"rule_id": "x", "reason_zh": "同类", "points": 0}]})]
    assert api_scope.READ_SCOPES["all"] in timeline.describe(
        "api_token.created", SAMPLES["api_token.created"], {}, {})


def timeline_rows(page: str) -> list[tuple[str, str]]:
    body = re.search(r'<table class="data timeline">.*?</table>', page, re.S).group(0)
    return [(html_lib.unescape(label), html_lib.unescape(details)) for label, details in
            re.findall(r'<th scope="row">(.*?)</th><td>.*?</td><td>(.*?)</td></tr>', body)]


def test_the_review_timeline_and_access_log_show_no_stored_codes(app, client, auth, database):
    app.config["ALERT_ENDPOINT"] = "https://soc.bank.example/alerts"
    critical = make_session(app, database, "critical")
    keys = service.Keys(app.extensions["teller_guard"]["ledger_key"],
                        app.extensions["teller_guard"]["pii_key"])
    service.supervise(database, keys, critical, users.find_user(database, "supervisor")["id"],
                      "客户坚持，已核实")
    auth.login("supervisor")
    assert client.get(f"/print/{critical}/slip.pdf").status_code == 200
    token = csrf_token(client, f"/print/{critical}/alert")
    assert client.post(f"/print/{critical}/alert.pdf",
                       data={"csrf_token": token}).status_code == 200
    auth.logout()
    auth.login("security")
    detail = client.get(f"/review/{critical}").get_data(as_text=True)
    rows = timeline_rows(detail)
    kinds = {kind for (kind,) in database.execute(
        "SELECT DISTINCT kind FROM ledger WHERE session_id = ?", [critical])}
    assert {"screening.supervisor_override", "pii.accessed", "alert.queued"} <= kinds
    assert len(rows) == database.execute("SELECT count(*) FROM ledger WHERE session_id = ?",
                                         [critical]).fetchone()[0]
    for label, details in rows:
        assert labels.is_chinese_label(label), label
        assert not CODE_LIKE.search(details) and "police_alert" not in details, (label, details)
    assert ("查看完整个人信息", "用途：打印警情通报单；字段：客户姓名、客户身份证号、客户电话、收款账号、"
            "收款人名称") in rows
    assert any(label == "警情待发送" and details.startswith("警情外发记录 #")
               for label, details in rows)
    log = client.get("/review/access-log").get_data(as_text=True)
    assert "用途：打印警情通报单" in log and "police_alert" not in log


def test_printed_documents_follow_the_glossary(app, database):
    critical = make_session(app, database, "critical")
    keys = service.Keys(app.extensions["teller_guard"]["ledger_key"],
                        app.extensions["teller_guard"]["pii_key"])
    supervisor = users.find_user(database, "supervisor")["id"]
    service.supervise(database, keys, critical, supervisor, "客户坚持")
    row = service.get(database, critical)
    person = printing_web_content.Person("李主管", "S001")
    alert = printing_web_content.alert_content(
        row, {}, settings.load(database), default_rules(), teller=person, supervisor=person,
        printed_by=person, printed_at=datetime(2026, 11, 30, 10, 0),
        channel_labels=labels.CHANNELS, outcome_labels=labels.OUTCOMES)
    texts = [*alert.observations, *alert.actions_taken, *(q for q, _ in alert.answers),
             printing_content.alert_headline(alert)]
    assert "¥200,000.00" in printing_content.alert_headline(alert)
    for text in texts:
        for _, variant in variants():
            assert variant not in text, (text, variant)
    assert any(labels.SUPERVISOR_DECISIONS["override"].removeprefix("主管") in text
               for text in alert.actions_taken)


def test_times_are_shown_one_way():
    # Stored times (UTC, or an older row's local offset) in the bank's zone; dates as they are
    clock.use_zone("Asia/Shanghai")
    assert labels.when("2026-11-30T02:05:09+00:00") == "2026-11-30 10:05:09"
    assert labels.when("2026-11-30T10:05:09+08:00") == "2026-11-30 10:05:09"
    assert labels.local_when("2026-11-30T02:05:09+00:00") == "2026-11-30 10:05"
    assert labels.local_when("") == "" and labels.local_when("garbage") == "garbage"
    assert labels.when(date(2026, 11, 30).isoformat()) == "2026-11-30"
