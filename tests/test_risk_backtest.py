"""The labelled corpus and the backtest report."""

import json
from collections import Counter
from pathlib import Path

import pytest

from teller_guard.risk import load_rules
from teller_guard.risk.backtest import CorpusError, format_report, load_cases, main, run_backtest

CASES = Path(__file__).parent / "data" / "cases.jsonl"


# Higher lines and the "words match the situation" rule switched off: some scams slip through.
LENIENT = """[thresholds]
high = 79
critical = 99

[[rules]]
id = "scam_story_unknown_payee"
enabled = false
"""


@pytest.fixture(scope="module")
def report():
    return run_backtest(CASES)


INNOCENT_PURPOSES = {"family_living", "tuition", "house_purchase", "salary", "trade_payment", "repay_debt",
                     "medical", "rent", "gift", "consumer_purchase", "own_account", "legal_court",
                     "repay_bank_loan", "tax", "other"}


def test_corpus_size_and_mix():
    cases = load_cases(CASES)
    labels = Counter(case.label for case in cases)
    assert len(cases) >= 300
    assert labels["benign"] >= 100
    assert labels["must_stop"] >= 100


def test_every_scam_case_names_its_typology_or_none():
    for case in load_cases(CASES):
        if case.label != "benign":
            assert case.typology_labelled, case.id


def test_corpus_has_benign_stories_with_alarming_words():
    rules = load_rules()
    alarming = [case for case in load_cases(CASES) if case.label == "benign"
                and rules.phrases.analyze(case.screening.answers.purpose_text).found]
    assert len(alarming) >= 100


def test_corpus_has_scams_behind_an_innocent_purpose():
    hidden = [case for case in load_cases(CASES) if case.label == "must_stop"
              and case.screening.answers.purpose in INNOCENT_PURPOSES]
    assert len(hidden) >= 40


def test_corpus_contains_the_seed_cases():
    stories = {case.id: case.story_zh for case in load_cases(CASES)}
    assert "14万余元" in stories["seed_huang_loan_unfreeze"]
    assert "8张银行卡" in stories["seed_liu_hotel_cards"] and "宾馆" in stories["seed_liu_hotel_cards"]
    assert "某某市公安局" in stories["seed_zhang_own_other_card"]


def test_every_typology_leads_several_must_stop_cases(report):
    expected = Counter(r.case.expected_typology for r in report.must_stop)
    leading = Counter(r.primary for r in report.must_stop if r.primary == r.case.expected_typology)
    for typology in load_rules().typologies:
        assert expected[typology.id] >= 6, (typology.id, expected)
        assert leading[typology.id] >= 5, (typology.id, leading)


def test_benign_cases_cover_large_older_other_region_and_new_payees():
    benign = [case.screening for case in load_cases(CASES) if case.label == "benign"]
    assert sum(1 for s in benign if s.transaction.amount and s.transaction.amount >= 50000) >= 10
    assert sum(1 for s in benign if s.customer.age and s.customer.age >= 60) >= 8
    assert sum(1 for s in benign if s.transaction.other_region) >= 8
    assert sum(1 for s in benign if s.transaction.payee_known == "new") >= 10


def test_all_must_stop_cases_are_held(report):
    missed = [r.case.id for r in report.must_stop if r.level not in ("high", "critical")]
    assert missed == []
    assert report.must_stop_recall == 1.0


def test_benign_customers_are_rarely_held_and_seldom_given_a_slip(report):
    assert report.benign_false_alarm_rate <= 0.02  # 高/极高
    assert report.benign_medium_rate <= 0.15  # 中 or above


def test_the_primary_typology_is_the_story_s_scam(report):
    assert len(report.typology_labelled_scams) >= 150
    assert report.primary_accuracy >= 0.90, [(r.case.id, r.primary) for r in report.wrong_primary]
    assert report.meets_targets()


def test_report_prints_typology_confusion_and_rule_counts(report):
    text = format_report(report)
    assert "类型混淆 Typology confusion" in text and "规则命中 Rule fire counts" in text
    counts = report.rule_counts()
    assert counts["new_payee"] == sum(
        1 for r in report.results if any(f.rule_id == "new_payee" for f in r.fired))


def test_format_report_shows_matrix_figures_and_misses(report):
    text = format_report(report)
    assert "must-stop recall" in text and "benign false alarms" in text
    assert "must_stop high..critical" in text
    assert report.rules_version in text
    total = sum(sum(row.values()) for row in report.confusion().values())
    assert total == len(report.results)


def test_misses_are_listed_with_their_reasons(tmp_path):
    # A branch override that switches off the rules behind one seed case makes it a miss.
    override = tmp_path / "lenient.toml"
    override.write_text(LENIENT, encoding="utf-8")
    lenient = run_backtest(CASES, load_rules(override_path=override))
    assert lenient.must_stop_recall < 1.0
    text = format_report(lenient)
    miss = lenient.misses[0]
    assert f"- {miss.case.id}" in text
    assert miss.fired[0].rule_id in text


def test_main_prints_and_exits_zero(capsys):
    assert main([str(CASES)]) == 0
    out = capsys.readouterr().out
    assert "必拦截召回" in out and "100.0%" in out


def test_main_strict_and_rules_options(tmp_path, capsys):
    override = tmp_path / "lenient.toml"
    override.write_text(LENIENT, encoding="utf-8")
    assert main([str(CASES), "--strict"]) == 0
    assert main([str(CASES), "--override", str(override), "--strict"]) == 1
    broken = tmp_path / "rules.toml"
    broken.write_text("[thresholds]\nmedium = 'x'\n", encoding="utf-8")
    assert main([str(CASES), "--rules", str(broken)]) == 2
    assert "rules.toml" in capsys.readouterr().err


@pytest.mark.parametrize("line, message", [
    ("not json", "invalid JSON"),
    (json.dumps({"id": "a", "label": "maybe", "input": {}}), "field 'label'"),
    (json.dumps({"id": "a", "label": "benign", "input": {"answers": {"purpose": "x"}}}),
     "case 'a': input.answers.purpose"),
    (json.dumps({"id": "a", "label": "benign", "expected_max_level": "huge", "input": {}}),
     "expected_max_level"),
])
def test_bad_corpus_lines_are_reported(tmp_path, line, message):
    path = tmp_path / "cases.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load_cases(path)


def test_the_holdout_corpus_meets_the_targets_too():
    """tests/data/holdout.jsonl was written without sight of the rules (80 cases). Its first run
    (rules adfafe68a6ac) found one false hold and five wrong primaries; the rules were fixed in
    general terms, and the corpus stays as a second check."""
    holdout = run_backtest(CASES.with_name("holdout.jsonl"))
    assert len(holdout.results) == 80
    assert holdout.meets_targets(), format_report(holdout)
