"""ScreeningInput.from_dict / to_dict: defaults, round trip, and errors that name the field."""

import json
from decimal import Decimal

import pytest

from teller_guard.risk import InputError, Policy, ScreeningInput

FULL = {
    "transaction": {
        "amount": "123456.78", "channel": "time_deposit_early", "payee_name": "李某",
        "payee_bank": "某某银行", "payee_province": "广东", "payee_city": "广州",
        "payee_type": "corporate", "payee_known": "known", "other_region": True,
    },
    "customer": {"age": 67, "occupation": "retired"},
    "answers": {
        "purpose": "investment", "purpose_text": "导师带单", "use_confirmed": False,
        "destination_text": "广州", "knows_payee": "online_only", "relationship": "online_contact",
        "verified_by_phone": False,
    },
    "three_checks": {"paying_stranger": True, "possibly_scam": "unsure", "family_consulted": False},
    "observations": ["on_phone", "hurried"],
    "cross_session": {"payee_watchlisted": True, "payee_other_customers": 3,
                      "customer_prior_screenings": 2, "customer_prior_high": 1},
}


def test_empty_dict_gives_defaults():
    screening = ScreeningInput.from_dict({})
    assert screening == ScreeningInput()
    assert screening.transaction.amount is None
    assert screening.transaction.channel == "counter_transfer"
    assert screening.transaction.payee_type == "personal"
    assert screening.transaction.other_region is False
    assert screening.customer.occupation == "other"
    assert screening.observations == frozenset()
    assert screening.cross_session.payee_other_customers == 0


def test_class_defaults_are_the_field_specs_defaults():
    # from_dict leaves a missing or null field to the dataclass default: the two must agree.
    from dataclasses import fields

    from teller_guard.risk.model import _PART_CLASSES, FIELD_SPECS

    for part, part_class in _PART_CLASSES.items():
        declared = {item.name: item.default for item in fields(part_class)}
        assert declared == {name: spec.default for name, spec in FIELD_SPECS[part].items()}


def test_null_values_take_the_defaults():
    screening = ScreeningInput.from_dict({
        "transaction": {"channel": None, "payee_type": None, "other_region": None},
        "customer": {"occupation": None}, "cross_session": {"payee_other_customers": None}})
    assert screening == ScreeningInput()


def test_full_dict_parses_and_round_trips_through_json():
    screening = ScreeningInput.from_dict(FULL)
    assert screening.transaction.amount == Decimal("123456.78")
    assert screening.observations == frozenset({"on_phone", "hurried"})
    as_json = json.dumps(screening.to_dict(), ensure_ascii=False)
    assert ScreeningInput.from_dict(json.loads(as_json)) == screening
    assert screening.to_dict()["observations"] == ["hurried", "on_phone"]


def test_instances_are_frozen_and_hashable():
    screening = ScreeningInput.from_dict(FULL)
    with pytest.raises(AttributeError):
        screening.transaction.amount = Decimal(1)  # type: ignore[misc]
    assert hash(screening) == hash(ScreeningInput.from_dict(FULL))


@pytest.mark.parametrize("raw, expected", [
    (50000, Decimal("50000")), ("50,000.50", Decimal("50000.50")), (0.1, Decimal("0.1")),
    (Decimal("7"), Decimal("7")), (" 12 ", Decimal("12")),
])
def test_amount_forms(raw, expected):
    screening = ScreeningInput.from_dict({"transaction": {"amount": raw}})
    assert screening.transaction.amount == expected


def test_text_is_stripped_and_blank_is_none():
    screening = ScreeningInput.from_dict({"answers": {"purpose_text": "  还款 ", "destination_text": "  "}})
    assert screening.answers.purpose_text == "还款"
    assert screening.answers.destination_text is None


@pytest.mark.parametrize("data, field", [
    ({"answers": {"knows_payee": "sometimes"}}, "answers.knows_payee"),
    ({"answers": {"purpose": "holiday"}}, "answers.purpose"),
    ({"answers": {"purpose": 3}}, "answers.purpose"),
    ({"answers": {"verified_by_phone": "yes"}}, "answers.verified_by_phone"),
    ({"answers": {"purpose_text": 12}}, "answers.purpose_text"),
    ({"answers": {"purpose_text": "字" * 3000}}, "answers.purpose_text"),
    ({"transaction": {"amount": "abc"}}, "transaction.amount"),
    ({"transaction": {"amount": 0}}, "transaction.amount"),
    ({"transaction": {"amount": "-5"}}, "transaction.amount"),
    ({"transaction": {"amount": "1.005"}}, "transaction.amount"),
    ({"transaction": {"amount": "NaN"}}, "transaction.amount"),
    ({"transaction": {"amount": True}}, "transaction.amount"),
    ({"transaction": {"channel": "atm"}}, "transaction.channel"),
    ({"transaction": {"payee_type": "government"}}, "transaction.payee_type"),
    ({"transaction": {"payee_known": "old"}}, "transaction.payee_known"),
    ({"transaction": {"other_region": 1}}, "transaction.other_region"),
    ({"transaction": {"colour": "red"}}, "transaction.colour"),
    ({"transaction": "big"}, "transaction"),
    ({"customer": {"age": "70"}}, "customer.age"),
    ({"customer": {"age": 200}}, "customer.age"),
    ({"customer": {"age": True}}, "customer.age"),
    ({"customer": {"occupation": "pilot"}}, "customer.occupation"),
    ({"three_checks": {"possibly_scam": "maybe"}}, "three_checks.possibly_scam"),
    ({"three_checks": {"paying_stranger": "no"}}, "three_checks.paying_stranger"),
    ({"cross_session": {"payee_other_customers": -1}}, "cross_session.payee_other_customers"),
    ({"cross_session": {"payee_watchlisted": "true"}}, "cross_session.payee_watchlisted"),
    ({"observations": ["crying"]}, "observations"),
    ({"observations": "hurried"}, "observations"),
    ({"extra": 1}, "extra"),
])
def test_errors_name_the_dotted_field(data, field):
    with pytest.raises(InputError) as caught:
        ScreeningInput.from_dict(data)
    assert caught.value.field == field
    assert caught.value.message_zh  # a Chinese message the form can show next to the field
    assert str(caught.value).startswith(field)


def test_not_a_dict():
    with pytest.raises(InputError):
        ScreeningInput.from_dict(["transaction"])


def test_non_strict_ignores_unknown_keys():
    screening = ScreeningInput.from_dict(
        {"transaction": {"amount": "10", "payee_account": "6222..."}, "note": "x"}, strict=False
    )
    assert screening.transaction.amount == Decimal("10")


def test_policy_defaults():
    assert Policy() == Policy(large_amount=Decimal("50000"), elderly_age=60)
