"""Turn what the teller typed (or the API sent) into typed values, or say which field is wrong.

The web form and the JSON API both call these, so validation exists once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal

from .. import labels, pii
from ..printing.capitals import amount_in_capitals
from ..regions import PROVINCES, is_other_region
from ..risk import model
from . import validation
from .validation import FieldError

CHANNEL_LABELS = labels.CHANNELS
OCCUPATION_LABELS = labels.OCCUPATIONS
PAYEE_TYPE_LABELS = labels.PAYEE_TYPES
PAYEE_KNOWN_LABELS = labels.PAYEE_KNOWN
FACT_FIELDS = (
    "amount", "channel", "payee_account", "payee_name", "payee_bank", "payee_province",
    "payee_city", "payee_type", "payee_known", "customer_id_number", "customer_age",
    "customer_name", "customer_phone", "occupation",
)
# Flags that confirm a fact rather than state one (not part of Facts): an amount above
# validation.HUGE_AMOUNT is taken only with amount_confirmed.
CONFIRMATION_FIELDS = ("amount_confirmed",)
# Personal data: kept in full only in the vault, masked everywhere else.
PERSONAL_FIELDS = ("payee_account", "payee_name", "customer_id_number", "customer_name",
                   "customer_phone")
# Free text that is stored as typed, except for account, ID and phone numbers in it.
FREE_TEXT_FIELDS = ("payee_bank", "payee_city")
# Longest text (characters, after trimming) each free-text field takes. The API's schema reads
# these (api_schema.py), so the form, the API and its OpenAPI document share one number.
TEXT_LIMITS = {"payee_name": 100, "payee_bank": 100, "payee_city": 40, "customer_name": 50}
TEXT_LABELS = {name: labels.FACT_NAMES[name] for name in TEXT_LIMITS}
ANSWER_TEXT_LIMIT = 500  # a free-text answer (answers.destination_text)
STATEMENT_FIELD = "answers.purpose_text"  # the customer's own words, asked of every screening
STATEMENT_LIMIT = 1000
WORDS_KEPT = 2000  # the customer's words with follow-up statements added: the newest are kept
# What an empty choice means; payee_known has no default (the teller must ask).
FACT_DEFAULTS = {"channel": "counter_transfer", "payee_type": "personal", "occupation": "other"}


@dataclass(frozen=True)
class Facts:
    amount: Decimal
    channel: str
    payee_account: str
    payee_type: str
    payee_known: str
    occupation: str
    customer_age: int
    payee_name: str | None = None
    payee_bank: str | None = None
    payee_province: str | None = None
    payee_city: str | None = None
    customer_id_number: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None


@dataclass
class Checked:
    """Result of checking raw input: the typed value, or errors by field; warnings never block."""

    value: object = None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # field -> the API's reason code

    def fail(self, name: str, message: str, code: str = "invalid_value") -> None:
        self.errors[name] = message
        self.codes[name] = code

    @property
    def ok(self) -> bool:
        return not self.errors


def _choice(raw, allowed, field_name, message, default=None):
    if raw is not None and not isinstance(raw, str):  # JSON lists, objects, numbers, booleans
        raise FieldError(field_name, message, "wrong_type")
    value = (raw or "").strip() or None  # an empty choice is no choice
    if value is None and default is not None:
        return default
    if value not in allowed:
        raise FieldError(field_name, message, "invalid_value" if value else "required")
    return value


def parse_facts(raw: Mapping, today: date) -> Checked:
    """Check the 新建问询 fields. `raw` is request.form or a JSON object."""
    result = Checked()
    values = {}

    def attempt(name, parse):
        try:
            values[name] = parse()
        except FieldError as error:
            result.fail(error.field, error.message, error.code)

    def text(name):
        return lambda: validation.clean_text(get(name), name, TEXT_LIMITS[name],
                                             TEXT_LABELS[name])

    get = raw.get
    attempt("amount", lambda: validation.parse_amount(get("amount")))
    attempt("channel", lambda: _choice(get("channel"), CHANNEL_LABELS, "channel",
                                       "请选择业务类型", FACT_DEFAULTS["channel"]))
    attempt("payee_account", lambda: validation.account_digits(get("payee_account")))
    attempt("payee_name", text("payee_name"))
    attempt("payee_bank", text("payee_bank"))
    attempt("payee_province", lambda: _choice(get("payee_province") or None,
                                              (*PROVINCES, None), "payee_province",
                                              "请从列表中选择省份"))
    attempt("payee_city", text("payee_city"))
    attempt("payee_type", lambda: _choice(get("payee_type"), PAYEE_TYPE_LABELS, "payee_type",
                                          "请选择个人或对公账户", FACT_DEFAULTS["payee_type"]))
    attempt("payee_known", lambda: _choice(get("payee_known"), PAYEE_KNOWN_LABELS,
                                           "payee_known", "请选择是否以前转过"))
    attempt("occupation", lambda: _choice(get("occupation"), OCCUPATION_LABELS, "occupation",
                                          "请选择职业类别", FACT_DEFAULTS["occupation"]))
    attempt("customer_name", text("customer_name"))
    attempt("customer_phone", lambda: validation.parse_phone(get("customer_phone")))
    id_number = get("customer_id_number")
    if id_number and str(id_number).strip():
        attempt("customer_id", lambda: validation.parse_resident_id(id_number, today))
    attempt("customer_age", lambda: _age_from(get("customer_age"), today))

    resident = values.pop("customer_id", None)
    if resident is not None:
        values["customer_id_number"] = resident.number
        values["customer_age"] = resident.age_on(today)
    elif values.get("customer_age") is None and "customer_age" not in result.errors \
            and "customer_id_number" not in result.errors:
        result.fail("customer_age", "请输入客户年龄、出生年份或身份证号", "required")
    if values.get("amount") is not None and values["amount"] > validation.HUGE_AMOUNT \
            and not validation.confirmed(get("amount_confirmed")):
        result.fail("amount_confirmed", huge_amount_message(values["amount"]),
                    "confirmation_required")
    if "payee_account" in values:
        warning = validation.account_warning(values["payee_account"])
        if warning:
            result.warnings["payee_account"] = warning
    if not result.errors:
        result.value = Facts(**values)
    return result


def huge_amount_message(amount: Decimal) -> str:
    line = f"{validation.HUGE_AMOUNT / 10000:,.0f}万"
    try:
        capitals = f"（{amount_in_capitals(amount)}）"
    except ValueError:  # the capitals stop just below MAX_AMOUNT (1 万亿元 itself)
        capitals = ""
    return (f"金额 {labels.amount(amount)} 元{capitals}超过 {line}元，"
            "请与客户逐位核对后勾选确认")


def _age_from(raw, today: date) -> int | None:
    """Age, or a four-digit birth year (1955) turned into an age."""
    text = str(raw if raw is not None else "").strip()
    if re.fullmatch(r"[0-9]{4}", text) and 1890 <= int(text) <= today.year:
        return today.year - int(text)
    return validation.parse_age(raw)


def masked_facts(facts: Facts, mask) -> dict:
    """What may be stored in sessions.form and shown on screen: personal data masked."""
    values = {item.name: getattr(facts, item.name) for item in fields(facts)}  # all scalars
    values["amount"] = str(facts.amount)
    for name in PERSONAL_FIELDS:
        if values.get(name):
            values[name] = mask[name](values[name])
    for name in FREE_TEXT_FIELDS:
        if values.get(name):
            values[name] = pii.mask_numbers_in_text(values[name])
    return values


def with_statement(answers: dict | None, statement: str) -> dict:
    """The answers with a follow-up statement (the customer's answers to the follow-up
    questions) added on a new line to their own words, which the rules read; the result page
    and the API's PUT .../answers add it the same way."""
    answers = dict(answers or {})
    words = dict(answers.get("answers") or {})
    earlier = words.get("purpose_text")
    combined = f"{earlier}\n{statement}" if earlier else statement
    words["purpose_text"] = combined[-WORDS_KEPT:]
    answers["answers"] = words
    return answers


def masked_answers(answers: dict | None) -> dict | None:
    """The answers with numbers masked in their free text (客户原话, destination): option
    values hold no digits, so every string answer goes through the one masker."""
    if not answers or not answers.get("answers"):
        return answers
    return {**answers, "answers": {
        name: pii.mask_numbers_in_text(value) if isinstance(value, str) else value
        for name, value in answers["answers"].items()}}


def engine_input(facts: dict, other_region: bool, answers: dict | None = None,
                 cross_session: dict | None = None) -> model.ScreeningInput:
    """Build the risk engine's input from stored (masked) facts and the answers so far."""
    answers = answers or {}
    data = {
        "transaction": {
            "amount": facts["amount"],
            "channel": facts["channel"],
            "payee_name": facts.get("payee_name"),
            "payee_bank": facts.get("payee_bank"),
            "payee_province": facts.get("payee_province"),
            "payee_city": facts.get("payee_city"),
            "payee_type": facts["payee_type"],
            "payee_known": facts["payee_known"],
            "other_region": other_region,
        },
        "customer": {"age": facts.get("customer_age"), "occupation": facts["occupation"]},
        "answers": answers.get("answers") or {},
        "three_checks": answers.get("three_checks") or {},
        "observations": answers.get("observations") or [],
        "cross_session": cross_session or {},
    }
    return model.ScreeningInput.from_dict(data)


def other_region_of(facts: dict, branch) -> bool:
    return is_other_region(branch.province, branch.city, facts.get("payee_province"),
                           facts.get("payee_city"))


REQUIRED_MESSAGE = "请询问客户并选择回答"


def parse_answers(raw, questions) -> Checked:
    """Answers to the applicable questions, as the engine's nested dict.

    `raw` is request.form (a MultiDict) or a JSON object with `answers`, `three_checks` and
    `observations`. Every question with options must be answered, except the observation
    checkboxes; free-text answers (destination) are required too.
    """
    result = Checked(value={"answers": {}, "three_checks": {}, "observations": []})
    for question in questions:
        target = question.answer_field
        if not target:
            continue
        if target == "observations":
            flags = _get_list(raw, "observations")
            unknown = [flag for flag in flags if flag not in model.OBSERVATION_FLAGS]
            if unknown:
                result.fail("observations", "观察项无效")
            result.value["observations"] = sorted(set(flags) - set(unknown))
            continue
        part, name = target.split(".", 1)
        value = _get(raw, target)
        if question.options:
            by_text = _options_by_text(question.options)
            text = _option_text(value) if value is not None else ""
            if text == "":
                result.fail(target, REQUIRED_MESSAGE, "required")
            elif text not in by_text:
                result.fail(target, "回答无效，请从选项中选择")
            else:
                result.value[part][name] = by_text[text]
        else:
            try:
                text = validation.clean_text(value, target, ANSWER_TEXT_LIMIT, "回答")
            except FieldError as error:
                result.fail(target, error.message, error.code)
                continue
            if not text:
                result.fail(target, "请询问客户并记录回答", "required")
            else:
                result.value[part][name] = text
    try:
        note = validation.clean_text(_get(raw, STATEMENT_FIELD), STATEMENT_FIELD,
                                     STATEMENT_LIMIT, "客户陈述")
    except FieldError as error:
        result.fail(error.field, error.message, error.code)
    else:
        if note:
            result.value["answers"]["purpose_text"] = note
    return result


@functools.lru_cache(maxsize=256)
def _options_by_text(options: tuple) -> dict:
    """Form text -> option value for one question's options (the same few tuples every time)."""
    return {_option_text(value): value for value, _ in options}


def _option_text(value) -> str:
    """Option values are strings or booleans; forms send text."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value).strip()


def _get(raw, dotted: str):
    """Form posts use dotted names (answers.purpose); JSON nests them ({"answers": {...}})."""
    if dotted in raw:
        return raw.get(dotted)
    part, name = dotted.split(".", 1)
    nested = raw.get(part)
    return nested.get(name) if isinstance(nested, Mapping) else None


def _get_list(raw, name: str) -> list[str]:
    if hasattr(raw, "getlist"):
        return [value for value in raw.getlist(name) if isinstance(value, str)]
    value = raw.get(name)
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
