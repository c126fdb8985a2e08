"""evaluate() and applicable_questions(): every rule, the ladder, hard stops, mitigations."""

import ast
import json
from decimal import Decimal
from pathlib import Path

import pytest

from teller_guard.risk import (
    Policy,
    ScreeningInput,
    applicable_questions,
    default_rules,
    evaluate,
)


def screen(amount=None, obs=(), **parts):
    data = {key: dict(value) for key, value in parts.items()}
    if amount is not None:
        data.setdefault("transaction", {})["amount"] = str(amount)
    if obs:
        data["observations"] = list(obs)
    return ScreeningInput.from_dict(data)


def fired_ids(assessment):
    return {rule.rule_id for rule in assessment.fired}


def counted(assessment):
    return {rule.rule_id: rule.points for rule in assessment.fired}


A, T, C, X = "answers", "transaction", "customer", "cross_session"

# One input per rule id that makes it fire.  test_every_rule_has_a_trigger keeps this complete.
TRIGGERS = {
    "purpose_safe_account": dict(answers={"purpose": "safe_account"}),
    "safe_account_words": dict(answers={"purpose_text": "对方让我转到安全账户"}),
    "payee_watchlisted": dict(cross_session={"payee_watchlisted": True}),
    "secret_and_remote_app": dict(obs=["told_keep_secret", "remote_app"]),
    "secret_and_on_phone": dict(obs=["told_keep_secret", "on_phone"]),
    "refuses_and_insists": dict(obs=["refuses_explain", "insists_after_warning"]),
    "admits_scam_yet_insists": dict(three_checks={"possibly_scam": "yes"}, obs=["insists_after_warning"]),
    "kidnap_words": dict(answers={"purpose_text": "儿子被绑架了"}),
    "purpose_loan_fee": dict(answers={"purpose": "loan_fee"}),
    "loan_fee_words": dict(answers={"purpose_text": "先交解冻费才能放款"}),
    "purpose_online_task": dict(answers={"purpose": "online_task"}),
    "task_words": dict(answers={"purpose_text": "网上刷单"}),
    "purpose_investment": dict(answers={"purpose": "investment"}),
    "investment_to_personal_account": dict(answers={"purpose": "investment"},
                                           transaction={"payee_type": "personal"}),
    "investment_from_online_contact": dict(answers={"purpose": "investment", "knows_payee": "online_only"}),
    "high_return_words": dict(answers={"purpose_text": "说是稳赚不赔"}),
    "purpose_online_friend": dict(answers={"purpose": "online_friend"}),
    "online_friend_investment": dict(answers={"purpose": "online_friend", "purpose_text": "一起投资"}),
    "online_friend_never_met": dict(answers={"purpose": "online_friend", "knows_payee": "online_only"}),
    "purpose_boss_request": dict(answers={"purpose": "boss_request"}),
    "boss_request_unverified": dict(answers={"purpose": "boss_request", "verified_by_phone": False}),
    "finance_staff_boss_request": dict(customer={"occupation": "finance"}, answers={"purpose": "boss_request"}),
    "purpose_refund_claim": dict(answers={"purpose": "refund_claim"}),
    "verification_code_words": dict(answers={"purpose_text": "客服让我开屏幕共享"}),
    "purpose_military_purchase": dict(answers={"purpose": "military_purchase"}),
    "prepay_purchase_words": dict(answers={"purpose_text": "替他们垫资进货"}),
    "military_unit_asks_payment": dict(answers={"purpose_text": "武警部队采购帐篷，要我先交定金"}),
    "purpose_prize_tax_subsidy": dict(answers={"purpose": "prize_tax_subsidy"}),
    "prize_fee_words": dict(answers={"purpose_text": "说我中奖了，要先交手续费"}),
    "purpose_emergency_relative": dict(answers={"purpose": "emergency_relative"}),
    "emergency_unverified": dict(answers={"purpose": "emergency_relative"}),
    "private_trade_words": dict(answers={"purpose_text": "卖家让私下交易"}),
    "purpose_game_trade": dict(answers={"purpose": "game_trade"}),
    "game_trade_private": dict(answers={"purpose": "game_trade"}, transaction={"payee_type": "personal"}),
    "purpose_for_others": dict(answers={"purpose": "for_others"}, transaction={"payee_type": "personal"}),
    "account_renting_words": dict(answers={"purpose_text": "帮人走账"}),
    "payee_never_met": dict(answers={"knows_payee": "never"}),
    "payee_online_only": dict(answers={"knows_payee": "online_only"}),
    "payee_phone_only": dict(answers={"knows_payee": "phone_only"}),
    "relationship_stranger": dict(answers={"relationship": "stranger"}),
    "relationship_online_contact": dict(answers={"relationship": "online_contact"}),
    "large_use_not_confirmed": dict(amount=60000, answers={"use_confirmed": False}),
    "paying_stranger": dict(three_checks={"paying_stranger": True}),
    "possibly_scam_unsure": dict(three_checks={"possibly_scam": "unsure"}),
    "possibly_scam_yes": dict(three_checks={"possibly_scam": "yes"}),
    "elderly_not_consulted_family": dict(customer={"age": 70}, three_checks={"family_consulted": False}),
    "obs_hurried": dict(obs=["hurried"]),
    "obs_large_cash": dict(obs=["large_cash"]),
    "obs_on_phone": dict(obs=["on_phone"]),
    "obs_companion_answers": dict(obs=["companion_answers"]),
    "obs_reads_from_message": dict(obs=["reads_from_message"]),
    "obs_refuses_explain": dict(obs=["refuses_explain"]),
    "obs_told_keep_secret": dict(obs=["told_keep_secret"]),
    "obs_remote_app": dict(obs=["remote_app"]),
    "obs_insists_after_warning": dict(obs=["insists_after_warning"]),
    "remote_app_while_on_phone": dict(obs=["remote_app", "on_phone"]),
    "payee_paid_by_others": dict(cross_session={"payee_other_customers": 2}),
    "payee_paid_by_many": dict(cross_session={"payee_other_customers": 5}),
    "customer_repeat_screenings": dict(cross_session={"customer_prior_screenings": 2}),
    "customer_prior_high": dict(cross_session={"customer_prior_high": 1}),
    "payee_at_other_branches": dict(cross_session={"payee_other_branches": 2},
                                    transaction={"payee_type": "personal"}),
    "customer_stopped_other_branch": dict(cross_session={"customer_other_branch_high": 1}),
    "customer_other_branch": dict(cross_session={"customer_other_branches": 1}),
    "large_amount": dict(amount=50000),
    "elderly_customer": dict(customer={"age": 60}),
    "vulnerable_occupation": dict(customer={"occupation": "student"}),
    "other_region": dict(transaction={"other_region": True}),
    "new_payee": dict(transaction={"payee_known": "new"}),
    "large_to_new_personal": dict(amount=80000, transaction={"payee_known": "new"}),
    "time_deposit_broken": dict(transaction={"channel": "time_deposit_early"}),
    "cash_deposit_then_transfer": dict(transaction={"channel": "cash_deposit_transfer"}),
    "family_known_in_person": dict(answers={"purpose": "family_living", "relationship": "family",
                                            "knows_payee": "in_person"}),
    "tuition_to_school": dict(answers={"purpose": "tuition", "relationship": "school"},
                              transaction={"payee_type": "corporate"}),
    "house_to_developer": dict(answers={"purpose": "house_purchase", "relationship": "developer"},
                               transaction={"payee_type": "corporate"}),
    "medical_to_hospital": dict(answers={"purpose": "medical"}, transaction={"payee_type": "corporate"}),
    "salary_to_known_worker": dict(answers={"purpose": "salary", "knows_payee": "in_person"}),
    "supplier_verified": dict(answers={"purpose": "trade_payment", "relationship": "business_partner",
                                       "verified_by_phone": True},
                              transaction={"payee_known": "known"}),
    "known_payee_verified": dict(answers={"verified_by_phone": True}, transaction={"payee_known": "known"}),
    "known_in_person_payee": dict(answers={"knows_payee": "in_person"}, transaction={"payee_known": "known"}),
    "phone_bill_words": dict(answers={"purpose_text": "10086说我电话欠费了"}),
    "phishing_words": dict(answers={"purpose_text": "短信说积分兑换现金"}),
    "sextortion_words": dict(answers={"purpose_text": "裸聊被录了视频"}),
    "credit_repair_words": dict(answers={"purpose_text": "客服说要注销校园贷"}),
    "elder_fraud_words": dict(answers={"purpose_text": "买保健品"}),
    "elder_fraud_pitch": dict(customer={"age": 72}, answers={"purpose_text": "投资养老项目",
                                                              "relationship": "stranger"}),
    "escort_words": dict(answers={"purpose_text": "网上约的上门服务"}),
    "purpose_contradicts_payee": dict(answers={"purpose": "family_living", "knows_payee": "online_only"}),
    "own_account_on_phone": dict(answers={"purpose": "own_account"}, obs=["on_phone"]),
    "emergency_words": dict(answers={"purpose_text": "儿子出车祸了"}),
    "impersonation_new_number": dict(answers={"purpose_text": "老同学换了新号"}),
    "game_trade_words": dict(answers={"purpose_text": "网上买游戏装备"}),
    "scam_story_unknown_payee": dict(answers={"purpose_text": "网上兼职", "knows_payee": "never"}),
    "scam_words_unknown_payee": dict(answers={"purpose_text": "平台老师让充值", "knows_payee": "never"}),
    "own_account": dict(answers={"purpose": "own_account", "relationship": "self"}),
    "family_present": dict(obs=["family_present"]),
    "documents_shown": dict(obs=["documents_shown"]),
    "institution_corporate": dict(answers={"relationship": "institution"},
                                  transaction={"payee_type": "corporate"}),
    "rent_to_landlord": dict(answers={"purpose": "rent", "relationship": "landlord",
                                      "knows_payee": "in_person"}),
    "gift_in_person": dict(answers={"purpose": "gift", "relationship": "family",
                                    "knows_payee": "in_person"}),
    "purchase_to_corporate": dict(answers={"purpose": "consumer_purchase"},
                                  transaction={"payee_type": "corporate"}),
    "official_payment": dict(answers={"purpose": "tax"}, transaction={"payee_type": "corporate"}),
    "known_in_person_friend": dict(answers={"relationship": "friend", "knows_payee": "in_person"}),
}


def test_every_rule_has_a_trigger():
    assert {rule.id for rule in default_rules().rules} == set(TRIGGERS)


def test_an_empty_screening_fires_nothing():
    assessment = evaluate(ScreeningInput())
    assert assessment.fired == ()
    assert (assessment.score, assessment.level, assessment.action.code) == (0, "low", "proceed")


@pytest.mark.parametrize("rule_id", sorted(TRIGGERS))
def test_rule_fires_on_its_trigger(rule_id):
    assessment = evaluate(screen(**TRIGGERS[rule_id]))
    assert rule_id in fired_ids(assessment)
    rule = next(rule for rule in default_rules().rules if rule.id == rule_id)
    fired = next(f for f in assessment.fired if f.rule_id == rule_id)
    assert fired.reason_zh == rule.reason_zh
    if rule.kind == "mitigation":
        assert fired.points == -rule.points
    if rule.hard_stop:
        assert assessment.hard_stop and assessment.level == "critical"
    if rule.min_level:
        order = ["low", "medium", "high", "critical"]
        floor = rule.min_level
        if rule.evidence == "words" and not rule.hard_stop:
            # words alone reach at most 中, or 高 for an unambiguous phrase (the evidence model)
            floor = order[min(order.index(floor), order.index("high" if rule.unambiguous else "medium"))]
        assert order.index(assessment.level) >= order.index(floor)


@pytest.mark.parametrize("rule_id", sorted(TRIGGERS))
def test_rule_does_not_fire_on_a_plain_supplier_payment(rule_id):
    """A near-neighbour input: same shape of data, nothing alarming (mitigations may fire)."""
    plain = screen(amount=3000, transaction={"payee_known": "known", "payee_type": "corporate"},
                   customer={"age": 40},
                   answers={"purpose": "trade_payment", "purpose_text": "货款", "knows_payee": "in_person",
                            "relationship": "business_partner", "verified_by_phone": True},
                   three_checks={"paying_stranger": False, "possibly_scam": "no"})
    rule = next(rule for rule in default_rules().rules if rule.id == rule_id)
    if rule.kind == "risk":
        assert rule_id not in fired_ids(evaluate(plain))


def test_typology_words_fire_once_per_typology_and_name_the_word():
    assessment = evaluate(screen(answers={"purpose_text": "兼职刷单返利，先垫付"}))
    words = [f for f in assessment.fired if f.rule_id == "words:task_rebate"]
    assert len(words) == 1 and "兼职" in words[0].reason_zh
    assert assessment.typologies[0].id == "task_rebate"


def test_payee_name_is_scanned_only_by_rules_that_ask_for_it():
    company = screen(transaction={"payee_name": "某某投资管理有限公司", "payee_type": "corporate"},
                     answers={"purpose": "trade_payment", "purpose_text": "服务费"})
    assert evaluate(company).fired == ()
    safe_account = screen(transaction={"payee_name": "公安局安全账户"})
    assert evaluate(safe_account).hard_stop


def test_group_counts_only_the_strongest_rule():
    assessment = evaluate(screen(answers={"purpose": "loan_fee", "purpose_text": "交解冻费放款"}))
    points = counted(assessment)
    assert points["purpose_loan_fee"] == 45
    assert points["loan_fee_words"] == 0  # same fact as the purpose: listed, not counted twice
    assert points["words:fake_loan"] == 0
    assert assessment.score == 50


# --- levels and the ladder ------------------------------------------------------------------

LADDER = {"low": "proceed", "medium": "print_slip", "high": "supervisor_hold",
          "critical": "stop_and_report"}
LABELS = {"low": "低风险", "medium": "中风险", "high": "高风险", "critical": "极高风险"}


@pytest.mark.parametrize("inputs, level", [
    (dict(), "low"),
    (dict(obs=["hurried", "large_cash", "reads_from_message"]), "medium"),
    (dict(answers={"purpose": "online_task"}), "high"),
    (dict(answers={"purpose": "safe_account"}), "critical"),
])
def test_levels_map_to_labels_and_actions(inputs, level):
    assessment = evaluate(screen(**inputs))
    assert assessment.level == level
    assert assessment.level_label == LABELS[level]
    assert assessment.action.code == LADDER[level]
    assert assessment.action.steps_zh


def test_action_texts_carry_the_ladder():
    actions = default_rules().actions
    assert "温馨提示" in actions["proceed"].label_zh
    assert any("签字" in step for step in actions["print_slip"].steps_zh)
    hold = " ".join(actions["supervisor_hold"].steps_zh)
    assert "延时到账" in hold and "96110" in hold and "视频" in hold
    stop = " ".join(actions["stop_and_report"].steps_zh)
    assert "110" in stop and "书面" in stop


# --- context alone must not hold a customer ----------------------------------------------------

def test_a_large_amount_alone_is_not_high():
    assert evaluate(screen(amount=5_000_000)).level in ("low", "medium")


def test_an_older_customer_alone_is_not_high():
    assert evaluate(screen(customer={"age": 95, "occupation": "retired"})).level in ("low", "medium")


def test_all_context_together_stays_below_high():
    worst_context = screen(
        amount=9_000_000,
        transaction={"channel": "time_deposit_early", "payee_type": "personal", "payee_known": "new",
                     "other_region": True},
        customer={"age": 90, "occupation": "retired"},
    )
    assert evaluate(worst_context).level in ("low", "medium")


def test_a_small_branch_line_moves_the_large_amount_rule():
    screening = screen(amount=25000)
    assert "large_amount" not in fired_ids(evaluate(screening))
    assert "large_amount" in fired_ids(evaluate(screening, Policy(large_amount=Decimal("20000"))))


# --- benign stories ---------------------------------------------------------------------------

BENIGN = {
    "living costs to a known relative": dict(
        amount=20000, transaction={"payee_known": "known", "other_region": True},
        customer={"age": 72, "occupation": "retired"},
        answers={"purpose": "family_living", "knows_payee": "in_person", "relationship": "family"},
        three_checks={"paying_stranger": False, "possibly_scam": "no", "family_consulted": True}),
    "tuition to a school": dict(
        amount=28000, transaction={"payee_type": "corporate", "payee_known": "new", "other_region": True},
        answers={"purpose": "tuition", "knows_payee": "in_person", "relationship": "school"}),
    "house purchase to the developer": dict(
        amount=800000, transaction={"payee_type": "corporate", "payee_known": "new"},
        customer={"age": 66, "occupation": "retired"},
        answers={"purpose": "house_purchase", "purpose_text": "首付，有购房合同", "knows_payee": "in_person",
                 "relationship": "developer", "use_confirmed": True}),
    "salary": dict(amount=6000, answers={"purpose": "salary", "knows_payee": "in_person"}),
    "long-known supplier verified by phone": dict(
        amount=300000, transaction={"payee_type": "corporate", "payee_known": "known", "other_region": True},
        answers={"purpose": "trade_payment", "knows_payee": "in_person", "relationship": "business_partner",
                 "verified_by_phone": True}),
    "medical bills": dict(
        amount=60000, transaction={"payee_type": "corporate", "payee_known": "new", "other_region": True},
        answers={"purpose": "medical", "knows_payee": "in_person", "relationship": "other"}),
}


@pytest.mark.parametrize("story", sorted(BENIGN))
def test_benign_stories_stay_low_or_medium(story):
    assessment = evaluate(screen(**BENIGN[story]))
    assert assessment.level in ("low", "medium"), assessment.fired


# --- hard stops and floors are not cancellable ---------------------------------------------------

MAXIMUM_BENIGN = dict(
    transaction={"payee_type": "corporate", "payee_known": "known"},
    answers={"purpose": "tuition", "relationship": "school", "knows_payee": "in_person",
             "verified_by_phone": True},
)


@pytest.mark.parametrize("red", [
    dict(cross_session={"payee_watchlisted": True}),
    dict(answers={"purpose_text": "配合调查，转到安全账户"}),
    dict(obs=["told_keep_secret", "remote_app"]),
    dict(obs=["refuses_explain", "insists_after_warning"]),
    dict(three_checks={"possibly_scam": "yes"}, obs=["insists_after_warning"]),
])
def test_hard_stops_survive_every_mitigation(red):
    merged = {key: dict(value) for key, value in MAXIMUM_BENIGN.items()}
    for key, value in red.items():
        if key == "obs":
            merged["obs"] = value
        else:
            merged.setdefault(key, {}).update(value)
    assessment = evaluate(screen(**merged))
    assert assessment.hard_stop
    assert assessment.level == "critical"
    assert assessment.action.code == "stop_and_report"
    assert any(rule.points < 0 for rule in assessment.fired)  # the mitigations did fire


def test_a_words_floor_yields_to_verified_mitigations():
    """The issue's complaint: one word set a floor that verified evidence could never lower."""
    words_only = evaluate(screen(answers={"purpose_text": "老师带单，稳赚不赔"}))
    assert words_only.level == "high"
    merged = {key: dict(value) for key, value in MAXIMUM_BENIGN.items()}
    merged["answers"]["purpose_text"] = "老师带单，稳赚不赔"
    assessment = evaluate(screen(**merged))
    assert assessment.level in ("low", "medium")
    assert any("抵消" in note for note in assessment.notes_zh)


def test_a_situational_floor_survives_mitigations():
    merged = {key: dict(value) for key, value in MAXIMUM_BENIGN.items()}
    merged["answers"] = {**merged["answers"], "purpose": "loan_fee"}
    assert evaluate(screen(**merged)).level == "high"


# --- the evidence model: words raise suspicion, situations decide ----------------------------------

def test_setting_nouns_alone_stay_at_most_medium():
    """Two official-setting nouns once reached 极高 for a customer with no red flag at all."""
    assessment = evaluate(screen(amount=80000, customer={"age": 66},
                                 transaction={"other_region": True, "payee_known": "new"},
                                 answers={"purpose_text": "我先问了银行的客服，又去公安局问过，法院判的钱"}))
    assert assessment.level in ("low", "medium")
    assert not assessment.hard_stop


def test_ambiguous_scam_words_alone_are_capped_at_medium_with_a_note():
    assessment = evaluate(screen(amount=200000, customer={"age": 70, "occupation": "retired"},
                                 transaction={"other_region": True, "payee_known": "new"},
                                 answers={"purpose_text": "说是验证码，保证金，手续费，电话欠费，滞纳金"}))
    assert assessment.level == "medium"
    assert any("最高评为中风险" in note for note in assessment.notes_zh)


def test_an_unambiguous_scam_phrase_alone_reaches_high_not_critical():
    assessment = evaluate(screen(amount=300000, answers={"purpose_text": "刷单，解冻费，裸聊，稳赚不赔"}))
    assert assessment.level == "high"
    assert any("诈骗专用说法" in note for note in assessment.notes_zh)


def test_the_same_words_with_a_situational_signal_reach_critical():
    assessment = evaluate(screen(amount=300000, answers={"purpose_text": "刷单，解冻费，稳赚不赔",
                                                         "knows_payee": "online_only"},
                                 obs=["on_phone"]))
    assert assessment.level == "critical"


def test_an_ordinary_word_does_not_lift_a_payment_to_a_friend_met_in_person():
    """理财 in 客户原话 once pushed a 2万 payment to a friend met in person up to 高."""
    base = dict(amount=20000, transaction={"payee_known": "new"},
                answers={"purpose": "repay_debt", "relationship": "friend", "knows_payee": "in_person"},
                three_checks={"paying_stranger": False, "possibly_scam": "no"})
    plain = evaluate(screen(**base))
    worded = evaluate(screen(**{**base, "answers": {**base["answers"], "purpose_text": "我理财到期了还他钱"}}))
    assert plain.level == worded.level == "low"


def test_negated_scam_words_do_not_count():
    said = evaluate(screen(answers={"purpose_text": "网上刷单"}))
    denied = evaluate(screen(answers={"purpose_text": "不是刷单，是给我妈的生活费"}))
    assert "task_words" in fired_ids(said)
    assert "task_words" not in fired_ids(denied)


def test_words_inside_longer_words_do_not_count():
    assessment = evaluate(screen(answers={"purpose_text": "信用卡单据上写的，做单位的报销"}))
    assert "task_words" not in fired_ids(assessment)


def test_a_hard_stop_phrase_counts_even_when_denied():
    assessment = evaluate(screen(answers={"purpose_text": "不是什么安全账户，就是个普通账户"}))
    assert assessment.hard_stop and assessment.level == "critical"


def test_fired_rules_carry_their_evidence_kind():
    assessment = evaluate(screen(amount=60000, answers={"purpose_text": "刷单", "knows_payee": "never",
                                                        "relationship": "friend"},
                                 obs=["family_present"]))
    kinds = {rule.rule_id: rule.evidence for rule in assessment.fired}
    assert kinds["task_words"] == "words"
    assert kinds["payee_never_met"] == "situation"
    assert kinds["large_amount"] == "context"
    assert kinds["family_present"] == "mitigation"


def test_mitigation_is_capped():
    rules = default_rules()
    everything_benign = screen(
        transaction={"payee_known": "known", "payee_type": "corporate"},
        answers={"purpose": "medical", "relationship": "family", "knows_payee": "in_person",
                 "verified_by_phone": True},
        obs=["on_phone", "hurried", "reads_from_message"],
    )
    assessment = evaluate(everything_benign)
    taken_off = -sum(rule.points for rule in assessment.fired if rule.points < 0)
    assert taken_off > rules.thresholds["max_mitigation"]
    assert assessment.score == 45 - rules.thresholds["max_mitigation"]


# --- typologies and follow-ups ---------------------------------------------------------------------

def test_one_primary_typology_with_its_follow_ups_and_at_most_two_others():
    assessment = evaluate(screen(answers={"purpose": "investment", "purpose_text": "网友推荐的平台",
                                          "knows_payee": "online_only", "relationship": "online_contact"}))
    ids = [match.id for match in assessment.typologies]
    # an online contact pushing an investment is 网络交友诱导投资 first, fake investment second
    assert ids[:2] == ["romance_investment", "fake_investment"]
    assert assessment.primary_typology.id == "romance_investment"
    assert "网上交友诱导投资的，都是诈骗" in assessment.primary_typology.slip_text_zh
    assert "高回报、高收益、零风险的都是诈骗" in assessment.other_typologies[0].slip_text_zh
    follow_ups = [question.id for question in assessment.follow_ups]
    assert follow_ups == list(default_rules().typology_by_id["romance_investment"].follow_ups)[:3]
    assert all(question.section == "follow_up" for question in assessment.follow_ups)
    assert assessment.to_dict()["primary_typology"] == "romance_investment"


def test_a_story_with_many_typologies_words_names_one_primary():
    """A task-scam customer once got five typologies, five scripts and six follow-ups at once."""
    assessment = evaluate(screen(
        amount=30000, answers={"purpose": "online_task", "knows_payee": "online_only",
                               "purpose_text": "客服说刷单任务没做完，要充值投资平台才能提现，不然影响征信"},
        three_checks={"paying_stranger": True}))
    assert assessment.primary_typology.id == "task_rebate"
    assert len(assessment.typologies) <= 3
    assert len(assessment.follow_ups) <= 3
    assert {q.id for q in assessment.follow_ups} <= set(
        default_rules().typology_by_id["task_rebate"].follow_ups)


@pytest.mark.parametrize("typology_id, phrase", [
    ("gov_impersonation", "从未开设过任何安全账户"),
    ("fake_loan", "放款前以各种名义要求转款的都是诈骗"),
    ("task_rebate", "兼职刷单"),
    ("fake_investment", "承诺高回报、高收益、零风险的都是诈骗"),
    ("romance_investment", "网上交友诱导投资的，都是诈骗"),
    ("boss_impersonation", "不见面就借钱的都是诈骗"),
    ("fake_customer_service", "退款要验证码的，都是诈骗"),
    ("fake_military_purchase", "要求垫资购物的都是诈骗"),
    ("fake_prize_refund", "无端的中奖"),
    ("fake_emergency", "110"),
    ("game_trade", "私下交易的都是诈骗"),
    ("account_renting", "违法"),
])
def test_typology_texts_use_the_seed_wording(typology_id, phrase):
    typology = default_rules().typology_by_id[typology_id]
    assert phrase in typology.slip_text_zh + typology.teller_script_zh


# --- applicable_questions -------------------------------------------------------------------------

def question_ids(screening, policy=Policy()):
    return [question.id for question in applicable_questions(screening, policy)]


def test_questions_for_a_small_local_transfer_by_a_young_customer():
    ids = question_ids(screen(amount=1000, customer={"age": 30}))
    assert ids == ["purpose", "knows_payee", "relationship", "observe_customer", "paying_stranger",
                   "possibly_scam"]


def test_questions_for_a_large_other_region_transfer_by_an_older_customer():
    ids = question_ids(screen(amount=50000, transaction={"other_region": True}, customer={"age": 60}))
    assert ids == ["purpose", "large_amount_confirm", "destination", "knows_payee", "relationship",
                   "knows_payee_again", "observe_customer", "paying_stranger", "possibly_scam",
                   "family_consulted"]


def test_re_ask_for_other_region_only():
    ids = question_ids(screen(amount=100, transaction={"other_region": True}))
    assert "knows_payee_again" in ids and "destination" in ids and "large_amount_confirm" not in ids


def test_question_wording_and_fields():
    questions = {q.id: q for q in applicable_questions(
        screen(amount=90000, transaction={"other_region": True}, customer={"age": 70}))}
    assert questions["purpose"].text_zh.startswith("转账汇款目的必问")
    assert questions["large_amount_confirm"].text_zh.startswith("大额转账汇款必问")
    assert questions["destination"].text_zh.startswith("异地转账汇款必问")
    assert questions["knows_payee"].text_zh.startswith("转账汇款对象认识与否必问")
    assert "再三询问" in questions["knows_payee_again"].text_zh
    assert questions["observe_customer"].text_zh.startswith("形色匆匆、携带大量现金")
    assert questions["paying_stranger"].text_zh.startswith("是否给陌生人汇款")
    assert questions["possibly_scam"].text_zh.startswith("是否可能遭遇上当受骗")
    assert questions["family_consulted"].text_zh.startswith("年龄较大群众是否和家人商量")
    sections = {q.id: q.section for q in questions.values()}
    assert sections["purpose"] == "five" and sections["possibly_scam"] == "three"
    assert questions["purpose"].answer_field == "answers.purpose"
    assert questions["observe_customer"].answer_field == "observations"
    assert ("yes", "可能是") in questions["possibly_scam"].options
    assert dict(questions["paying_stranger"].options)[True]
    for question in questions.values():
        assert question.say_zh


def test_every_answer_field_can_be_filled_from_the_options():
    purpose = next(q for q in applicable_questions(ScreeningInput()) if q.id == "purpose")
    values = [value for value, _ in purpose.options]
    for value in values:
        ScreeningInput.from_dict({"answers": {"purpose": value}})
    assert len(values) == 27


# --- output and purity ------------------------------------------------------------------------------

def test_to_dict_is_json_safe_and_complete():
    assessment = evaluate(screen(amount=88000, answers={"purpose": "loan_fee"}, obs=["hurried"]))
    data = json.loads(json.dumps(assessment.to_dict(), ensure_ascii=False))
    assert data["level"] == assessment.level
    assert data["action"]["code"] == "supervisor_hold" or data["action"]["code"] == "stop_and_report"
    assert data["fired"][0]["points"] == max(rule.points for rule in assessment.fired)
    assert data["typologies"][0]["id"] == "fake_loan"
    assert data["rules_version"] == default_rules().version
    assert isinstance(data["follow_ups"][0]["options"], list)


def test_risk_package_imports_no_web_or_database_code():
    package = Path(__file__).resolve().parent.parent / "teller_guard" / "risk"
    forbidden = {"flask", "sqlite3", "sqlite_utils", "werkzeug", "wtforms"}
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{source.name} imports {name}"
