"""Backtest: run the engine over a labelled corpus and say how well the rules separate scams from
ordinary customers.

A corpus is JSON Lines, one case a line:

    {"id": "...", "label": "must_stop" | "caution" | "benign",
     "expected_min_level": "high", "expected_max_level": "medium",   (both optional)
     "expected_typology": "fake_loan" | null,                        (optional)
     "story_zh": "...", "input": {ScreeningInput dict}, "policy": {"large_amount": "20000"}}

The figures that matter: must-stop recall (a scam case reached 高风险 or more, so the teller held
the money), the benign false alarms (an ordinary customer put on hold, 高 or above; and the
share sent a slip, 中 or above), and how often the primary typology is the scam the story tells
(the teller reads its script).  Usage:
``teller-guard backtest CASES.jsonl [--rules FILE] [--override FILE] [--strict]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .engine import evaluate
from .model import LEVELS, FiredRule, InputError, Policy, ScreeningInput
from .rules import RuleFileError, RuleSet, default_rules, load_rules

LABELS = ("must_stop", "caution", "benign")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
LEVEL_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "极高"}
DEFAULT_BOUNDS = {"must_stop": ("high", "critical"), "caution": ("low", "critical"),
                  "benign": ("low", "medium")}
# --strict: the targets a release must meet on tests/data/cases.jsonl
MAX_BENIGN_FALSE_ALARM_RATE = 0.02  # benign at 高/极高
MAX_BENIGN_MEDIUM_RATE = 0.15  # benign at 中 or above
MIN_PRIMARY_ACCURACY = 0.90  # labelled scam cases whose primary typology is the expected one
NO_TYPOLOGY = "-"


class CorpusError(ValueError):
    """A corpus line is not a valid case; the message names the file, line and case id."""


@dataclass(frozen=True)
class Case:
    id: str
    label: str
    min_level: str
    max_level: str
    story_zh: str
    screening: ScreeningInput
    policy: Policy
    expected_typology: str | None = None  # None: not labelled, or no scam type applies
    typology_labelled: bool = False  # the case says which typology (null counts as "none")


@dataclass(frozen=True)
class CaseResult:
    case: Case
    score: int
    level: str
    fired: tuple[FiredRule, ...]
    typologies: tuple[str, ...]

    @property
    def within_expected(self) -> bool:
        rank = LEVEL_RANK[self.level]
        return LEVEL_RANK[self.case.min_level] <= rank <= LEVEL_RANK[self.case.max_level]

    @property
    def expected_band(self) -> str:
        return f"{self.case.label} {self.case.min_level}..{self.case.max_level}"

    @property
    def primary(self) -> str | None:
        return self.typologies[0] if self.typologies else None


@dataclass(frozen=True)
class BacktestReport:
    cases_path: str
    rules_version: str
    results: tuple[CaseResult, ...]

    @property
    def must_stop(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.case.label == "must_stop")

    @property
    def benign(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.case.label == "benign")

    @property
    def must_stop_caught(self) -> int:
        return sum(LEVEL_RANK[r.level] >= LEVEL_RANK["high"] for r in self.must_stop)

    @property
    def must_stop_recall(self) -> float:
        return self.must_stop_caught / len(self.must_stop) if self.must_stop else 1.0

    @property
    def benign_false_alarms(self) -> int:
        return sum(LEVEL_RANK[r.level] > LEVEL_RANK["medium"] for r in self.benign)

    @property
    def benign_false_alarm_rate(self) -> float:
        return self.benign_false_alarms / len(self.benign) if self.benign else 0.0

    @property
    def benign_medium_or_above(self) -> int:
        return sum(LEVEL_RANK[r.level] >= LEVEL_RANK["medium"] for r in self.benign)

    @property
    def benign_medium_rate(self) -> float:
        return self.benign_medium_or_above / len(self.benign) if self.benign else 0.0

    @property
    def typology_labelled_scams(self) -> tuple[CaseResult, ...]:
        """Scam cases (must_stop, caution) that name the typology their story tells."""
        return tuple(r for r in self.results if r.case.label != "benign"
                     and r.case.expected_typology is not None)

    @property
    def primary_correct(self) -> int:
        return sum(r.primary == r.case.expected_typology for r in self.typology_labelled_scams)

    @property
    def primary_accuracy(self) -> float:
        labelled = self.typology_labelled_scams
        return self.primary_correct / len(labelled) if labelled else 1.0

    @property
    def wrong_primary(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.typology_labelled_scams if r.primary != r.case.expected_typology)

    def typology_confusion(self) -> dict[tuple[str, str], int]:
        """(expected typology, primary got) -> cases, over the cases that name a typology."""
        table: dict[tuple[str, str], int] = {}
        for result in self.results:
            if not result.case.typology_labelled:
                continue
            key = (result.case.expected_typology or NO_TYPOLOGY, result.primary or NO_TYPOLOGY)
            table[key] = table.get(key, 0) + 1
        return dict(sorted(table.items()))

    def rule_counts(self) -> dict[str, int]:
        """Rule id -> cases where it fired (counted or not), most frequent first."""
        counts: dict[str, int] = {}
        for result in self.results:
            for fired in result.fired:
                counts[fired.rule_id] = counts.get(fired.rule_id, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def meets_targets(self) -> bool:
        return (self.must_stop_recall == 1.0
                and self.benign_false_alarm_rate <= MAX_BENIGN_FALSE_ALARM_RATE
                and self.benign_medium_rate <= MAX_BENIGN_MEDIUM_RATE
                and self.primary_accuracy >= MIN_PRIMARY_ACCURACY)

    @property
    def misses(self) -> tuple[CaseResult, ...]:
        """Cases whose level fell outside their expected band."""
        return tuple(r for r in self.results if not r.within_expected)

    def confusion(self) -> dict[str, dict[str, int]]:
        """Expected band (label and level range) -> level got -> number of cases."""
        table: dict[str, dict[str, int]] = {}
        for result in self.results:
            row = table.setdefault(result.expected_band, dict.fromkeys(LEVELS, 0))
            row[result.level] += 1
        order = {label: index for index, label in enumerate(LABELS)}
        return dict(sorted(table.items(), key=lambda item: (order[item[0].split()[0]], item[0])))


def load_cases(cases_path: str | Path) -> tuple[Case, ...]:
    path = Path(cases_path)
    cases = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as error:
                raise CorpusError(f"{where}: invalid JSON: {error}") from None
            case = _parse_case(raw, where)
            if case.id in seen:
                raise CorpusError(f"{where}: duplicate case id '{case.id}'")
            seen.add(case.id)
            cases.append(case)
    return tuple(cases)


def _parse_case(raw: Any, where: str) -> Case:
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: a case must be a JSON object")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise CorpusError(f"{where}: field 'id' must be a non-empty string")
    where = f"{where} case '{case_id}'"
    label = raw.get("label")
    if label not in LABELS:
        raise CorpusError(f"{where}: field 'label' must be one of {', '.join(LABELS)}")
    low, high = DEFAULT_BOUNDS[label]
    min_level = raw.get("expected_min_level", low)
    max_level = raw.get("expected_max_level", high)
    for name, value in (("expected_min_level", min_level), ("expected_max_level", max_level)):
        if value not in LEVELS:
            raise CorpusError(f"{where}: field '{name}' must be one of {', '.join(LEVELS)}")
    if LEVEL_RANK[min_level] > LEVEL_RANK[max_level]:
        raise CorpusError(f"{where}: expected_min_level is above expected_max_level")
    try:
        screening = ScreeningInput.from_dict(raw.get("input", {}))
    except InputError as error:
        raise CorpusError(f"{where}: input.{error.field}: {error.message_zh}") from None
    typology = raw.get("expected_typology")
    if typology is not None and (not isinstance(typology, str) or not typology):
        raise CorpusError(f"{where}: field 'expected_typology' must be a typology id or null")
    return Case(case_id, label, min_level, max_level, raw.get("story_zh", ""), screening,
                _parse_policy(raw.get("policy"), where), typology, "expected_typology" in raw)


def _parse_policy(raw: Any, where: str) -> Policy:
    if raw is None:
        return Policy()
    if not isinstance(raw, dict) or set(raw) - {"large_amount", "elderly_age"}:
        raise CorpusError(f"{where}: field 'policy' takes only large_amount and elderly_age")
    try:
        large = Decimal(str(raw.get("large_amount", Policy.large_amount)))
    except InvalidOperation:
        raise CorpusError(f"{where}: policy.large_amount is not a number") from None
    age = raw.get("elderly_age", Policy.elderly_age)
    if not isinstance(age, int) or isinstance(age, bool):
        raise CorpusError(f"{where}: policy.elderly_age must be an integer")
    return Policy(large_amount=large, elderly_age=age)


def run_backtest(cases_path: str | Path, ruleset: RuleSet | None = None) -> BacktestReport:
    rules = ruleset if ruleset is not None else default_rules()
    results = []
    known = set(rules.typology_by_id)
    for case in load_cases(cases_path):
        if case.expected_typology is not None and case.expected_typology not in known:
            raise CorpusError(f"case '{case.id}': expected_typology '{case.expected_typology}' "
                              "is not a typology of the rule set")
        assessment = evaluate(case.screening, case.policy, rules)
        results.append(CaseResult(
            case=case,
            score=assessment.score,
            level=assessment.level,
            fired=assessment.fired,
            typologies=tuple(match.id for match in assessment.typologies),
        ))
    return BacktestReport(str(cases_path), rules.version, tuple(results))


def format_report(report: BacktestReport) -> str:
    lines = [
        f"回测 Backtest: {report.cases_path}  规则版本 rules {report.rules_version}  "
        f"案例 cases {len(report.results)}",
        "",
        "混淆矩阵 Confusion (rows: expected band, columns: level got)",
    ]
    header = f"{'expected':<28}" + "".join(
        f"{LEVEL_ZH[level] + ' ' + level:>14}" for level in LEVELS
    )
    lines.append(header)
    for band, row in report.confusion().items():
        lines.append(f"{band:<28}" + "".join(f"{row[level]:>14}" for level in LEVELS))
    lines += [
        "",
        f"必拦截召回 must-stop recall (got >= high): {report.must_stop_caught}/{len(report.must_stop)}"
        f" = {report.must_stop_recall:.1%}",
        f"正常客户误报 benign false alarms (got > medium): "
        f"{report.benign_false_alarms}/{len(report.benign)} = {report.benign_false_alarm_rate:.1%}",
        f"正常客户提示 benign at medium or above: "
        f"{report.benign_medium_or_above}/{len(report.benign)} = {report.benign_medium_rate:.1%}",
        f"主要类型正确 primary typology correct: "
        f"{report.primary_correct}/{len(report.typology_labelled_scams)} = {report.primary_accuracy:.1%}",
        "",
        "类型混淆 Typology confusion (expected -> primary got: cases; '-' = none)",
    ]
    for (expected, got), count in report.typology_confusion().items():
        mark = "" if expected == got else "   <-"
        lines.append(f"  {expected:<24} -> {got:<24} {count:>4}{mark}")
    lines += ["", "规则命中 Rule fire counts (cases)"]
    lines += [f"  {rule_id:<36} {count:>4}" for rule_id, count in report.rule_counts().items()]
    lines.append("")
    wrong = report.wrong_primary
    if wrong:
        lines.append(f"主要类型不符 Wrong primary typology: {len(wrong)}")
        for result in wrong:
            lines.append(f"- {result.case.id}: expected {result.case.expected_typology}, got "
                         f"{', '.join(result.typologies) or NO_TYPOLOGY}: {result.case.story_zh}")
        lines.append("")
    misses = report.misses
    if not misses:
        lines.append("偏离预期 Outside expected band: none")
    else:
        lines.append(f"偏离预期 Outside expected band: {len(misses)}")
        for result in misses:
            lines.append(
                f"- {result.case.id} [{result.expected_band}] got {result.level} "
                f"({LEVEL_ZH[result.level]}) score {result.score}: {result.case.story_zh}"
            )
            for fired in result.fired:
                lines.append(f"    {fired.points:+4d} {fired.rule_id}: {fired.reason_zh}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="teller-guard backtest",
        description="Run the risk rules over a labelled corpus (JSON Lines) and print the figures.",
    )
    parser.add_argument("cases", help="labelled cases, e.g. tests/data/cases.jsonl")
    parser.add_argument("--rules", help="a complete rule file to use instead of the packaged one")
    parser.add_argument("--override", help="a branch override file merged over the rules")
    parser.add_argument(
        "--strict", action="store_true",
        help="exit 1 unless must-stop recall is 100%%, benign at 高/极高 at most 2%%, benign at 中 "
             "or above at most 15%% and the primary typology is right in at least 90%% of scam cases",
    )
    args = parser.parse_args(argv)
    try:
        if args.rules or args.override:
            ruleset = load_rules(args.rules, args.override)
        else:
            ruleset = default_rules()
        report = run_backtest(args.cases, ruleset)
    except (RuleFileError, CorpusError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.strict and not report.meets_targets():
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
