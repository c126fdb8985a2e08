"""Scoring a screening against a rule set.

The score is built so that it can only go up when a red flag is added:

    red      = points of every risk rule that fires + keyword points of every typology whose words
               occur in what the customer said
    benign   = points of every mitigating rule that fires, capped at thresholds.max_mitigation
    score    = clamp(red - benign, 0, 100), then raised to the floor of the strongest ``min_level``
               of a fired rule, and to the critical line when a hard-stop rule fired

Risk rules only look at red-flag fields in the alarming direction and mitigations never look at
them (rules.py enforces both at load), so adding a red flag can add red points, raise the floor
or trigger a hard stop, but it can never switch a mitigation on or a risk rule off.  Mitigations
cannot cancel a floor or a hard stop: "the customer knows the payee" does not make 安全账户 safe.
"""

from __future__ import annotations

from .model import ACTION_FOR_LEVEL, Assessment, FiredRule, Policy, Question, ScreeningInput
from .rules import EvalContext, RuleSet, default_rules

DEFAULT_POLICY = Policy()
MAX_FOLLOW_UPS = 6  # the teller has a queue; more than a handful of extra questions will not be asked


def evaluate(
    screening: ScreeningInput, policy: Policy = DEFAULT_POLICY, rules: RuleSet | None = None
) -> Assessment:
    """Score one screening.  Pure and deterministic: same input, policy and rules, same result."""
    if rules is None:
        rules = default_rules()
    ctx = EvalContext(screening, policy)

    benign = floor = 0
    hard_stop = False
    # (points, order, rule_id, reason, group) of every risk rule that fired, in rule-file order
    risk_hits: list[tuple[int, int, str, str, str | None]] = []
    mitigation_hits: list[FiredRule] = []
    strength: dict[str, int] = {}  # typology id -> points that point to it

    rule_list = rules.rules
    for order, test in enumerate(rules.tests):
        if not test(ctx):
            continue
        rule = rule_list[order]
        if rule.kind == "mitigation":
            benign += rule.points
            mitigation_hits.append(FiredRule(rule.id, -rule.points, rule.reason_zh))
            continue
        risk_hits.append((rule.points, order, rule.id, rule.reason_zh, rule.group))
        for typology_id in rule.typologies:
            strength[typology_id] = strength.get(typology_id, 0) + rule.points
        if rule.min_level is not None:
            floor = max(floor, rules.floor_score(rule.min_level))
        hard_stop = hard_stop or rule.hard_stop

    text = ctx.default_text
    if text.strip("\n"):
        order = len(rules.rules)
        for typology in rules.typologies:
            found = typology.pattern.search(text) if typology.pattern is not None else None
            if found is None:
                continue
            word = found.group(0)  # the first of its words in what the customer said
            points = typology.keyword_points
            reason = f"客户所述含“{word}”等{typology.name_zh}常见说法"
            # a typology's words are one more view of its story: same group as its purpose rules
            risk_hits.append((points, order, f"words:{typology.id}", reason, typology.id))
            strength[typology.id] = strength.get(typology.id, 0) + points
            order += 1

    red, fired = _count_groups(risk_hits)
    score = red - min(benign, rules.thresholds["max_mitigation"])
    score = max(0, min(100, score), floor)
    if hard_stop:
        score = max(score, rules.thresholds["critical"])
    level = rules.level_for(score)

    typologies = _ranked_typologies(rules, strength)
    return Assessment(
        score=score,
        level=level,
        level_label=rules.level_labels[level],
        hard_stop=hard_stop,
        # strongest reasons first, then the mitigations in rule-file order
        fired=tuple(item[2] for item in sorted(fired)) + tuple(mitigation_hits),
        typologies=tuple(rules.typology_matches[typology_id] for typology_id in typologies),
        action=rules.actions[ACTION_FOR_LEVEL[level]],
        follow_ups=_follow_ups(rules, typologies),
        rules_version=rules.version,
    )


def _count_groups(hits):
    """Sum the points, counting only the strongest rule of each group (the first on a tie).

    Rules in one group look at the same fact (say, the purpose 办贷款交费, the words 解冻费 and the
    fake-loan typology words): counting all of them would triple one piece of evidence.  A max over
    a group can only grow when rules are added, so the score stays monotonic.  The rules that did
    not count are still listed, with 0 points, so the reasons are all there for the record.
    """
    winners: dict[str, tuple[int, int]] = {}
    for points, order, _, _, group in hits:
        if group is not None and (group not in winners or points > winners[group][0]):
            winners[group] = (points, order)
    red = 0
    fired: list[tuple[int, int, FiredRule]] = []
    for points, order, rule_id, reason, group in hits:
        counted = points if group is None or winners[group][1] == order else 0
        red += counted
        fired.append((-counted, order, FiredRule(rule_id, counted, reason)))
    return red, fired


def _ranked_typologies(rules: RuleSet, strength: dict[str, int]) -> list[str]:
    """Typologies with positive strength, strongest first; ties keep the rule file's order."""
    if not strength:
        return []
    order = {typology.id: index for index, typology in enumerate(rules.typologies)}
    return sorted(
        (typology_id for typology_id, points in strength.items() if points > 0),
        key=lambda typology_id: (-strength[typology_id], order[typology_id]),
    )


def _follow_ups(rules: RuleSet, typology_ids: list[str]) -> tuple[Question, ...]:
    questions: dict[str, Question] = {}
    for typology_id in typology_ids:
        for question_id in rules.typology_by_id[typology_id].follow_ups:
            questions.setdefault(question_id, rules.question_by_id[question_id])
    return tuple(questions.values())[:MAX_FOLLOW_UPS]


def applicable_questions(
    screening: ScreeningInput, policy: Policy = DEFAULT_POLICY, rules: RuleSet | None = None
) -> tuple[Question, ...]:
    """The 五必问 / 三是否 questions this transaction calls for, in checklist order."""
    if rules is None:
        rules = default_rules()
    ctx = EvalContext(screening, policy)
    return tuple(
        definition.question
        for definition in rules.questions
        if definition.question.section != "follow_up"
        and (definition.applies is None or definition.applies(ctx))
    )
