"""Loading, validating and precompiling the rule set (rules.toml).

A rule file has these sections (docs/risk.md describes them with examples):

    [meta]          name, description (free text; part of the version hash)
    [thresholds]    medium, high, critical (score lines), max_mitigation
    [levels.X]      label_zh for low / medium / high / critical
    [actions.X]     label_zh, steps_zh for proceed / print_slip / supervisor_hold / stop_and_report
    [[rules]]       id, kind, points, reason_zh, when, typologies, min_level, hard_stop, enabled
    [[typologies]]  id, name_zh, teller_script_zh, slip_text_zh, keywords, keyword_points, follow_ups
    [[questions]]   id, section, text_zh, say_zh, answer_field, options, when

A branch override file has the same shape; every entry in it is merged into the packaged set by id
(the fields it gives replace those of the packaged entry; a new id adds an entry).

Conditions (``when``) are compiled once, at load, into plain closures so that evaluation is a
loop of function calls.  Validation also enforces the direction of each condition, which is what
makes the score monotonic: a risk rule may only look at a red-flag field in the alarming
direction, and a mitigating rule may not look at red-flag fields at all.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .model import (
    ACTION_FOR_LEVEL,
    FIELDS,
    LEVELS,
    MITIGATING_OBSERVATIONS,
    OBSERVATION_FLAGS,
    TEXT_FIELDS,
    Action,
    Policy,
    Question,
    ScreeningInput,
    TypologyMatch,
)
from .text import MAX_PHRASE_LENGTH, PhraseIndex, Segmenter, normalize_text

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")

# Free-text fields searched by typology keywords and by keyword conditions that name no fields:
# what the customer said.  Not the payee name: a real "某某投资管理有限公司" is not a scam story;
# a rule that wants the payee name lists it (safe_account_words does).
DEFAULT_KEYWORD_FIELDS = ("answers.purpose_text", "answers.destination_text")

# Fields where a larger / "more yes" value is a red flag.  Risk rules may only test them in the
# alarming direction; mitigating rules may not test them at all (see module docstring).
RED_FLAG_FIELDS = frozenset(
    {"three_checks.paying_stranger", "three_checks.possibly_scam"}
    | {name for name in FIELDS if name.startswith("cross_session.")}
)

RULE_KINDS = ("risk", "mitigation")
MIN_LEVELS = ("medium", "high", "critical")
SECTIONS = ("five", "three", "follow_up")
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

_TOP_LEVEL = ("meta", "thresholds", "levels", "actions", "rules", "typologies", "questions")
_META_KEYS = ("name", "description")
_THRESHOLD_KEYS = ("medium", "high", "critical", "max_mitigation")
_RULE_KEYS = ("id", "kind", "points", "reason_zh", "when", "group", "typologies", "min_level",
              "hard_stop", "unambiguous", "enabled")
# Input fields whose answers describe the customer's situation (docs/risk.md, "Evidence"): a rule
# that needs one of them, an observation or a cross-session fact is situational evidence.
SITUATION_PARTS = ("answers.", "three_checks.", "cross_session.")
_TYPOLOGY_KEYS = ("id", "name_zh", "teller_script_zh", "slip_text_zh", "keywords", "keyword_points",
                  "follow_ups")
_QUESTION_KEYS = ("id", "section", "text_zh", "say_zh", "answer_field", "options", "when")
_LIST_SECTIONS = {"rules": ("rule", _RULE_KEYS), "typologies": ("typology", _TYPOLOGY_KEYS),
                  "questions": ("question", _QUESTION_KEYS)}


class RuleFileError(ValueError):
    """A rule file is unreadable or invalid; the message names file, entry and field."""


# --- evaluation context ---------------------------------------------------------------------


_TEXT_GETTERS = {name: operator.attrgetter(name) for name in TEXT_FIELDS}


class EvalContext:
    """What compiled conditions read: the screening plus facts derived once per evaluation."""

    __slots__ = ("screening", "is_large", "is_elderly", "default_found", "default_negated", "_index",
                 "_said")

    def __init__(self, screening: ScreeningInput, policy: Policy, index: PhraseIndex):
        self.screening = screening
        amount = screening.transaction.amount
        self.is_large = amount is not None and amount >= policy.large_amount
        age = screening.customer.age
        self.is_elderly = age is not None and age >= policy.elderly_age
        self._index = index
        self._said: dict[tuple[str, ...], tuple[frozenset[str], frozenset[str]]] = {}
        # What the customer said is read by most keyword rules: both fields cut and scanned in
        # one pass (joined by a clause break), read as attributes.
        answers = screening.answers
        said = index.analyze_all((answers.purpose_text, answers.destination_text))
        self.default_found, self.default_negated = said.found, said.negated

    def said(self, fields: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
        """(phrases said plainly, phrases only said negated) across the fields."""
        if fields == DEFAULT_KEYWORD_FIELDS:
            return self.default_found, self.default_negated
        result = self._said.get(fields)
        if result is None:
            with_default = all(name in fields for name in DEFAULT_KEYWORD_FIELDS)
            others = [name for name in fields if not (with_default and name in DEFAULT_KEYWORD_FIELDS)]
            said = self._index.analyze_all(_TEXT_GETTERS[name](self.screening) for name in others)
            found, negated = said.found, said.negated
            if with_default:  # what the customer said is analysed already
                found = found | self.default_found
                negated = (negated | self.default_negated) - found
            result = self._said[fields] = (found, negated)
        return result


Test = Callable[[EvalContext], bool]


# --- compiled rule set ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str  # "risk" adds points, "mitigation" subtracts them
    points: int
    reason_zh: str
    group: str | None  # rules seeing the same fact share a group; only the strongest one counts
    typologies: tuple[str, ...]
    min_level: str | None  # the level this rule guarantees (a words floor yields to mitigations)
    hard_stop: bool  # forces critical and stop_and_report
    evidence: str  # situation | words | context | mitigation, derived from the condition
    unambiguous: bool  # words an honest customer does not say: words alone may reach 高
    story: bool  # reads the customer's story (the purpose or words): tells which scam it is
    # Necessary conditions, so the evaluation loop can skip a rule without calling its test:
    purposes: frozenset[str] | None  # fires only for these answers.purpose values (None: any)
    needs_words: bool  # fires only if the customer said some phrase of the rule set
    needs_flags: bool  # fires only if the teller ticked some observation
    expression: str = field(compare=False, repr=False)  # the condition as Python (see _Code)
    test: Test = field(compare=False, repr=False)


@dataclass(frozen=True)
class Typology:
    id: str
    name_zh: str
    teller_script_zh: str
    slip_text_zh: str
    keywords: tuple[str, ...]  # normalized
    keyword_points: int
    follow_ups: tuple[str, ...]  # question ids

    def match(self) -> TypologyMatch:
        return TypologyMatch(self.id, self.name_zh, self.teller_script_zh, self.slip_text_zh)


@dataclass(frozen=True)
class QuestionDef:
    question: Question
    applies: Test | None = field(compare=False, repr=False)  # None: always asked


@dataclass(frozen=True)
class RuleSet:
    version: str
    sources: tuple[str, ...]
    thresholds: dict[str, int]
    level_labels: dict[str, str]
    actions: dict[str, Action]
    rules: tuple[Rule, ...]
    typologies: tuple[Typology, ...]
    questions: tuple[QuestionDef, ...]
    phrases: PhraseIndex = field(compare=False, repr=False)
    code: _Code = field(compare=False, repr=False)

    def plan(self, purpose: str | None, said_words: bool,
             observed: bool) -> Callable[[EvalContext], list[int]]:
        """A function returning the indices of the rules that fire, testing only the rules
        that can fire for this purpose, whether anything was said and whether anything was
        observed (compiled once per combination: at most 4 × purposes functions)."""
        key = (purpose, said_words, observed)
        plans = self._plans
        found = plans.get(key)
        if found is None:
            body = ["    fired = []"]
            for index, rule in enumerate(self.rules):
                if ((rule.purposes is None or purpose in rule.purposes)
                        and (said_words or not rule.needs_words)
                        and (observed or not rule.needs_flags)):
                    body += [f"    if {rule.expression}:", f"        fired.append({index})"]
            found = plans[key] = self.code.function([*body, "    return fired"], "plan")
        return found

    @functools.cached_property
    def _plans(self) -> dict[tuple[str | None, bool, bool], Callable[[EvalContext], list[int]]]:
        return {}

    @functools.cached_property
    def typology_by_id(self) -> dict[str, Typology]:
        return {typology.id: typology for typology in self.typologies}

    @functools.cached_property
    def question_by_id(self) -> dict[str, Question]:
        return {definition.question.id: definition.question for definition in self.questions}

    @functools.cached_property
    def typologies_by_phrase(self) -> dict[str, tuple[str, ...]]:
        """Typology keyword -> the typologies that list it, in rule-file order."""
        result: dict[str, tuple[str, ...]] = {}
        for typology in self.typologies:
            for word in typology.keywords:
                result[word] = result.get(word, ()) + (typology.id,)
        return result

    @functools.cached_property
    def typology_order(self) -> dict[str, int]:
        return {typology.id: index for index, typology in enumerate(self.typologies)}

    @functools.cached_property
    def typology_matches(self) -> dict[str, TypologyMatch]:
        return {typology.id: typology.match() for typology in self.typologies}

    def floor_score(self, level: str | None) -> int:
        """Lowest score of a level (0 for low or None)."""
        return self.thresholds[level] if level in ("medium", "high", "critical") else 0

    def level_for(self, score: int) -> str:
        level = "low"
        for candidate in ("medium", "high", "critical"):
            if score >= self.thresholds[candidate]:
                level = candidate
        return level


# --- loading --------------------------------------------------------------------------------


def load_rules(path: str | Path | None = None, override_path: str | Path | None = None) -> RuleSet:
    """Load a rule file (default: the packaged rules.toml), optionally merged with a branch override."""
    base_path = Path(path) if path is not None else DEFAULT_RULES_PATH
    documents = [(base_path.name, _read_toml(base_path))]
    if override_path is not None:
        override = Path(override_path)
        documents.append((override.name, _read_toml(override)))
    merged = _Merged()
    for name, document in documents:
        merged.add(name, document)
    return _build(merged)


@functools.lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The packaged rule set, loaded once per process."""
    return load_rules()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise RuleFileError(f"{path.name}: file not found ({path})") from None
    except tomllib.TOMLDecodeError as error:
        raise RuleFileError(f"{path.name}: invalid TOML: {error}") from None


class _Entry:
    """One [[rules]]/[[typologies]]/[[questions]] entry and which file gave each of its fields."""

    def __init__(self, what: str, origin: str):
        self.what = what
        self.origin = origin
        self.data: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def update(self, name: str, table: dict[str, Any]) -> None:
        for key, value in table.items():
            self.data[key] = copy.deepcopy(value)
            self.sources[key] = name

    def error(self, field_path: str, message: str) -> RuleFileError:
        top = field_path.split(".")[0].split("[")[0]
        source = self.sources.get(top, self.origin)
        label = self.data.get("id", "?")
        return RuleFileError(f"{source}: {self.what} '{label}': field '{field_path}' {message}")


class _Merged:
    """The packaged document with overrides applied, keeping track of where each value came from."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {"meta": {}, "thresholds": {}}
        self.table_sources: dict[tuple[str, str], str] = {}
        self.levels: dict[str, dict[str, Any]] = {}
        self.actions: dict[str, dict[str, Any]] = {}
        self.entries: dict[str, dict[str, _Entry]] = {name: {} for name in _LIST_SECTIONS}
        self.files: list[str] = []

    def add(self, name: str, document: dict[str, Any]) -> None:
        self.files.append(name)
        for key in document:
            if key not in _TOP_LEVEL:
                raise RuleFileError(f"{name}: unknown section '{key}' (allowed: {', '.join(_TOP_LEVEL)})")
        for section, allowed in (("meta", _META_KEYS), ("thresholds", _THRESHOLD_KEYS)):
            table = document.get(section, {})
            if not isinstance(table, dict):
                raise RuleFileError(f"{name}: section '{section}' must be a table")
            for key, value in table.items():
                if key not in allowed:
                    raise RuleFileError(f"{name}: section '{section}': unknown field '{key}'")
                self.tables[section][key] = value
                self.table_sources[(section, key)] = name
        self._add_named_tables(name, document, "levels", LEVELS, ("label_zh",), self.levels)
        self._add_named_tables(name, document, "actions", tuple(ACTION_FOR_LEVEL.values()),
                               ("label_zh", "steps_zh"), self.actions)
        for section, (what, allowed) in _LIST_SECTIONS.items():
            self._add_entries(name, document, section, what, allowed)

    def _add_named_tables(self, name, document, section, names, allowed, target) -> None:
        tables = document.get(section, {})
        if not isinstance(tables, dict):
            raise RuleFileError(f"{name}: section '{section}' must be a table")
        for key, table in tables.items():
            where = f"{name}: {section} '{key}'"
            if key not in names:
                raise RuleFileError(f"{where}: unknown {section[:-1]} (allowed: {', '.join(names)})")
            if not isinstance(table, dict):
                raise RuleFileError(f"{where}: must be a table")
            for field_name, value in table.items():
                if field_name not in allowed:
                    raise RuleFileError(f"{where}: unknown field '{field_name}'")
                target.setdefault(key, {})[field_name] = (value, name)

    def _add_entries(self, name, document, section, what, allowed) -> None:
        items = document.get(section, [])
        if not isinstance(items, list):
            raise RuleFileError(f"{name}: '{section}' must be an array of tables ([[{section}]])")
        seen: set[str] = set()
        target = self.entries[section]
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise RuleFileError(f"{name}: {section}[{index}] must be a table")
            entry_id = item.get("id")
            if not isinstance(entry_id, str) or not _ID_PATTERN.match(entry_id):
                raise RuleFileError(
                    f"{name}: {what} #{index + 1} '{entry_id}': field 'id' must be a lower-case "
                    "identifier (a-z, 0-9, _)"
                )
            if entry_id in seen:
                raise RuleFileError(f"{name}: {what} '{entry_id}': field 'id' is a duplicate in this file")
            seen.add(entry_id)
            for key in item:
                if key not in allowed:
                    raise RuleFileError(
                        f"{name}: {what} '{entry_id}': field '{key}' is unknown "
                        f"(allowed: {', '.join(allowed)})"
                    )
            entry = target.get(entry_id)
            if entry is None:
                entry = target[entry_id] = _Entry(what, name)
            entry.update(name, item)

    def canonical(self) -> dict[str, Any]:
        """Merged content without provenance: what the version hash is computed over."""
        return {
            "meta": self.tables["meta"],
            "thresholds": self.tables["thresholds"],
            "levels": {key: {f: v for f, (v, _) in table.items()} for key, table in self.levels.items()},
            "actions": {key: {f: v for f, (v, _) in table.items()} for key, table in self.actions.items()},
            **{
                section: [entry.data for entry in entries.values()]
                for section, entries in self.entries.items()
            },
        }


def _version(canonical: dict[str, Any]) -> str:
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# --- validation + compilation ---------------------------------------------------------------


def _build(merged: _Merged) -> RuleSet:
    thresholds = _check_thresholds(merged)
    level_labels = _check_levels(merged)
    actions = _check_actions(merged)
    question_entries = merged.entries["questions"]
    code = _Code()
    questions = tuple(_check_question(entry, code) for entry in question_entries.values())
    follow_up_ids = {d.question.id for d in questions if d.question.section == "follow_up"}
    typologies = tuple(
        _check_typology(entry, follow_up_ids) for entry in merged.entries["typologies"].values()
    )
    typology_ids = {typology.id for typology in typologies}
    rules = tuple(
        rule
        for entry in merged.entries["rules"].values()
        if (rule := _check_rule(entry, typology_ids, code)) is not None
    )
    phrases = PhraseIndex(
        [word for typology in typologies for word in typology.keywords]
        + [word for entry in merged.entries["rules"].values() for word in _words_of(entry.data.get("when"))],
        SEGMENTER,
    )
    for typology in typologies:
        if not any(typology.id in rule.typologies for rule in rules) and not typology.keywords:
            raise merged.entries["typologies"][typology.id].error(
                "keywords", "is empty and no rule points to this typology: it could never match"
            )
    return RuleSet(
        version=_version(merged.canonical()),
        sources=tuple(merged.files),
        thresholds=thresholds,
        level_labels=level_labels,
        actions=actions,
        rules=rules,
        typologies=typologies,
        questions=questions,
        phrases=phrases,
        code=code,
    )


def _packaged_phrases() -> list[str]:
    """The phrases of the packaged rule file: the segmenter's extra dictionary words."""
    document = _read_toml(DEFAULT_RULES_PATH)
    return [word for typology in document.get("typologies", []) for word in typology.get("keywords", [])] + [
        word for rule in document.get("rules", []) for word in _words_of(rule.get("when"))]


SEGMENTER = Segmenter(_packaged_phrases)


def _words_of(cond: Any) -> list[str]:
    """Every keyword in a (validated) condition tree."""
    if not isinstance(cond, dict):
        return []
    words = list(cond.get("keywords", []))
    for combinator in ("all", "any"):
        for part in cond.get(combinator, []):
            words += _words_of(part)
    return words


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_thresholds(merged: _Merged) -> dict[str, int]:
    table = merged.tables["thresholds"]
    default_source = merged.files[0]
    result = {}
    for key in _THRESHOLD_KEYS:
        source = merged.table_sources.get(("thresholds", key), default_source)
        if key not in table:
            raise RuleFileError(f"{source}: section 'thresholds': field '{key}' is missing")
        value = table[key]
        if not _is_int(value) or not 0 <= value <= 100:
            raise RuleFileError(f"{source}: section 'thresholds': field '{key}' must be an integer 0-100")
        result[key] = value
    previous_key, previous = "low", 0
    for key in ("medium", "high", "critical"):
        if result[key] <= previous:
            source = merged.table_sources[("thresholds", key)]
            raise RuleFileError(
                f"{source}: section 'thresholds': field '{key}' ({result[key]}) must be greater "
                f"than '{previous_key}' ({previous}): thresholds must increase"
            )
        previous_key, previous = key, result[key]
    return result


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_levels(merged: _Merged) -> dict[str, str]:
    labels = {}
    for level in LEVELS:
        value, source = merged.levels.get(level, {}).get("label_zh", (None, merged.files[0]))
        if not _text(value):
            raise RuleFileError(f"{source}: levels '{level}': field 'label_zh' must be a non-empty string")
        labels[level] = value
    return labels


def _check_actions(merged: _Merged) -> dict[str, Action]:
    actions = {}
    for code in ACTION_FOR_LEVEL.values():
        table = merged.actions.get(code, {})
        label, source = table.get("label_zh", (None, merged.files[0]))
        if not _text(label):
            raise RuleFileError(f"{source}: actions '{code}': field 'label_zh' must be a non-empty string")
        steps, source = table.get("steps_zh", (None, merged.files[0]))
        if not isinstance(steps, list) or not steps or not all(_text(step) for step in steps):
            raise RuleFileError(
                f"{source}: actions '{code}': field 'steps_zh' must be a non-empty list of strings"
            )
        actions[code] = Action(code, label, tuple(steps))
    return actions


def _require_text(entry: _Entry, key: str) -> str:
    value = entry.data.get(key)
    if value is None:
        raise entry.error(key, "is missing")
    if not _text(value):
        raise entry.error(key, "must be a non-empty string")
    return value


def _check_rule(entry: _Entry, typology_ids: set[str], code: _Code) -> Rule | None:
    data = entry.data
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise entry.error("enabled", "must be true or false")
    kind = data.get("kind", "risk")
    if kind not in RULE_KINDS:
        raise entry.error("kind", f"must be one of {', '.join(RULE_KINDS)}")
    points = data.get("points")
    if not _is_int(points) or not 0 <= points <= 100:
        raise entry.error("points", "must be an integer 0-100")
    reason = _require_text(entry, "reason_zh")
    typologies = data.get("typologies", [])
    if not isinstance(typologies, list) or not all(isinstance(t, str) for t in typologies):
        raise entry.error("typologies", "must be a list of typology ids")
    for typology in typologies:
        if typology not in typology_ids:
            raise entry.error("typologies", f"names unknown typology '{typology}'")
    min_level = data.get("min_level")
    if min_level is not None and min_level not in MIN_LEVELS:
        raise entry.error("min_level", f"must be one of {', '.join(MIN_LEVELS)}")
    hard_stop = data.get("hard_stop", False)
    if not isinstance(hard_stop, bool):
        raise entry.error("hard_stop", "must be true or false")
    group = data.get("group")
    if group is not None and (not isinstance(group, str) or not _ID_PATTERN.match(group)):
        raise entry.error("group", "must be a lower-case identifier (a-z, 0-9, _)")
    unambiguous = data.get("unambiguous", False)
    if not isinstance(unambiguous, bool):
        raise entry.error("unambiguous", "must be true or false")
    if kind == "mitigation":
        # Mitigations only lower points (capped by max_mitigation); letting them carry a group, a
        # floor, a stop or a scam type would make "benign evidence" behave like risk.
        for key in ("group", "typologies", "min_level", "hard_stop", "unambiguous"):
            if data.get(key):
                raise entry.error(key, "is not allowed on a mitigation rule")
    if "when" not in data:
        raise entry.error("when", "is missing")
    expression = _compile(data["when"], "when", entry, kind, code)
    evidence = "mitigation" if kind == "mitigation" else _evidence(data["when"])
    if unambiguous and evidence != "words":
        raise entry.error("unambiguous", "is only for rules that fire on words alone")
    if not enabled:
        return None  # validated all the same, so a typo in a switched-off rule is still caught
    return Rule(
        id=data["id"],
        kind=kind,
        points=points,
        reason_zh=reason,
        group=group,
        typologies=tuple(typologies),
        min_level="critical" if hard_stop else min_level,
        hard_stop=hard_stop,
        evidence=evidence,
        unambiguous=unambiguous,
        story=_reads_story(data["when"]),
        purposes=_purpose_guard(data["when"]),
        needs_words=_needs_default_words(data["when"]),
        needs_flags=_needs(data["when"], "flag"),
        expression=expression,
        test=code.test(expression),
    )


def _purpose_guard(cond: dict[str, Any]) -> frozenset[str] | None:
    """The purposes a rule needs, when a top-level conjunct tests answers.purpose by value."""
    parts = cond["all"] if "all" in cond else [cond]
    for part in parts:
        if part.get("field") == "answers.purpose":
            if "equals" in part:
                return frozenset([part["equals"]])
            if "in" in part:
                return frozenset(part["in"])
    return None


def _needs_default_words(cond: dict[str, Any]) -> bool:
    """Whether the rule can only fire when what the customer said holds a phrase (a keyword
    leaf on the default fields, or scam_words, that no alternative avoids)."""
    if "all" in cond:
        return any(_needs_default_words(part) for part in cond["all"])
    if "any" in cond:
        return all(_needs_default_words(part) for part in cond["any"])
    if "scam_words" in cond:
        return True
    return "keywords" in cond and tuple(cond.get("fields", DEFAULT_KEYWORD_FIELDS)) == DEFAULT_KEYWORD_FIELDS


def _reads_story(cond: dict[str, Any]) -> bool:
    """Whether any leaf of the condition reads what the customer said their money is for."""
    if "all" in cond or "any" in cond:
        return any(_reads_story(part) for part in cond.get("all", cond.get("any")))
    return ("keywords" in cond or "scam_words" in cond
            or cond.get("field") == "answers.purpose")


def _needs(cond: dict[str, Any], leaf_kind: str) -> bool:
    """Whether the (validated) condition can only hold when a leaf of this kind holds."""
    if "all" in cond:
        return any(_needs(part, leaf_kind) for part in cond["all"])
    if "any" in cond:
        return all(_needs(part, leaf_kind) for part in cond["any"])
    return _leaf_kind(cond) == leaf_kind


def _needs_situation(cond: dict[str, Any]) -> bool:
    if "all" in cond:
        return any(_needs_situation(part) for part in cond["all"])
    if "any" in cond:
        return all(_needs_situation(part) for part in cond["any"])
    if "flag" in cond:
        # a mitigating observation (family_present) is no red flag
        return cond["flag"] not in MITIGATING_OBSERVATIONS
    return _leaf_kind(cond) == "situation"


def _leaf_kind(cond: dict[str, Any]) -> str:
    if "flag" in cond:
        return "flag"
    if "keywords" in cond or "scam_words" in cond:
        return "words"
    if "field" in cond and cond["field"].startswith(SITUATION_PARTS):
        return "situation"
    return "context"


def _evidence(cond: dict[str, Any]) -> str:
    """situation when the rule cannot fire without a situational fact; else words when it reads
    words at all (a rule that may fire on words alone is treated as words); else context."""
    if _needs_situation(cond):
        return "situation"
    if _words_of(cond) or "scam_words" in json.dumps(cond):
        return "words"
    return "context"


def _check_typology(entry: _Entry, follow_up_ids: set[str]) -> Typology:
    data = entry.data
    texts = {key: _require_text(entry, key) for key in ("name_zh", "teller_script_zh", "slip_text_zh")}
    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(_text(word) for word in keywords):
        raise entry.error("keywords", "must be a list of non-empty strings")
    points = data.get("keyword_points", 0)
    if not _is_int(points) or not 0 <= points <= 100:
        raise entry.error("keyword_points", "must be an integer 0-100")
    if keywords and points == 0:
        raise entry.error("keyword_points", "must be above 0 when keywords are given")
    follow_ups = data.get("follow_ups", [])
    if not isinstance(follow_ups, list) or not all(isinstance(q, str) for q in follow_ups):
        raise entry.error("follow_ups", "must be a list of question ids")
    for question_id in follow_ups:
        if question_id not in follow_up_ids:
            raise entry.error("follow_ups", f"names unknown follow-up question '{question_id}'")
    _check_phrase_lengths(entry, "keywords", keywords)
    return Typology(
        id=data["id"],
        keywords=tuple(dict.fromkeys(normalize_text(word) for word in keywords)),
        keyword_points=points,
        follow_ups=tuple(follow_ups),
        **texts,
    )


def _check_question(entry: _Entry, code: _Code) -> QuestionDef:
    data = entry.data
    section = data.get("section")
    if section not in SECTIONS:
        raise entry.error("section", f"must be one of {', '.join(SECTIONS)}")
    text = _require_text(entry, "text_zh")
    say = _require_text(entry, "say_zh")
    answer_field = data.get("answer_field")
    if answer_field is not None and answer_field not in FIELDS and answer_field != "observations":
        raise entry.error("answer_field", f"names unknown input field '{answer_field}'")
    if section != "follow_up" and answer_field is None:
        raise entry.error("answer_field", "is missing: a checklist question must fill an input field")
    options = _check_options(entry, answer_field, data.get("options", []))
    applies = None
    if "when" in data:
        # Whether a question is asked is not scored, so the monotonicity checks do not apply.
        applies = code.test(_compile(data["when"], "when", entry, "question", code))
    question = Question(data["id"], section, text, say, answer_field, options)
    return QuestionDef(question, applies)


def _check_options(entry: _Entry, answer_field: str | None, options: Any) -> tuple:
    if not isinstance(options, list):
        raise entry.error("options", "must be a list of [value, label_zh] pairs")
    result = []
    for index, option in enumerate(options):
        where = f"options[{index}]"
        if not (isinstance(option, list) and len(option) == 2 and _text(option[1])):
            raise entry.error(where, "must be a [value, label_zh] pair")
        value = option[0]
        if answer_field == "observations":
            if value not in OBSERVATION_FLAGS:
                raise entry.error(where, f"names unknown observation flag {value!r}")
        elif answer_field is not None:
            spec = FIELDS[answer_field]
            if spec.kind == "enum" and value not in spec.values:
                raise entry.error(where, f"value {value!r} is not allowed for {answer_field}")
            if spec.kind == "bool" and not isinstance(value, bool):
                raise entry.error(where, f"value for {answer_field} must be true or false")
            if spec.kind in ("int", "text", "amount"):
                raise entry.error(where, f"{answer_field} is typed in, it takes no options")
        result.append((value, option[1]))
    return tuple(result)


# --- conditions -----------------------------------------------------------------------------
# Vocabulary (exactly one of these per table):
#   { all = [c, ...] }            every sub-condition holds
#   { any = [c, ...] }            at least one holds
#   { flag = "on_phone" }         the teller ticked this observation
#   { keywords = [...], fields = [...] }   a word occurs in the free-text fields (fields optional)
#   { large_amount = true }       amount >= policy.large_amount
#   { elderly = true }            age >= policy.elderly_age
#   { scam_words = true }         what the customer said holds any phrase of the rule set
#   { field = "a.b", equals = v } / in = [...] / not_equals = v / at_least = n


_FIELD_OPS = ("equals", "in", "not_equals", "at_least")


class _Code:
    """Conditions become Python expressions over ``ctx`` (the EvalContext) and ``S`` (the
    screening), compiled once: a plan runs every rule it holds in one function, with no call per
    condition.  Values from the rule file never enter the source text: they are constants."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {"_said_even_denied": _said_even_denied}

    def const(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def test(self, expression: str) -> Test:
        return self.function(["    return " + expression], "test")

    def function(self, body: list[str], name: str) -> Callable:
        source = "\n".join([f"def {name}(ctx):", "    S = ctx.screening", *body])
        namespace = dict(self.constants)
        exec(compile(source, f"<rules:{name}>", "exec"), namespace)  # noqa: S102 - our own source
        return namespace[name]


def _said_even_denied(ctx, fields: tuple[str, ...], wanted: frozenset[str]) -> bool:
    """A hard-stop phrase counts even when denied: "不是什么安全账户" is still the scam's word."""
    found, negated = ctx.said(fields)
    return not (wanted.isdisjoint(found) and wanted.isdisjoint(negated))


def _compile(cond: Any, where: str, entry: _Entry, kind: str, code: _Code) -> str:
    """Validate a condition and return it as a Python expression (see _Code)."""
    if not isinstance(cond, dict) or not cond:
        raise entry.error(where, "must be a condition table")
    keys = set(cond)
    if keys in ({"all"}, {"any"}):
        (combinator,) = keys
        parts = cond[combinator]
        if not isinstance(parts, list) or not parts:
            raise entry.error(f"{where}.{combinator}", "must be a non-empty list of conditions")
        expressions = [
            _compile(part, f"{where}.{combinator}[{index}]", entry, kind, code)
            for index, part in enumerate(parts)
        ]
        joiner = " and " if combinator == "all" else " or "
        return "(" + joiner.join(expressions) + ")"
    if keys == {"flag"}:
        flag = cond["flag"]
        if flag not in OBSERVATION_FLAGS:
            raise entry.error(f"{where}.flag", f"names unknown observation flag {flag!r}")
        if flag in MITIGATING_OBSERVATIONS:
            if kind == "risk":
                # a mitigating observation must never raise the score
                raise entry.error(f"{where}.flag", f"{flag} speaks for the customer: only a "
                                  "mitigation rule may read it")
        else:
            _forbid_in_mitigation(entry, kind, f"{where}.flag", "observations are red flags")
        return f"({code.const(flag)} in S.observations)"
    if "keywords" in keys and keys <= {"keywords", "fields"}:
        return _compile_keywords(cond, where, entry, kind, code)
    if keys in ({"large_amount"}, {"elderly"}, {"scam_words"}):
        (name,) = keys
        if cond[name] is not True:
            raise entry.error(f"{where}.{name}", "must be true")
        if name == "scam_words":
            _forbid_in_mitigation(entry, kind, f"{where}.scam_words",
                                  "adding words to what the customer said must never lower the score")
            # every phrase of the index is some scam's word (a typology's or a rule's)
            return "bool(ctx.default_found)"
        return "ctx.is_large" if name == "large_amount" else "ctx.is_elderly"
    if "field" in keys:
        ops = keys - {"field"}
        if len(ops) != 1 or not ops <= set(_FIELD_OPS):
            raise entry.error(where, f"a field condition needs exactly one of {', '.join(_FIELD_OPS)}")
        (op,) = ops
        return _compile_field(cond["field"], op, cond[op], where, entry, kind, code)
    raise entry.error(
        where,
        f"has unknown keys {sorted(keys)}: use all, any, flag, keywords, scam_words, large_amount, "
        "elderly or field",
    )


def _forbid_in_mitigation(entry: _Entry, kind: str, where: str, why: str) -> None:
    if kind == "mitigation":
        # Otherwise adding a red flag could switch a mitigation on and lower the score.
        raise entry.error(where, f"cannot be used in a mitigation rule ({why})")


def _compile_keywords(cond, where, entry, kind, code: _Code) -> str:
    words = cond["keywords"]
    if not isinstance(words, list) or not words or not all(_text(word) for word in words):
        raise entry.error(f"{where}.keywords", "must be a non-empty list of non-empty strings")
    _forbid_in_mitigation(entry, kind, f"{where}.keywords",
                          "adding words to what the customer said must never lower the score")
    fields = cond.get("fields", list(DEFAULT_KEYWORD_FIELDS))
    if not isinstance(fields, list) or not fields:
        raise entry.error(f"{where}.fields", "must be a non-empty list of text fields")
    for name in fields:
        if name not in TEXT_FIELDS:
            raise entry.error(f"{where}.fields", f"names {name!r}, which is not a free-text field")
    _check_phrase_lengths(entry, f"{where}.keywords", words)
    wanted = code.const(frozenset(normalize_text(word) for word in words))
    fields_key = tuple(fields)
    if entry.data.get("hard_stop"):
        return f"_said_even_denied(ctx, {code.const(fields_key)}, {wanted})"
    if fields_key == DEFAULT_KEYWORD_FIELDS:
        return f"(not {wanted}.isdisjoint(ctx.default_found))"
    return f"(not {wanted}.isdisjoint(ctx.said({code.const(fields_key)})[0]))"


def _check_phrase_lengths(entry: _Entry, where: str, words: list[str]) -> None:
    for word in words:
        if len(normalize_text(word)) > MAX_PHRASE_LENGTH:
            raise entry.error(where, f"phrase {word!r} is longer than {MAX_PHRASE_LENGTH} characters")


_ORDINALS = {"three_checks.possibly_scam": {"no": 0, "unsure": 1, "yes": 2}}


def _compile_field(name, op, value, where, entry, kind, code: _Code) -> str:
    spec = FIELDS.get(name)
    if spec is None:
        raise entry.error(f"{where}.field", f"names unknown input field {name!r}")
    if spec.kind == "text":
        raise entry.error(f"{where}.field", f"{name} is free text: use a keywords condition")
    where_op = f"{where}.{op}"
    value_of = f"S.{name}"  # a known field name: part.field, both identifiers

    def check_value(item):
        if spec.kind == "enum" and item not in spec.values:
            raise entry.error(where_op, f"value {item!r} is not allowed for {name}")
        if spec.kind == "bool" and not isinstance(item, bool):
            raise entry.error(where_op, f"{name} is true/false, got {item!r}")
        if spec.kind in ("int", "amount") and not _is_int(item):
            raise entry.error(where_op, f"{name} is a number, got {item!r}")

    if name in RED_FLAG_FIELDS:
        _forbid_in_mitigation(entry, kind, f"{where}.field", f"{name} is a red-flag field")
    if op == "at_least":
        if spec.kind in ("int", "amount"):
            check_value(value)
            bound = code.const(Decimal(value) if spec.kind == "amount" else value)
            return f"({value_of} is not None and {value_of} >= {bound})"
        if name not in _ORDINALS:
            raise entry.error(where_op, f"{name} has no order: use equals or in")
        check_value(value)
        ranks = _ORDINALS[name]
        return f"({code.const(ranks)}.get({value_of}, -1) >= {ranks[value]})"
    if op == "in":
        if not isinstance(value, list) or not value:
            raise entry.error(where_op, "must be a non-empty list")
        for item in value:
            check_value(item)
        accepted = frozenset(value)
    else:
        check_value(value)
        accepted = frozenset([value])
    if kind == "risk" and name in RED_FLAG_FIELDS:
        _check_alarming_direction(name, spec, op, accepted, where_op, entry)
    if op == "not_equals":
        (rejected,) = accepted
        return f"({value_of} != {code.const(rejected)})"
    if len(accepted) == 1:
        (wanted,) = accepted
        return f"({value_of} == {code.const(wanted)})"
    return f"({value_of} in {code.const(accepted)})"


def _check_alarming_direction(name, spec, op, accepted, where, entry) -> None:
    """A risk rule on a red-flag field must keep firing when the field gets more alarming."""
    message = (
        f"on red-flag field {name} must test the alarming direction "
        "(equals true, at_least, or an 'in' set that contains every more alarming value) "
        "so that adding a red flag never lowers the score"
    )
    if op == "not_equals":
        raise entry.error(where, message)
    if spec.kind == "bool" and accepted != {True}:
        raise entry.error(where, message)
    if spec.kind in ("int", "amount"):
        raise entry.error(where, "on a count must use at_least")
    if name in _ORDINALS:
        ranks = _ORDINALS[name]
        lowest = min(ranks[item] for item in accepted)
        if {v for v, r in ranks.items() if r >= lowest} != accepted:
            raise entry.error(where, message)
