"""Scoring a screening against a rule set: words raise suspicion, situations decide.

    red      = points of every risk rule that fires (only the strongest of a group counts) + the
               keyword points of the strongest typology whose setting words the customer used
    benign   = points of every mitigation that fires, capped at thresholds.max_mitigation
    score    = clamp(red - benign, 0, 100), raised to the floors of fired rules' ``min_level``

Then the evidence model (docs/risk.md, "Evidence") bounds the level:

- a floor set by a words rule holds only while no mitigation fired: a teller-verified fact
  (met in person, verified by a call, family at the counter, own account, documents shown, an
  institution's corporate account) outweighs a word;
- without a situational signal (an answer, an observation, a cross-session fact) words and
  context reach at most 中风险, or 高风险 when an ``unambiguous`` scam phrase fired;
- a hard stop makes the case 极高风险 whatever else is true.

Risk rules only look at red-flag fields in the alarming direction and mitigations never look at
them (rules.py enforces both at load), so adding a red flag can only add points, raise a floor,
lift the words ceiling or trigger a hard stop, and adding a mitigation can only lower the level.
"""

from __future__ import annotations

from .model import ACTION_FOR_LEVEL, Assessment, FiredRule, Policy, Question, ScreeningInput
from .rules import EvalContext, RuleSet, default_rules

DEFAULT_POLICY = Policy()
MAX_FOLLOW_UPS = 3  # from the primary typology only: the teller has one story to pursue
MAX_TYPOLOGIES = 3  # the primary and at most two "也可能是"
# Which scam it is shows in the customer's story (the purpose, the words), far more than in how
# they behave (on the phone, in a hurry), which many scams share.
STORY_WEIGHT = 3

# A watchlisted payee is 极高风险 whatever the customer says: the full checklist would only
# delay the stop. What is still asked is what the police alert's interview record needs: the
# purpose and who asked for it (客户原话), whether and how the customer knows the payee, and
# the signs of a scammer on the line (on the phone, told to keep it secret, remote app).
WATCHLIST_QUESTIONS = ("purpose", "knows_payee", "relationship", "observe_customer")

NOTE_WORDS_CEILING = {
    "medium": "仅凭客户用词，未发现需要核实的情形（回答、观察、名单等），最高评为中风险。",
    "high": "客户用了诈骗专用说法，但未发现需要核实的情形，评为高风险：请主管核实。",
}
NOTE_FLOOR_LIFTED = "柜员已核实的有利情形抵消了仅由用词带来的最低风险等级。"


def evaluate(
    screening: ScreeningInput, policy: Policy = DEFAULT_POLICY, rules: RuleSet | None = None
) -> Assessment:
    """Score one screening.  Pure and deterministic: same input, policy and rules, same result."""
    if rules is None:
        rules = default_rules()
    ctx = EvalContext(screening, policy, rules.phrases)

    benign = situation_floor = words_floor = 0
    hard_stop = situational = unambiguous = False
    # (points, order, rule_id, reason, group, evidence) of every risk rule that fired
    risk_hits: list[tuple[int, int, str, str, str | None, str]] = []
    mitigation_hits: list[FiredRule] = []
    strength: dict[str, int] = {}  # typology id -> weighted points that point to it

    rule_list = rules.rules
    plan = rules.plan(screening.answers.purpose, bool(ctx.default_found), bool(screening.observations))
    for order in plan(ctx):
        rule = rule_list[order]
        if rule.kind == "mitigation":
            benign += rule.points
            mitigation_hits.append(FiredRule(rule.id, -rule.points, rule.reason_zh, "mitigation"))
            continue
        evidence = rule.evidence
        risk_hits.append((rule.points, order, rule.id, rule.reason_zh, rule.group, evidence))
        weight = STORY_WEIGHT if rule.story else 1
        for typology_id in rule.typologies:
            strength[typology_id] = strength.get(typology_id, 0) + weight * max(rule.points, 1)
        if rule.min_level is not None:
            floor = rules.floor_score(rule.min_level)
            if evidence == "words" and not rule.hard_stop:
                words_floor = max(words_floor, floor)
            else:
                situation_floor = max(situation_floor, floor)
        hard_stop = hard_stop or rule.hard_stop
        situational = situational or evidence == "situation"
        unambiguous = unambiguous or rule.unambiguous

    _typology_words(rules, ctx, risk_hits, strength)

    red, fired = _count_groups(risk_hits)
    score = red - min(benign, rules.thresholds["max_mitigation"])
    notes: list[str] = []
    if words_floor and mitigation_hits:
        notes.append(NOTE_FLOOR_LIFTED)
        words_floor = 0
    score = max(0, min(100, score), situation_floor, words_floor)
    if not (situational or hard_stop):
        ceiling = "high" if unambiguous else "medium"
        limit = rules.thresholds["critical" if ceiling == "high" else "high"] - 1
        if score > limit:
            score = limit
            notes.append(NOTE_WORDS_CEILING[ceiling])
    if hard_stop:
        score = max(score, rules.thresholds["critical"])
    level = rules.level_for(score)

    # A low-risk customer is served with the general reminder: naming a scam type there would
    # put a script in front of the teller for a customer with nothing to explain.
    typologies = _ranked_typologies(rules, strength) if level != "low" else []
    return Assessment(
        score=score,
        level=level,
        level_label=rules.level_labels[level],
        hard_stop=hard_stop,
        # strongest reasons first, then the mitigations in rule-file order
        fired=tuple(item[2] for item in sorted(fired)) + tuple(mitigation_hits),
        typologies=tuple(rules.typology_matches[typology_id] for typology_id in typologies),
        action=rules.actions[ACTION_FOR_LEVEL[level]],
        follow_ups=_follow_ups(rules, typologies[:1]),
        rules_version=rules.version,
        notes_zh=tuple(notes),
    )


def _typology_words(rules: RuleSet, ctx: EvalContext, risk_hits: list, strength: dict) -> None:
    """Setting words (公安, 贷款, 客服 ...) name a scam's scene, not a scam: every typology whose
    words occur gains strength for the ranking, but only the typology with the most of them adds
    its points (in its own group, so they do not add to its rules' points for the same word), and
    two innocent nouns of two scams do not add up to a hold."""
    found = ctx.default_found
    if not found:
        return
    by_phrase = rules.typologies_by_phrase
    matched: dict[str, list[str]] = {}
    for phrase in found:
        for typology_id in by_phrase.get(phrase, ()):
            matched.setdefault(typology_id, []).append(phrase)
    if not matched:
        return
    order_of = rules.typology_order
    counted = min(matched, key=lambda typology_id: (-len(matched[typology_id]), order_of[typology_id]))
    for typology_id, words in matched.items():
        typology = rules.typology_by_id[typology_id]
        words.sort(key=typology.keywords.index)
        points = typology.keyword_points if typology_id == counted else 0
        shown = "”“".join(words[:3])
        reason = f"客户所述含“{shown}”等{typology.name_zh}常见说法"
        order = len(rules.rules) + order_of[typology_id]  # after the rules, in file order
        risk_hits.append((points, order, f"words:{typology_id}", reason, typology_id, "words"))
        strength[typology_id] = strength.get(typology_id, 0) + typology.keyword_points * min(len(words), 3)


def _count_groups(hits):
    """Sum the points, counting only the strongest rule of each group (the first on a tie).

    Rules in one group look at the same fact (say, the purpose 办贷款交费 and the words 解冻费):
    counting all of them would double one piece of evidence.  A max over a group can only grow
    when rules are added, so the score stays monotonic.  The rules that did not count are still
    listed, with 0 points, so every reason is on record.
    """
    winners: dict[str, tuple[int, int]] = {}
    for points, order, _, _, group, _ in hits:
        if group is not None and (group not in winners or points > winners[group][0]):
            winners[group] = (points, order)
    red = 0
    fired: list[tuple[int, int, FiredRule]] = []
    for points, order, rule_id, reason, group, evidence in hits:
        counted = points if group is None or winners[group][1] == order else 0
        red += counted
        fired.append((-counted, order, FiredRule(rule_id, counted, reason, evidence)))
    return red, fired


def _ranked_typologies(rules: RuleSet, strength: dict[str, int]) -> list[str]:
    """The primary typology and at most two more: strongest weighted evidence first; a tie goes
    to the typology listed first in the rule file (the file lists the more common scams first)."""
    if not strength:
        return []
    order = rules.typology_order
    ranked = sorted(
        (typology_id for typology_id, points in strength.items() if points > 0),
        key=lambda typology_id: (-strength[typology_id], order[typology_id]),
    )
    return ranked[:MAX_TYPOLOGIES]


def _follow_ups(rules: RuleSet, typology_ids: list[str]) -> tuple[Question, ...]:
    questions: dict[str, Question] = {}
    for typology_id in typology_ids:
        for question_id in rules.typology_by_id[typology_id].follow_ups:
            questions.setdefault(question_id, rules.question_by_id[question_id])
    return tuple(questions.values())[:MAX_FOLLOW_UPS]


def applicable_questions(
    screening: ScreeningInput, policy: Policy = DEFAULT_POLICY, rules: RuleSet | None = None
) -> tuple[Question, ...]:
    """The 五必问 / 三是否 questions this transaction calls for, in checklist order; for a
    watchlisted payee only the short set the police alert needs (WATCHLIST_QUESTIONS)."""
    if rules is None:
        rules = default_rules()
    ctx = EvalContext(screening, policy, rules.phrases)
    short = screening.cross_session.payee_watchlisted
    return tuple(
        definition.question
        for definition in rules.questions
        if definition.question.section != "follow_up"
        and (not short or definition.question.id in WATCHLIST_QUESTIONS)
        and (definition.applies is None or definition.applies(ctx))
    )
