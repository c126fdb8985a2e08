"""Properties of evaluate() over generated screenings (Hypothesis)."""

import dataclasses
import json
import tomllib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teller_guard.risk import Policy, ScreeningInput, default_rules, evaluate
from teller_guard.risk.model import (
    FIELD_SPECS,
    MITIGATING_OBSERVATIONS,
    OBSERVATION_FLAGS,
    POSSIBLY_SCAM,
    RED_FLAG_OBSERVATIONS,
)
from teller_guard.risk.rules import DEFAULT_RULES_PATH

LEVEL_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _keywords_in(condition):
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key == "keywords":
                yield from value
            else:
                yield from _keywords_in(value)
    elif isinstance(condition, list):
        for item in condition:
            yield from _keywords_in(item)


with DEFAULT_RULES_PATH.open("rb") as handle:
    _RAW = tomllib.load(handle)
RED_WORDS = sorted(
    {word for rule in _RAW["rules"] for word in _keywords_in(rule["when"])}
    | {word for typology in _RAW["typologies"] for word in typology.get("keywords", [])}
)
BENIGN_WORDS = ["给女儿的生活费", "学费", "货款", "首付款，有购房合同", "交房租", "工资", "看病"]
TEXT_FIELDS = ("purpose_text", "destination_text")


def _field_strategy(part, name, spec):
    if spec.kind == "enum":
        return st.none() | st.sampled_from(spec.values)
    if spec.kind == "bool":
        return st.none() | st.booleans()
    if spec.kind == "int":
        upper = 100 if name == "age" else 8
        return st.none() | st.integers(0, upper)
    if spec.kind == "amount":
        return st.none() | st.integers(1, 2_000_000).map(str)
    fragments = st.sampled_from(RED_WORDS + BENIGN_WORDS) | st.text(max_size=8)
    return st.none() | st.lists(fragments, max_size=3).map("，".join)


screening_dicts = st.fixed_dictionaries({
    **{
        part: st.fixed_dictionaries({}, optional={
            name: _field_strategy(part, name, spec) for name, spec in specs.items()
        })
        for part, specs in FIELD_SPECS.items()
    },
    "observations": st.lists(st.sampled_from(OBSERVATION_FLAGS), unique=True, max_size=4),
})
screenings = screening_dicts.map(ScreeningInput.from_dict)
policies = st.builds(
    Policy,
    large_amount=st.sampled_from([Decimal("10000"), Decimal("20000"), Decimal("50000")]),
    elderly_age=st.integers(55, 70),
)

# A red flag added to a screening: (kind, argument).
red_flags = st.one_of(
    st.tuples(st.just("observation"), st.sampled_from(RED_FLAG_OBSERVATIONS)),
    st.tuples(st.just("word"), st.tuples(st.sampled_from(TEXT_FIELDS + ("payee_name",)),
                                         st.sampled_from(RED_WORDS))),
    st.tuples(st.just("stranger"), st.none()),
    st.tuples(st.just("possibly_scam"), st.sampled_from(POSSIBLY_SCAM)),
    st.tuples(st.just("watchlist"), st.none()),
    st.tuples(st.just("count"), st.tuples(
        st.sampled_from(["payee_other_customers", "customer_prior_screenings", "customer_prior_high",
                         "payee_other_branches", "customer_other_branches",
                         "customer_other_branch_high"]),
        st.integers(1, 6))),
)


def add_red_flag(screening, flag):
    kind, argument = flag
    replace = dataclasses.replace
    if kind == "observation":
        return replace(screening, observations=screening.observations | {argument})
    if kind == "word":
        field, word = argument
        part_name = "transaction" if field == "payee_name" else "answers"
        part = getattr(screening, part_name)
        # a clause break, as between two things the customer said (the follow-up statements are
        # joined by a newline): words are segmented, so gluing two words could make a third
        text = (getattr(part, field) or "") + "，" + word
        return replace(screening, **{part_name: replace(part, **{field: text})})
    if kind == "stranger":
        return replace(screening, three_checks=replace(screening.three_checks, paying_stranger=True))
    if kind == "possibly_scam":
        current = screening.three_checks.possibly_scam
        if current is not None and POSSIBLY_SCAM.index(current) > POSSIBLY_SCAM.index(argument):
            return screening  # only ever move toward "yes"
        return replace(screening, three_checks=replace(screening.three_checks, possibly_scam=argument))
    if kind == "watchlist":
        return replace(screening, cross_session=replace(screening.cross_session, payee_watchlisted=True))
    name, extra = argument
    cross = screening.cross_session
    return replace(screening, cross_session=replace(cross, **{name: getattr(cross, name) + extra}))


@settings(max_examples=200, deadline=None)
@given(screenings, policies)
def test_score_level_and_action_are_consistent(screening, policy):
    assessment = evaluate(screening, policy)
    rules = default_rules()
    assert 0 <= assessment.score <= 100
    assert assessment.level == rules.level_for(assessment.score)
    assert assessment.level_label == rules.level_labels[assessment.level]
    if assessment.hard_stop:
        assert assessment.level == "critical" and assessment.action.code == "stop_and_report"
    assert len({match.id for match in assessment.typologies}) == len(assessment.typologies)
    json.dumps(assessment.to_dict(), ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(screenings, policies)
def test_evaluation_is_deterministic(screening, policy):
    first = evaluate(screening, policy)
    assert evaluate(screening, policy) == first
    assert evaluate(ScreeningInput.from_dict(screening.to_dict()), policy) == first


@settings(max_examples=500, deadline=None)
@given(screenings, policies, st.lists(red_flags, min_size=1, max_size=3))
def test_adding_red_flags_never_lowers_the_score(screening, policy, flags):
    before = evaluate(screening, policy)
    worse = screening
    for flag in flags:
        worse = add_red_flag(worse, flag)
    after = evaluate(worse, policy)
    assert after.score >= before.score, (flags, before.fired, after.fired)
    assert LEVEL_RANK[after.level] >= LEVEL_RANK[before.level]
    assert after.hard_stop or not before.hard_stop


@pytest.mark.parametrize("typology", default_rules().typologies, ids=lambda t: t.id)
def test_every_typology_is_reachable_from_its_words(typology):
    for word in typology.keywords:
        # with a situational signal, so that the case is not low (a low result names no type)
        said = ScreeningInput.from_dict({"answers": {"purpose_text": f"对方是这么说的：{word}",
                                                     "knows_payee": "never"}})
        found = {match.id for match in evaluate(said).typologies}
        assert typology.id in found, (word, found)


# A verified, benign fact added to a screening (what a teller can check at the counter).
mitigations = st.one_of(
    st.tuples(st.just("observation"), st.sampled_from(MITIGATING_OBSERVATIONS)),
    st.tuples(st.just("verified"), st.none()),
    st.tuples(st.just("corporate"), st.none()),
)


def add_mitigation(screening, fact):
    kind, argument = fact
    replace = dataclasses.replace
    if kind == "observation":
        return replace(screening, observations=screening.observations | {argument})
    if kind == "verified":
        return replace(screening, answers=replace(screening.answers, verified_by_phone=True))
    return replace(screening, transaction=replace(screening.transaction, payee_type="corporate"))


@settings(max_examples=500, deadline=None)
@given(screenings, policies, st.lists(mitigations, min_size=1, max_size=3))
def test_adding_a_verified_mitigation_never_raises_the_level(screening, policy, facts):
    before = evaluate(screening, policy)
    better = screening
    for fact in facts:
        better = add_mitigation(better, fact)
    after = evaluate(better, policy)
    assert after.score <= before.score, (facts, before.fired, after.fired)
    assert LEVEL_RANK[after.level] <= LEVEL_RANK[before.level]


def without_situation(screening):
    """Only what the customer said and the transaction's context: no answer to a checklist
    question, no observation, no cross-session fact."""
    replace = dataclasses.replace
    answers = screening.answers
    return replace(
        screening,
        answers=type(answers)(purpose_text=answers.purpose_text,
                              destination_text=answers.destination_text),
        three_checks=type(screening.three_checks)(),
        cross_session=type(screening.cross_session)(),
        observations=screening.observations & frozenset(MITIGATING_OBSERVATIONS),
    )


@settings(max_examples=500, deadline=None)
@given(screenings, policies)
def test_without_any_situational_signal_nothing_but_a_hard_stop_is_critical(screening, policy):
    assessment = evaluate(without_situation(screening), policy)
    if not assessment.hard_stop:
        assert assessment.level != "critical", assessment.fired
        unambiguous = {rule.id for rule in default_rules().rules if rule.unambiguous}
        if not unambiguous & {rule.rule_id for rule in assessment.fired}:
            assert LEVEL_RANK[assessment.level] <= LEVEL_RANK["medium"], assessment.fired


@pytest.mark.parametrize("typology", default_rules().typologies, ids=lambda t: t.id)
def test_every_typology_is_reachable_from_a_purpose_or_rule(typology):
    """Some rule (not just free words) points to each typology, and it can come out on top."""
    rules = default_rules()
    pointing = [rule for rule in rules.rules if typology.id in rule.typologies]
    assert pointing, f"no rule points to {typology.id}"
