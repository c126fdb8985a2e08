"""Rule file loading: the packaged set, branch overrides, and every kind of invalid file."""

import shutil
import textwrap

import pytest

from teller_guard.risk import RuleFileError, default_rules, load_rules
from teller_guard.risk.rules import DEFAULT_RULES_PATH

TYPOLOGY_IDS = {
    "gov_impersonation", "fake_loan", "task_rebate", "fake_investment", "romance_investment",
    "boss_impersonation", "fake_customer_service", "fake_military_purchase", "fake_prize_refund",
    "fake_emergency", "game_trade", "account_renting", "phone_bill_arrears", "phishing_link",
    "sextortion", "credit_repair", "elder_fraud", "escort_scam",
}


def write(tmp_path, text, name="branch.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_packaged_rules_load():
    rules = load_rules()
    assert {t.id for t in rules.typologies} == TYPOLOGY_IDS
    assert rules.thresholds["medium"] < rules.thresholds["high"] < rules.thresholds["critical"]
    assert set(rules.level_labels.values()) == {"低风险", "中风险", "高风险", "极高风险"}
    assert set(rules.actions) == {"proceed", "print_slip", "supervisor_hold", "stop_and_report"}
    assert len(rules.version) == 12
    for typology in rules.typologies:
        assert typology.teller_script_zh and typology.slip_text_zh and typology.follow_ups


def test_default_rules_are_cached_and_versions_are_stable():
    assert default_rules() is default_rules()
    assert load_rules().version == load_rules().version == default_rules().version


def test_empty_override_keeps_the_version(tmp_path):
    assert load_rules(override_path=write(tmp_path, "")).version == default_rules().version


def test_override_changes_points_thresholds_texts_and_adds_rules(tmp_path):
    override = write(tmp_path, """
        [thresholds]
        high = 55

        [[rules]]
        id = "large_amount"
        points = 15

        [[rules]]
        id = "branch_bitcoin_atm"
        points = 30
        reason_zh = "客户提到比特币"
        typologies = ["fake_investment"]
        when = { keywords = ["比特币"] }

        [[typologies]]
        id = "fake_loan"
        slip_text_zh = "本行提醒：放款前要求转款的都是诈骗。"
    """)
    rules = load_rules(override_path=override)
    assert rules.version != default_rules().version
    assert rules.thresholds["high"] == 55
    by_id = {rule.id: rule for rule in rules.rules}
    assert by_id["large_amount"].points == 15
    assert by_id["large_amount"].reason_zh == "大额转账汇款"  # fields not given are kept
    assert by_id["branch_bitcoin_atm"].typologies == ("fake_investment",)
    assert rules.typology_by_id["fake_loan"].slip_text_zh.startswith("本行提醒")
    assert rules.sources == ("rules.toml", "branch.toml")


def test_override_can_switch_a_rule_off(tmp_path):
    rules = load_rules(override_path=write(tmp_path, """
        [[rules]]
        id = "elderly_customer"
        enabled = false
    """))
    assert "elderly_customer" not in {rule.id for rule in rules.rules}


# --- invalid files: each message names the file, the entry and the field -----------------------

INVALID_OVERRIDES = [
    ("unknown key in a rule",
     """
     [[rules]]
     id = "large_amount"
     colour = "red"
     """,
     "branch.toml: rule 'large_amount': field 'colour' is unknown"),
    ("points of the wrong type",
     """
     [[rules]]
     id = "safe_account_words"
     points = "many"
     """,
     "branch.toml: rule 'safe_account_words': field 'points' must be an integer 0-100"),
    ("points out of range",
     """
     [[rules]]
     id = "obs_hurried"
     points = 150
     """,
     "branch.toml: rule 'obs_hurried': field 'points' must be an integer 0-100"),
    ("negative points",
     """
     [[rules]]
     id = "obs_hurried"
     points = -5
     """,
     "branch.toml: rule 'obs_hurried': field 'points' must be an integer 0-100"),
    ("duplicate ids",
     """
     [[rules]]
     id = "twice"
     points = 5
     reason_zh = "一"
     when = { flag = "hurried" }

     [[rules]]
     id = "twice"
     points = 6
     reason_zh = "二"
     when = { flag = "hurried" }
     """,
     "branch.toml: rule 'twice': field 'id' is a duplicate"),
    ("unknown input field",
     """
     [[rules]]
     id = "by_colour"
     points = 5
     reason_zh = "颜色"
     when = { field = "answers.colour", equals = "red" }
     """,
     "branch.toml: rule 'by_colour': field 'when.field' names unknown input field 'answers.colour'"),
    ("unknown observation flag",
     """
     [[rules]]
     id = "crying"
     points = 5
     reason_zh = "哭"
     when = { all = [{ large_amount = true }, { flag = "crying" }] }
     """,
     "branch.toml: rule 'crying': field 'when.all[1].flag' names unknown observation flag 'crying'"),
    ("unknown enum value",
     """
     [[rules]]
     id = "space"
     points = 5
     reason_zh = "太空"
     when = { field = "answers.purpose", in = ["spaceship"] }
     """,
     "branch.toml: rule 'space': field 'when.in' value 'spaceship' is not allowed"),
    ("unknown typology",
     """
     [[rules]]
     id = "ufo"
     points = 5
     reason_zh = "外星人"
     typologies = ["alien_abduction"]
     when = { flag = "hurried" }
     """,
     "branch.toml: rule 'ufo': field 'typologies' names unknown typology 'alien_abduction'"),
    ("unknown condition key",
     """
     [[rules]]
     id = "odd"
     points = 5
     reason_zh = "怪"
     when = { weather = "rain" }
     """,
     "branch.toml: rule 'odd': field 'when' has unknown keys"),
    ("missing reason",
     """
     [[rules]]
     id = "silent"
     points = 5
     when = { flag = "hurried" }
     """,
     "branch.toml: rule 'silent': field 'reason_zh' is missing"),
    ("missing condition",
     """
     [[rules]]
     id = "always"
     points = 5
     reason_zh = "总是"
     """,
     "branch.toml: rule 'always': field 'when' is missing"),
    ("mitigation reading a red flag",
     """
     [[rules]]
     id = "calm_on_phone"
     kind = "mitigation"
     points = 10
     reason_zh = "电话"
     when = { flag = "on_phone" }
     """,
     "branch.toml: rule 'calm_on_phone': field 'when.flag' cannot be used in a mitigation rule"),
    ("mitigation reading words",
     """
     [[rules]]
     id = "contract_words"
     kind = "mitigation"
     points = 10
     reason_zh = "合同"
     when = { keywords = ["合同"] }
     """,
     "branch.toml: rule 'contract_words': field 'when.keywords' cannot be used in a mitigation"),
    ("mitigation with a hard stop",
     """
     [[rules]]
     id = "weird"
     kind = "mitigation"
     points = 10
     hard_stop = true
     reason_zh = "怪"
     when = { field = "answers.relationship", equals = "family" }
     """,
     "branch.toml: rule 'weird': field 'hard_stop' is not allowed on a mitigation rule"),
    ("risk rule on a red flag in the reassuring direction",
     """
     [[rules]]
     id = "not_stranger"
     points = 10
     reason_zh = "不是陌生人"
     when = { field = "three_checks.paying_stranger", equals = false }
     """,
     "branch.toml: rule 'not_stranger': field 'when.equals' on red-flag field"),
    ("count compared with equals",
     """
     [[rules]]
     id = "exactly_two"
     points = 10
     reason_zh = "两次"
     when = { field = "cross_session.payee_other_customers", equals = 2 }
     """,
     "branch.toml: rule 'exactly_two': field 'when.equals' on a count must use at_least"),
    ("wrong kind",
     """
     [[rules]]
     id = "large_amount"
     kind = "bonus"
     """,
     "branch.toml: rule 'large_amount': field 'kind' must be one of risk, mitigation"),
    ("bad min_level",
     """
     [[rules]]
     id = "large_amount"
     min_level = "extreme"
     """,
     "branch.toml: rule 'large_amount': field 'min_level' must be one of medium, high, critical"),
    ("bad id",
     """
     [[rules]]
     id = "Big Amount"
     """,
     "branch.toml: rule #1 'Big Amount': field 'id' must be a lower-case identifier"),
    ("thresholds not increasing",
     """
     [thresholds]
     high = 20
     """,
     "branch.toml: section 'thresholds': field 'high' (20) must be greater than 'medium' (25)"),
    ("threshold out of range",
     """
     [thresholds]
     critical = 120
     """,
     "branch.toml: section 'thresholds': field 'critical' must be an integer 0-100"),
    ("unknown threshold",
     """
     [thresholds]
     extreme = 95
     """,
     "branch.toml: section 'thresholds': unknown field 'extreme'"),
    ("typology missing its slip text",
     """
     [[typologies]]
     id = "parcel_scam"
     name_zh = "包裹诈骗"
     teller_script_zh = "包裹被扣要交钱的是诈骗。"
     keywords = ["包裹"]
     keyword_points = 20
     """,
     "branch.toml: typology 'parcel_scam': field 'slip_text_zh' is missing"),
    ("typology with blank teller script",
     """
     [[typologies]]
     id = "fake_loan"
     teller_script_zh = " "
     """,
     "branch.toml: typology 'fake_loan': field 'teller_script_zh' must be a non-empty string"),
    ("typology naming an unknown follow-up",
     """
     [[typologies]]
     id = "fake_loan"
     follow_ups = ["fu_nothing"]
     """,
     "branch.toml: typology 'fake_loan': field 'follow_ups' names unknown follow-up question"),
    ("question with an option the field does not allow",
     """
     [[questions]]
     id = "knows_payee"
     options = [["sometimes", "有时"]]
     """,
     "branch.toml: question 'knows_payee': field 'options[0]' value 'sometimes' is not allowed"),
    ("question filling an unknown field",
     """
     [[questions]]
     id = "purpose"
     answer_field = "answers.mood"
     """,
     "branch.toml: question 'purpose': field 'answer_field' names unknown input field"),
    ("unknown section",
     """
     [weights]
     large = 3
     """,
     "branch.toml: unknown section 'weights'"),
    ("unknown level",
     """
     [levels.extreme]
     label_zh = "超高"
     """,
     "branch.toml: levels 'extreme': unknown level"),
    ("action without steps",
     """
     [actions.print_slip]
     steps_zh = []
     """,
     "branch.toml: actions 'print_slip': field 'steps_zh' must be a non-empty list"),
    ("broken TOML",
     """
     [[rules]
     id = "x"
     """,
     "branch.toml: invalid TOML"),
]


@pytest.mark.parametrize("text, message", [(t, m) for _, t, m in INVALID_OVERRIDES],
                         ids=[name for name, _, _ in INVALID_OVERRIDES])
def test_invalid_override_is_rejected_with_a_precise_message(tmp_path, text, message):
    with pytest.raises(RuleFileError) as caught:
        load_rules(override_path=write(tmp_path, text))
    assert message in str(caught.value)


def test_invalid_packaged_style_file_names_rules_toml(tmp_path):
    # The example from the issue: a broken copy of the packaged file.
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    marker = 'id = "safe_account_words"\ngroup = "gov_impersonation"\npoints = 60\n'
    assert marker in text
    broken = tmp_path / "rules.toml"
    broken.write_text(text.replace(marker, marker.replace("points = 60", 'points = "60"')),
                      encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(broken)
    assert str(caught.value) == (
        "rules.toml: rule 'safe_account_words': field 'points' must be an integer 0-100"
    )


def test_missing_threshold_in_a_full_file(tmp_path):
    copy = tmp_path / "rules.toml"
    shutil.copy(DEFAULT_RULES_PATH, copy)
    copy.write_text(copy.read_text(encoding="utf-8").replace("max_mitigation = 30", ""),
                    encoding="utf-8")
    with pytest.raises(RuleFileError, match="rules.toml: section 'thresholds': field 'max_mitigation' is missing"):
        load_rules(copy)


def test_a_disabled_rule_is_still_validated(tmp_path):
    with pytest.raises(RuleFileError, match="rule 'off': field 'when.flag'"):
        load_rules(override_path=write(tmp_path, """
            [[rules]]
            id = "off"
            enabled = false
            points = 5
            reason_zh = "关"
            when = { flag = "nonsense" }
        """))


def test_missing_file():
    with pytest.raises(RuleFileError, match="nothing.toml: file not found"):
        load_rules("/nonexistent/nothing.toml")
