"""Values going into and coming out of the risk engine.

Everything here is a frozen dataclass so an assessment can be cached, compared in tests and
shared between threads.  ``ScreeningInput.from_dict`` is the single place where raw input
(the nested JSON form used by the web form and the API) is checked; it names the offending
field with its dotted path so the caller can put the message next to the right input box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

# --- allowed values -------------------------------------------------------------------------

CHANNELS = ("counter_transfer", "remittance", "cash_deposit_transfer", "time_deposit_early", "other")
PAYEE_TYPES = ("personal", "corporate")
PAYEE_KNOWN = ("new", "known")
OCCUPATIONS = ("student", "retired", "finance", "unemployed", "other")
PURPOSES = (
    "family_living", "tuition", "house_purchase", "salary", "trade_payment", "repay_debt",
    "medical", "loan_fee", "investment", "safe_account", "online_task", "refund_claim",
    "boss_request", "online_friend", "prize_tax_subsidy", "emergency_relative",
    "military_purchase", "game_trade", "for_others", "other",
    "rent", "gift", "consumer_purchase", "own_account", "legal_court", "repay_bank_loan", "tax",
)
KNOWS_PAYEE = ("in_person", "online_only", "phone_only", "never")
RELATIONSHIPS = (
    "family", "friend", "colleague", "business_partner", "landlord", "school", "developer",
    "employer", "online_contact", "stranger", "other", "self", "institution",
)
POSSIBLY_SCAM = ("no", "unsure", "yes")  # ordered: each step is more alarming
RED_FLAG_OBSERVATIONS = (
    "hurried", "large_cash", "on_phone", "companion_answers", "reads_from_message",
    "refuses_explain", "told_keep_secret", "remote_app", "insists_after_warning",
)
# What the teller can see and check that speaks for the customer: only mitigations read these.
MITIGATING_OBSERVATIONS = ("family_present", "documents_shown")
OBSERVATION_FLAGS = RED_FLAG_OBSERVATIONS + MITIGATING_OBSERVATIONS

MAX_TEXT_LENGTH = 2000  # a teller's note, not a document: bounds the keyword scan
MAX_COUNT = 1_000_000


class InputError(ValueError):
    """Raw input is not a valid screening.  ``field`` is the dotted name, e.g. answers.purpose."""

    def __init__(self, field: str, message_zh: str):
        super().__init__(f"{field}: {message_zh}")
        self.field = field
        self.message_zh = message_zh


# --- field specifications -------------------------------------------------------------------
# One table describes every input field: the parser, the rule validator (which fields and values a
# rule may name) and the question validator all read it, so a field exists in exactly one place.


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # "enum" | "bool" | "int" | "text" | "amount"
    values: tuple[str, ...] = ()  # allowed values of an enum
    default: Any = None
    ordered: bool = False  # enum values are ordered (at_least is meaningful)


FIELD_SPECS: dict[str, dict[str, FieldSpec]] = {
    "transaction": {
        "amount": FieldSpec("amount"),
        "channel": FieldSpec("enum", CHANNELS, "counter_transfer"),
        "payee_name": FieldSpec("text"),
        "payee_bank": FieldSpec("text"),
        "payee_province": FieldSpec("text"),
        "payee_city": FieldSpec("text"),
        "payee_type": FieldSpec("enum", PAYEE_TYPES, "personal"),
        "payee_known": FieldSpec("enum", PAYEE_KNOWN),
        "other_region": FieldSpec("bool", default=False),
    },
    "customer": {
        "age": FieldSpec("int"),
        "occupation": FieldSpec("enum", OCCUPATIONS, "other"),
    },
    "answers": {
        "purpose": FieldSpec("enum", PURPOSES),
        "purpose_text": FieldSpec("text"),
        "use_confirmed": FieldSpec("bool"),
        "destination_text": FieldSpec("text"),
        "knows_payee": FieldSpec("enum", KNOWS_PAYEE),
        "relationship": FieldSpec("enum", RELATIONSHIPS),
        "verified_by_phone": FieldSpec("bool"),
    },
    "three_checks": {
        "paying_stranger": FieldSpec("bool"),
        "possibly_scam": FieldSpec("enum", POSSIBLY_SCAM, ordered=True),
        "family_consulted": FieldSpec("bool"),
    },
    "cross_session": {
        "payee_watchlisted": FieldSpec("bool", default=False),
        "payee_other_customers": FieldSpec("int", default=0),
        "customer_prior_screenings": FieldSpec("int", default=0),
        "customer_prior_high": FieldSpec("int", default=0),
        # Other branches of the bank (issue 16): where else this payee was paid, and where else
        # this customer was screened; the screening's own branch never counts.
        "payee_other_branches": FieldSpec("int", default=0),
        "customer_other_branches": FieldSpec("int", default=0),
        "customer_other_branch_high": FieldSpec("int", default=0),
    },
}

# Dotted name -> spec, e.g. "answers.purpose".
FIELDS: dict[str, FieldSpec] = {
    f"{part}.{name}": spec for part, specs in FIELD_SPECS.items() for name, spec in specs.items()
}
# part -> field -> dotted name, so parsing builds no strings.
_PATHS = {part: {name: f"{part}.{name}" for name in specs} for part, specs in FIELD_SPECS.items()}
TEXT_FIELDS = tuple(name for name, spec in FIELDS.items() if spec.kind == "text")


# --- input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    amount: Decimal | None = None
    channel: str = "counter_transfer"
    payee_name: str | None = None
    payee_bank: str | None = None
    payee_province: str | None = None
    payee_city: str | None = None
    payee_type: str = "personal"
    payee_known: str | None = None
    other_region: bool = False


@dataclass(frozen=True)
class Customer:
    age: int | None = None
    occupation: str = "other"


@dataclass(frozen=True)
class Answers:
    purpose: str | None = None
    purpose_text: str | None = None
    use_confirmed: bool | None = None
    destination_text: str | None = None
    knows_payee: str | None = None
    relationship: str | None = None
    verified_by_phone: bool | None = None


@dataclass(frozen=True)
class ThreeChecks:
    paying_stranger: bool | None = None
    possibly_scam: str | None = None
    family_consulted: bool | None = None


@dataclass(frozen=True)
class CrossSession:
    payee_watchlisted: bool = False
    payee_other_customers: int = 0
    customer_prior_screenings: int = 0
    customer_prior_high: int = 0
    payee_other_branches: int = 0
    customer_other_branches: int = 0
    customer_other_branch_high: int = 0


_PART_CLASSES = {
    "transaction": Transaction,
    "customer": Customer,
    "answers": Answers,
    "three_checks": ThreeChecks,
    "cross_session": CrossSession,
}


@dataclass(frozen=True)
class ScreeningInput:
    transaction: Transaction = field(default_factory=Transaction)
    customer: Customer = field(default_factory=Customer)
    answers: Answers = field(default_factory=Answers)
    three_checks: ThreeChecks = field(default_factory=ThreeChecks)
    observations: frozenset[str] = frozenset()
    cross_session: CrossSession = field(default_factory=CrossSession)

    @classmethod
    def from_dict(cls, data: Any, *, strict: bool = True) -> ScreeningInput:
        """Build from the nested dict form.  Missing keys take their defaults.

        ``strict`` (default) rejects unknown keys, which catches misspelt field names early;
        pass ``strict=False`` to ignore extra keys a caller keeps for its own use.
        """
        if not isinstance(data, dict):
            raise InputError("$", "输入应为对象（字典）")
        known = set(_PART_CLASSES) | {"observations"}
        if strict:
            for key in data:
                if key not in known:
                    raise InputError(str(key), "未知字段")
        parts = {}
        for part, part_class in _PART_CLASSES.items():
            raw = data.get(part)
            if raw is None:
                parts[part] = part_class()
                continue
            if not isinstance(raw, dict):
                raise InputError(part, "应为对象（字典）")
            specs, paths = FIELD_SPECS[part], _PATHS[part]
            values = {}
            # Only the keys given: a missing or None value takes the class default, which is
            # the spec's default (a test holds the two together).
            for name, value in raw.items():
                spec = specs.get(name)
                if spec is None:
                    if strict:
                        raise InputError(f"{part}.{name}", "未知字段")
                elif value is not None:
                    values[name] = _parse_value(paths[name], spec, value)
            parts[part] = part_class(**values)
        return cls(observations=_parse_observations(data.get("observations")), **parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe nested dict; ``from_dict(x.to_dict()) == x``."""
        result: dict[str, Any] = {}
        for part in _PART_CLASSES:
            value = getattr(self, part)
            result[part] = {
                name: (str(v) if isinstance(v, Decimal) else v)
                for name in FIELD_SPECS[part]
                for v in (getattr(value, name),)
            }
        result["observations"] = sorted(self.observations)
        return result


@dataclass(frozen=True)
class Policy:
    """Branch settings that move lines, not rules."""

    large_amount: Decimal = Decimal("50000")
    elderly_age: int = 60


def _parse_value(path: str, spec: FieldSpec, raw: Any) -> Any:
    if raw is None:
        return spec.default
    if spec.kind == "enum":
        if not isinstance(raw, str) or raw not in spec.values:
            raise InputError(path, f"取值无效：{raw!r}，应为 {'/'.join(spec.values)} 之一")
        return raw
    if spec.kind == "bool":
        if not isinstance(raw, bool):
            raise InputError(path, "应为是/否（true/false）")
        return raw
    if spec.kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InputError(path, "应为整数")
        if raw < 0 or raw > MAX_COUNT:
            raise InputError(path, "应为不小于 0 的整数")
        if path == "customer.age" and raw > 130:
            raise InputError(path, "年龄应在 0 至 130 之间")
        return raw
    if spec.kind == "text":
        if not isinstance(raw, str):
            raise InputError(path, "应为文字")
        text = raw.strip()
        if len(text) > MAX_TEXT_LENGTH:
            raise InputError(path, f"文字过长（最多 {MAX_TEXT_LENGTH} 字）")
        return text or None
    if spec.kind == "amount":
        return _parse_amount(path, raw)
    raise AssertionError(f"unknown field kind {spec.kind}")  # pragma: no cover


def _parse_amount(path: str, raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
        raise InputError(path, "金额应为数字")
    try:
        # str() first so that a float such as 0.1 becomes Decimal("0.1"), not its binary value
        amount = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise InputError(path, f"金额格式无效：{raw!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise InputError(path, "金额应大于 0")
    if amount.as_tuple().exponent < -2:
        raise InputError(path, "金额最多保留两位小数（分）")
    if amount >= Decimal("1e13"):
        raise InputError(path, "金额过大")
    return amount


def _parse_observations(raw: Any) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, str) or not isinstance(raw, (list, tuple, set, frozenset)):
        raise InputError("observations", "应为观察项列表")
    for flag in raw:
        if flag not in OBSERVATION_FLAGS:
            raise InputError("observations", f"未知的观察项：{flag!r}")
    return frozenset(raw)


# --- output ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    section: str  # "five" (五必问) | "three" (三是否) | "follow_up"
    text_zh: str  # the checklist line, e.g. 转账汇款目的必问
    say_zh: str  # the words the teller says to the customer
    answer_field: str | None = None  # dotted input field it fills; None for free follow-ups
    options: tuple[tuple[Any, str], ...] = ()  # (value, label_zh)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "section": self.section,
            "text_zh": self.text_zh,
            "say_zh": self.say_zh,
            "answer_field": self.answer_field,
            "options": [[value, label] for value, label in self.options],
        }


EVIDENCE_KINDS = ("situation", "words", "context", "mitigation")


@dataclass(frozen=True, slots=True)
class FiredRule:
    rule_id: str
    points: int  # negative for a mitigating rule
    reason_zh: str
    # situation (answers, observations, cross-session facts), words (what the customer said),
    # context (amount, age, region...), or mitigation
    evidence: str = "situation"

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "points": self.points, "reason_zh": self.reason_zh,
                "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class TypologyMatch:
    id: str
    name_zh: str
    teller_script_zh: str
    slip_text_zh: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "teller_script_zh": self.teller_script_zh,
            "slip_text_zh": self.slip_text_zh,
        }


@dataclass(frozen=True, slots=True)
class Action:
    code: str  # "proceed" | "print_slip" | "supervisor_hold" | "stop_and_report"
    label_zh: str
    steps_zh: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "label_zh": self.label_zh, "steps_zh": list(self.steps_zh)}


LEVELS = ("low", "medium", "high", "critical")
ACTION_FOR_LEVEL = {
    "low": "proceed",
    "medium": "print_slip",
    "high": "supervisor_hold",
    "critical": "stop_and_report",
}


@dataclass(frozen=True)
class Assessment:
    score: int
    level: str
    level_label: str
    hard_stop: bool
    fired: tuple[FiredRule, ...]
    typologies: tuple[TypologyMatch, ...]
    action: Action
    follow_ups: tuple[Question, ...]
    rules_version: str
    # How the evidence model bounded the level, in words for the teller (docs/risk.md)
    notes_zh: tuple[str, ...] = ()

    @property
    def primary_typology(self) -> TypologyMatch | None:
        """The one scam type the teller talks about: its script, slip text and follow-ups."""
        return self.typologies[0] if self.typologies else None

    @property
    def other_typologies(self) -> tuple[TypologyMatch, ...]:
        """也可能是: at most two more, weaker candidates."""
        return self.typologies[1:]

    def to_dict(self) -> dict[str, Any]:
        primary = self.primary_typology
        return {
            "score": self.score,
            "level": self.level,
            "level_label": self.level_label,
            "hard_stop": self.hard_stop,
            "fired": [rule.to_dict() for rule in self.fired],
            "primary_typology": primary.id if primary else None,
            "typologies": [typology.to_dict() for typology in self.typologies],
            "action": self.action.to_dict(),
            "follow_ups": [question.to_dict() for question in self.follow_ups],
            "rules_version": self.rules_version,
            "notes_zh": list(self.notes_zh),
        }
