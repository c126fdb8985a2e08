"""What the detail page says about a session: its events in Chinese, the form, the reasons.

Pure: no Flask, no SQL. Everything here reads stored JSON that may be incomplete or from an
older version, so unknown keys are shown as they are rather than failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import audit, labels
from . import state

FACT_LABELS = {
    "amount": "金额（元）", "channel": "业务类型", "payee_account": "收款账户",
    "payee_name": "收款人", "payee_bank": "收款银行", "payee_province": "收款地省份",
    "payee_city": "收款地城市", "payee_type": "收款账户类型", "payee_known": "收款人是否转过",
    "customer_id_number": "客户证件号码", "customer_age": "客户年龄", "customer_name": "客户姓名",
    "customer_phone": "客户电话", "occupation": "客户职业",
}
FACT_VALUES = {
    "channel": labels.CHANNELS,
    "payee_type": {"personal": "个人账户", "corporate": "对公账户"},
    "payee_known": {"new": "首次转给该收款人", "known": "以前转过"},
    "occupation": {"other": "其他/未询问", "retired": "离退休人员", "student": "学生",
                   "finance": "财会人员", "unemployed": "无业/待业"},
}
PAPERS = {"a5": "A5 纸", "roll80": "80 毫米卷纸", "a4": "A4 纸"}


@dataclass(frozen=True)
class Line:
    label: str
    value: str


def _yes_no(value) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    return "" if value is None else str(value)


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return "、".join(_text(item) for item in value)
    if isinstance(value, dict):
        return "；".join(f"{key}：{_text(item)}" for key, item in value.items())
    return _yes_no(value)


def question_labels() -> dict[str, tuple[str, dict]]:
    """answer field (e.g. answers.purpose) -> (short question, {value: option label})."""
    try:
        from ..risk import default_rules

        questions = [definition.question for definition in default_rules().questions]
    except Exception:  # noqa: BLE001 - the rule file is optional for showing a record
        return {}
    found = {}
    for question in questions:
        if question.answer_field and question.answer_field not in found:
            short = question.text_zh.split("：")[0]
            found[question.answer_field] = (short, {value: label for value, label in question.options})
    return found


def form_lines(form_json: str | None) -> tuple[list[Line], list[Line], list[str]]:
    """(facts, answers, observations) from sessions.form, labelled in Chinese."""
    try:
        form = json.loads(form_json) if form_json else {}
    except ValueError:
        return [Line("问询记录", "无法读取")], [], []
    if not isinstance(form, dict):
        return [], [], []
    facts = []
    for name, value in (form.get("facts") or {}).items():
        if value in (None, ""):
            continue
        shown = FACT_VALUES.get(name, {}).get(value, _text(value))
        facts.append(Line(FACT_LABELS.get(name, name), shown))
    questions = question_labels()
    answers = []
    given = form.get("answers") or {}
    for part in ("answers", "three_checks"):
        for name, value in (given.get(part) or {}).items():
            if value in (None, ""):
                continue
            question, options = questions.get(f"{part}.{name}", (name, {}))
            answers.append(Line(question, options.get(value, _text(value))))
    observations = [labels.OBSERVATIONS.get(flag, str(flag))
                    for flag in (given.get("observations") or [])]
    return facts, answers, observations


def assessment_of(assessment_json: str | None) -> dict:
    try:
        assessment = json.loads(assessment_json) if assessment_json else {}
    except ValueError:
        return {}
    return assessment if isinstance(assessment, dict) else {}


def reasons(assessment: dict) -> list[Line]:
    lines = []
    for rule in assessment.get("fired") or []:
        if isinstance(rule, dict):
            points = rule.get("points")
            lines.append(Line(str(rule.get("reason_zh") or rule.get("rule_id") or ""),
                              f"{points:+d} 分" if isinstance(points, int) else ""))
    return lines


def describe(kind: str, data: dict, names: dict[int, str], typologies: dict[str, str]) -> str:
    """One event's details in Chinese."""
    def name(user_id):
        return names.get(user_id, f"用户 {user_id}") if user_id is not None else ""

    if kind == "screening.started":
        return f"业务编号 {data.get('reference', '')}"
    if kind == "screening.step_saved":
        step = labels.STEPS.get(data.get("step"), data.get("step") or "")
        fields = data.get("fields") or []
        return f"{step}；修改 {len(fields)} 项" if fields else step
    if kind == "screening.assessed":
        found = "、".join(typologies.get(t, t) for t in data.get("typologies") or []) or "无"
        return (f"{labels.LEVELS.get(data.get('level'), data.get('level'))}，评分 {data.get('score')}；"
                f"诈骗类型：{found}；规则版本 {data.get('rules_version', '')}；"
                f"命中规则 {len(data.get('fired') or [])} 条；金额 {labels.yuan(data.get('amount_fen'))} 元")
    if kind in ("screening.supervisor_confirmed", "screening.supervisor_override"):
        reason = data.get("reason")
        return f"主管 {name(data.get('supervisor_id'))}" + (f"；理由：{reason}" if reason else "")
    if kind == "screening.outcome":
        return (f"{labels.OUTCOMES.get(data.get('outcome'), data.get('outcome'))}；"
                f"金额 {labels.yuan(data.get('amount_fen'))} 元；"
                f"用时 {labels.duration(data.get('duration_seconds'))}")
    if kind in ("print.slip", "print.alert"):
        paper = PAPERS.get(data.get("paper"), data.get("paper") or "")
        return paper + ("（补打）" if data.get("reprint") else "")
    if kind == "pii.accessed":
        fields = "、".join(labels.PII_FIELDS.get(f, f) for f in data.get("fields") or [])
        return f"用途：{data.get('purpose', '')}；字段：{fields}"
    if kind == "review.transition":
        text = f"{state.label(data.get('from'))} → {state.label(data.get('to'))}"
        return text + (f"；备注：{data['note']}" if data.get("note") else "")
    if kind == "review.assigned":
        return f"复核人：{name(data.get('assignee_id'))}"
    if kind == "review.note":
        return str(data.get("note", ""))
    return _text(data)


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    label: str
    actor: str
    details: str
    kind: str


def timeline(entries, names: dict[int, str], typologies: dict[str, str]) -> list[TimelineEntry]:
    return [
        TimelineEntry(entry.at, audit.KINDS.get(entry.kind, entry.kind),
                      names.get(entry.actor_id, "") if entry.actor_id is not None else "系统",
                      describe(entry.kind, entry.data, names, typologies), entry.kind)
        for entry in entries
    ]
