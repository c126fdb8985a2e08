"""What the printouts say, built from a stored session (pure: no Flask, no SQL).

The web layer reads the session row (``screening.service.get``: ``form`` and ``assessment``
already parsed), the vault values, the branch settings and the people's names, and passes
them here. The slip gets masked values only; the alert and its JSON payload get the values
from the vault, in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .. import clock, labels
from ..printing import AlertContent, SlipContent

PAYLOAD_VERSION = 1
ALERT_KIND = "police_alert"

# A transfer with this action (or at 极高风险) is stopped: its slip says what to do next
# instead of asking the customer to confirm the transfer is their own wish.
STOP_ACTIONS = ("stop_and_report",)

# The vault fields the alert prints, in the order the pii.accessed event lists them.
ALERT_PII_FIELDS = ("customer_name", "customer_id_number", "customer_phone", "payee_account",
                    "payee_name")


@dataclass(frozen=True)
class Person:
    """Someone named on a printout: display name and staff number."""

    name: str = ""
    staff_no: str = ""

    @property
    def label(self) -> str:
        """``王柜员（T001）``; either part alone when the other is missing."""
        if self.name and self.staff_no:
            return f"{self.name}（{self.staff_no}）"
        return self.name or self.staff_no

    @property
    def short(self) -> str:
        """The staff number (what the slip prints), else the name."""
        return self.staff_no or self.name


def amount_of(row: Mapping) -> Decimal | None:
    fen = row.get("amount_fen")
    return None if fen is None else (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def parse_time(value: str | None) -> datetime | None:
    """A stored time in the bank's zone, as the slip and the alert print it."""
    try:
        return clock.local(value)
    except ValueError:
        return None


def _assessment(row: Mapping) -> Mapping:
    return row.get("assessment") or {}


def _facts(row: Mapping) -> Mapping:
    return (row.get("form") or {}).get("facts") or {}


def _answers(row: Mapping) -> Mapping:
    return (row.get("form") or {}).get("answers") or {}


def level_label(row: Mapping) -> str:
    return str(_assessment(row).get("level_label") or "")


def _typologies(row: Mapping) -> list[Mapping]:
    return [t for t in _assessment(row).get("typologies") or () if isinstance(t, Mapping)]


def slip_warnings(row: Mapping) -> tuple[tuple[str, str], ...]:
    """(name_zh, slip_text_zh) of every stored scam type, the primary first (the first stored;
    assessments stored before rules v2 list up to six, strongest first). The slip prints the
    primary's text and only the names of the others, under 也可能是."""
    return tuple(
        (str(typology.get("name_zh") or ""), str(typology.get("slip_text_zh") or ""))
        for typology in _typologies(row)
    )


def primary_typology_name(row: Mapping) -> str:
    """The scam type the police alert names: the primary only."""
    return next((name for name, _ in slip_warnings(row)[:1] if name), "")


def stopped(row: Mapping) -> bool:
    """极高风险, or an assessment whose action is to stop and call the police, unless a
    supervisor released the transfer in writing (then it may go ahead, and the customer
    confirms it is their own wish)."""
    if row.get("supervisor_decision") == "override":
        return False
    action = _assessment(row).get("action")
    code = (action.get("code") if isinstance(action, Mapping) else action) or row.get("action")
    return row.get("level") == "critical" or code in STOP_ACTIONS


def slip_content(row: Mapping, branch, teller: Person, printed_at: datetime) -> SlipContent:
    """The customer's warning slip: masked data only (the slip goes home with the customer)."""
    facts = _facts(row)
    other_region = row.get("other_region")
    return SlipContent(
        bank_name=branch.bank_name,
        branch_name=branch.branch_name,
        printed_at=printed_at,
        reference=row["reference"],
        amount=amount_of(row),
        payee_masked=row.get("payee_masked") or "",
        payee_name_masked=facts.get("payee_name") or "",  # stored masked in sessions.form
        other_region=None if other_region is None else bool(other_region),
        level_label=level_label(row),
        warnings=slip_warnings(row),
        teller_id=teller.short,
        customer_name_masked=facts.get("customer_name") or "",
        stopped=stopped(row),
    )


# --- police alert ---------------------------------------------------------------------------


def _option_label(question, value) -> str:
    for option_value, label in question.options:
        if option_value == value or str(option_value).lower() == str(value).lower():
            return label
    return str(value)


def answer_rows(row: Mapping, rules) -> tuple[tuple[str, str], ...]:
    """(question as said to the customer, answer label) for each recorded 五必问/三是否 answer,
    in checklist order. Answers the rule set no longer knows are kept, named by field."""
    answers = _answers(row)
    recorded = {
        f"{part}.{name}": value
        for part in ("answers", "three_checks")
        for name, value in (answers.get(part) or {}).items()
        if name != "purpose_text" and value not in (None, "")
    }
    rows = []
    for definition in getattr(rules, "questions", ()):
        question = definition.question
        target = question.answer_field
        if not target or target == "observations" or target not in recorded:
            continue
        value = recorded.pop(target)
        answer = _option_label(question, value) if question.options else str(value)
        rows.append((question.say_zh or labels.plain(question.text_zh), answer))
    rows.extend((target, str(value)) for target, value in recorded.items())
    return tuple(rows)


def observation_labels(row: Mapping, rules) -> tuple[str, ...]:
    """What the teller ticked, in the glossary's words (the form and the review page's)."""
    flags = _answers(row).get("observations") or ()
    from_rules: dict = {}
    for definition in getattr(rules, "questions", ()):
        if definition.question.answer_field == "observations":
            from_rules = dict(definition.question.options)
    return tuple(labels.OBSERVATIONS.get(flag) or from_rules.get(flag, str(flag))
                 for flag in flags)


def reasons(row: Mapping) -> tuple[str, ...]:
    """Why the engine rated the risk: risk rules by weight, then mitigations marked as such."""
    fired = [rule for rule in _assessment(row).get("fired") or () if isinstance(rule, Mapping)]
    risk = sorted((rule for rule in fired if (rule.get("points") or 0) >= 0),
                  key=lambda rule: -(rule.get("points") or 0))
    mitigations = [rule for rule in fired if (rule.get("points") or 0) < 0]
    return tuple(str(rule.get("reason_zh") or rule.get("rule_id") or "") for rule in risk) + \
        tuple(f"（减分项）{rule.get('reason_zh') or rule.get('rule_id') or ''}"
              for rule in mitigations)


def watchlist_line(entry) -> str:
    """The watchlist entry that stopped the transfer: where it came from, when, and its note."""
    if entry is None:
        return ""
    parts = [f"来源：{entry.origin or '未注明'}"]
    if entry.listed_on:
        parts.append(f"列入日期：{entry.listed_on}")
    if entry.note:
        parts.append(f"备注：{entry.note}")
    return "涉诈名单记录（" + "，".join(parts) + "）"


def actions_taken(row: Mapping, supervisor: Person, outcome_labels: Mapping,
                  police: Mapping | None = None) -> tuple[str, ...]:
    actions = []
    action = _assessment(row).get("action") or {}
    if action.get("label_zh"):
        actions.append(f"系统处置建议：{action['label_zh']}")
    decision = row.get("supervisor_decision")
    if decision == "confirmed":
        actions.append(f"主管{supervisor.label}已到场确认")
    elif decision == "override":
        actions.append(f"主管{supervisor.label}书面放行，理由：{row.get('supervisor_reason') or '—'}")
    if row.get("slips_printed"):
        actions.append("已向客户打印风险提示单并讲解")
    outcome = row.get("outcome")
    if outcome:
        actions.append(f"办理结果：{outcome_labels.get(outcome, outcome)}")
        if outcome == "police_called" and police:
            actions.append(f"警方接警：{labels.police_response(police)}")
    else:
        actions.append("办理结果：尚未记录（正在处置）")
    return tuple(actions)


def alert_content(row: Mapping, vault: Mapping, branch, rules, *, teller: Person,
                  supervisor: Person, printed_by: Person, printed_at: datetime,
                  channel_labels: Mapping, outcome_labels: Mapping,
                  police: Mapping | None = None, watchlist_entry=None) -> AlertContent:
    """The police alert: personal data in full from the vault, as the teller recorded it.
    `police`: the police response recorded with 已报警; `watchlist_entry`: the watchlist entry
    (watchlist.store.Entry) that stopped the transfer."""
    facts = _facts(row)
    assessment = _assessment(row)
    region = "".join(part for part in (facts.get("payee_province"), facts.get("payee_city"))
                     if part)
    return AlertContent(
        bank_name=branch.bank_name,
        branch_name=branch.branch_name,
        occurred_at=parse_time(row.get("started_at")),
        reference=row["reference"],
        teller_id=teller.label,
        supervisor_id=supervisor.label,
        customer_name=vault.get("customer_name") or "",
        customer_id_number=vault.get("customer_id_number") or "",
        customer_phone=vault.get("customer_phone") or "",
        payee_account=vault.get("payee_account") or "",
        payee_name=vault.get("payee_name") or "",
        payee_bank=facts.get("payee_bank") or "",
        payee_region=region,
        amount=amount_of(row),
        channel_label=channel_labels.get(row.get("channel"), row.get("channel") or ""),
        level_label=level_label(row),
        score=assessment.get("score", row.get("score")),
        typologies=tuple(name for name in (primary_typology_name(row),) if name),
        answers=answer_rows(row, rules),
        observations=observation_labels(row, rules),
        reasons=reasons(row) + tuple(line for line in (watchlist_line(watchlist_entry),) if line),
        customer_statement=str(_answers(row).get("answers", {}).get("purpose_text") or ""),
        actions_taken=actions_taken(row, supervisor, outcome_labels, police),
        printed_by=printed_by.label,
        printed_at=printed_at,
    )


def pii_fields_read(vault: Mapping) -> list[str]:
    """The vault fields an alert actually shows (for the pii.accessed event)."""
    return [name for name in ALERT_PII_FIELDS if vault.get(name)]


def alert_payload(alert: AlertContent, row: Mapping, idempotency_key: str,
                  queued_at: datetime) -> dict:
    """The JSON the outbox POSTs: the alert's facts, plus codes a machine can match on."""
    facts = _facts(row)
    def when(moment):
        return moment.isoformat(timespec="seconds") if moment else None

    return {
        "kind": ALERT_KIND,
        "version": PAYLOAD_VERSION,
        "idempotency_key": idempotency_key,
        "reference": alert.reference,
        "bank": alert.bank_name,
        "branch": alert.branch_name,
        "occurred_at": when(alert.occurred_at),
        "queued_at": when(queued_at),
        "teller": alert.teller_id,
        "supervisor": alert.supervisor_id or None,
        "customer": {
            "name": alert.customer_name or None,
            "id_number": alert.customer_id_number or None,
            "phone": alert.customer_phone or None,
        },
        "payee": {
            "account": alert.payee_account or None,
            "name": alert.payee_name or None,
            "bank": alert.payee_bank or None,
            "province": facts.get("payee_province") or None,
            "city": facts.get("payee_city") or None,
        },
        "amount": None if alert.amount is None else f"{alert.amount:.2f}",
        "currency": "CNY",
        "channel": row.get("channel"),
        "channel_label": alert.channel_label,
        "level": row.get("level"),
        "level_label": alert.level_label,
        "score": alert.score,
        # the primary first; the others are what it may also be (也可能是)
        "typologies": [
            {"id": typology.get("id"), "name": typology.get("name_zh")}
            for typology in _typologies(row)
        ],
        "answers": [{"question": question, "answer": answer} for question, answer in alert.answers],
        "observations": list(alert.observations),
        "reasons": list(alert.reasons),
        "customer_statement": alert.customer_statement or None,
        "actions_taken": list(alert.actions_taken),
        "printed_by": alert.printed_by,
    }
