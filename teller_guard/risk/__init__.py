"""Risk engine: scores a counter transfer screening against the rule set (no Flask, no database).

    from teller_guard.risk import ScreeningInput, evaluate
    assessment = evaluate(ScreeningInput.from_dict(form_data))
"""

from .engine import applicable_questions, evaluate
from .model import (
    Action,
    Answers,
    Assessment,
    CrossSession,
    Customer,
    FiredRule,
    InputError,
    Policy,
    Question,
    ScreeningInput,
    ThreeChecks,
    Transaction,
    TypologyMatch,
)
from .rules import RuleFileError, RuleSet, default_rules, load_rules

__all__ = [
    "Action",
    "Answers",
    "Assessment",
    "CrossSession",
    "Customer",
    "FiredRule",
    "InputError",
    "Policy",
    "Question",
    "RuleFileError",
    "RuleSet",
    "ScreeningInput",
    "ThreeChecks",
    "Transaction",
    "TypologyMatch",
    "applicable_questions",
    "default_rules",
    "evaluate",
    "load_rules",
]
