"""What the detail page says about a session: its events in Chinese, the form, the reasons.

Pure: no Flask, no SQL. Everything here reads stored JSON that may be incomplete or from an
older version, so unknown keys are shown as they are rather than failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import audit, labels
from ..api_scope import ALL_TELLERS, READ_SCOPES
from . import state

# watchlist.imported `kind` (watchlist/csv_import.py)
WATCHLIST_KINDS = {"accounts": "账号名单", "hashes": "高风险收款账户导出文件（哈希）",
                   "manual": "手工添加",
                   "radar": "涉诈收款账户雷达"}

FACT_LABELS = labels.FACT_NAMES
FACT_VALUES = labels.FACT_VALUES
PAPERS = labels.PAPERS


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
            short = labels.plain(question.text_zh).split("：")[0]
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
        shown = (labels.amount(value) if name == "amount"
                 else FACT_VALUES.get(name, {}).get(value, _text(value)))
        facts.append(Line(FACT_LABELS.get(name, name), shown))
    questions = question_labels()
    answers = []
    given = form.get("answers") or {}
    for part in ("answers", "three_checks"):
        for name, value in (given.get(part) or {}).items():
            if value in (None, ""):
                continue
            field = f"{part}.{name}"
            question, options = questions.get(field, (labels.OTHER_ANSWER, {}))
            answers.append(Line(labels.ANSWER_NAMES.get(field, question),
                                options.get(value, _text(value))))
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
            lines.append(Line(str(rule.get("reason_zh") or rule.get("rule_id") or ""),
                              labels.points(rule.get("points"))))
    return lines


def _user(data: dict) -> str:
    return str(data.get("username") or "（不存在的用户名）")


def _token(data: dict) -> str:
    text = f"「{data.get('name', '')}」（#{data.get('token_id', '?')}）"
    scope = data.get("scope")
    if not isinstance(scope, dict):
        return text
    tellers = scope.get("tellers")
    return (f"{text}；可代为提交："
            f"{ALL_TELLERS if tellers is None else '、'.join(map(str, tellers))}；"
            f"可查看：{READ_SCOPES.get(scope.get('read'), scope.get('read'))}；"
            f"主管授权：{'可以' if scope.get('may_supervise') else '不可以'}")


def _setting_value(name: str, value) -> str:
    if name == "large_amount":
        return labels.amount(value)
    if name == "slip_paper":
        return PAPERS.get(value, _text(value))
    return _text(value)


def _settings(data: dict) -> str:
    return "；".join(
        f"{labels.SETTING_NAMES.get(name, name)}："
        f"{_setting_value(name, (change or {}).get('before'))} → "
        f"{_setting_value(name, (change or {}).get('after'))}"
        for name, change in data.items() if isinstance(change, dict))


def _settings_values(values: dict) -> str:
    return "；".join(f"{labels.SETTING_NAMES.get(name, name)}：{_setting_value(name, value)}"
                    for name, value in values.items())


def _delivery(data: dict) -> str:
    attempts, status = data.get("attempts"), data.get("http_status")
    details = "，".join(([f"第 {attempts} 次尝试"] if attempts else [])
                       + ([f"HTTP {status}"] if status else []))
    return "已送达" + (f"（{details}）" if details else "")


def describe(kind: str, data: dict, names: dict[int, str], typologies: dict[str, str]) -> str:
    """One event's details in Chinese: every kind in labels.EVENT_KINDS is worded here, so no
    ledger view shows a stored code or key (tests/test_glossary.py)."""
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
        return (f"{labels.LEVELS.get(data.get('level'), data.get('level'))}，"
                f"{labels.SCORE} {data.get('score')}；"
                f"诈骗类型：{found}；规则版本 {data.get('rules_version', '')}；"
                f"命中规则 {len(data.get('fired') or [])} 条；金额 {labels.yuan(data.get('amount_fen'))} 元")
    if kind in ("screening.supervisor_confirmed", "screening.supervisor_override"):
        reason = data.get("reason")
        via = f"；经接口令牌「{data['api_token']}」提交" if data.get("api_token") else ""
        return (f"主管 {name(data.get('supervisor_id'))}" + (f"；理由：{reason}" if reason else "")
                + via)
    if kind == "screening.outcome":
        police = data.get("police") if isinstance(data.get("police"), dict) else None
        return (f"{labels.OUTCOMES.get(data.get('outcome'), data.get('outcome'))}；"
                f"金额 {labels.yuan(data.get('amount_fen'))} 元；"
                f"用时 {labels.duration(data.get('duration_seconds'))}"
                + (f"；{labels.police_response(police)}" if police else ""))
    if kind == "screening.discarded":
        reason = labels.DISCARD_REASONS.get(data.get("reason"), _text(data.get("reason")))
        return f"原因：{reason}" + (f"；说明：{data['note']}" if data.get("note") else "")
    if kind == "screening.escalated":
        why = labels.ESCALATION_REASONS.get(data.get("why"), _text(data.get("why")))
        return why + (f"；理由：{data['reason']}" if data.get("reason") else "")
    if kind in ("print.slip", "print.alert"):
        paper = PAPERS.get(data.get("paper"), data.get("paper") or "")
        return paper + ("（补打）" if data.get("reprint") else "")
    if kind == "alert.queued":
        return f"警情外发记录 #{data.get('outbox_id', '?')}，等待发送"
    if kind in ("alert.sent", "anchor.sent"):
        return _delivery(data)
    if kind == "pii.accessed":
        fields = "、".join(labels.PII_FIELDS.get(f, f) for f in data.get("fields") or [])
        purpose = data.get("purpose", "")
        return f"用途：{labels.PII_PURPOSES.get(purpose, purpose)}；字段：{fields}"
    if kind == "review.transition":
        text = f"{state.label(data.get('from'))} → {state.label(data.get('to'))}"
        return text + (f"；备注：{data['note']}" if data.get("note") else "")
    if kind == "review.assigned":
        return f"复核人：{name(data.get('assignee_id'))}"
    if kind == "review.note":
        return str(data.get("note", ""))
    if kind in ("login.succeeded", "login.failed", "login.throttled", "login.locked"):
        purpose = labels.LOGIN_PURPOSES.get(data.get("purpose"), "登录")
        address = f"；来源地址 {data['address']}" if data.get("address") else ""
        return f"用户名 {_user(data)}；{purpose}{address}"
    if kind == "logout" or kind in ("user.disabled", "user.enabled", "user.password_reset",
                                    "user.password_changed", "user.details_changed"):
        return f"用户名 {_user(data)}"
    if kind in ("user.created", "user.role_changed"):
        role = labels.ROLES.get(data.get("role"), data.get("role") or "")
        return f"用户名 {_user(data)}；角色：{role}"
    if kind == "user.branch_changed":
        return (f"用户名 {_user(data)}；网点 #{data.get('previous_branch', '?')} → "
                f"网点 #{data.get('branch', '?')}")
    if kind == "settings.changed":
        where = f"网点 #{data['branch']}；" if isinstance(data.get("branch"), int) else ""
        return where + _settings(data)
    if kind == "bank_settings.changed":
        return "；".join(f"{labels.BANK_SETTING_NAMES.get(name, name)}："
                        f"{_text(change.get('before'))} → {_text(change.get('after'))}"
                        for name, change in data.items() if isinstance(change, dict))
    if kind == "branch.created":
        return f"网点代码 {data.get('code', '')}；{_settings_values(data.get('settings') or {})}"
    if kind in ("api_token.created", "api_token.revoked"):
        return _token(data)
    if kind == "export.queue":
        return f"复核队列 CSV，{data.get('rows', '?')} 条"
    if kind == "export.statistics":
        return f"统计 CSV，{data.get('date_from', '')} 至 {data.get('date_to', '')}"
    if kind == "watchlist.exported":
        return f"高风险收款账户 CSV，{data.get('rows', '?')} 条"
    if kind == "watchlist.imported":
        renewed = f"重新列入 {data['renewed']} 个，" if data.get("renewed") else ""
        return (f"{WATCHLIST_KINDS.get(data.get('kind'), '名单文件')}：新增 {data.get('added', 0)} 个，"
                f"{renewed}已在名单 {data.get('already_listed', 0)} 个，"
                f"重复 {data.get('duplicates', 0)} 行，有误跳过 {data.get('skipped_errors', 0)} 行")
    if kind == "watchlist.removed":
        reason = f"；原因：{data['reason']}" if data.get("reason") else ""
        return f"{data.get('account_masked', '')}{reason}"
    if kind == "watchlist.added":
        category = labels.WATCHLIST_CATEGORIES.get(data.get("category"), "")
        expiry = f"；到期日 {data['expires_on']}" if data.get("expires_on") else ""
        renewed = "（重新列入）" if data.get("renewed") else ""
        return f"{data.get('account_masked', '')}{renewed}；{category or '来源未分类'}{expiry}"
    if kind == "watchlist.proposed":
        where = f"网点 #{data['branch_id']}；" if isinstance(data.get("branch_id"), int) else ""
        return f"{where}{data.get('account_masked', '')}；理由：{data.get('note', '')}"
    if kind == "watchlist.approved":
        expiry = f"到期日 {data['expires_on']}" if data.get("expires_on") else "长期有效"
        return f"{data.get('account_masked', '')}；{labels.WATCHLIST_CATEGORIES['own']}，{expiry}"
    if kind == "watchlist.rejected":
        return f"{data.get('account_masked', '')}；原因：{data.get('reason', '')}"
    if kind == "retention.redacted":
        before = labels.when(data.get("before", ""), seconds=False)
        return (f"{before} 之前开始的问询：{data.get('sessions', 0)} 笔问询的 "
                f"{data.get('fields', 0)} 项完整个人信息已清除，"
                f"已发送警情的外发内容 {data.get('alert_payloads', 0)} 条已清除")
    if kind == "chain.anchored":
        return f"第 {data.get('seq', '?')} 次锚定（{labels.when(str(data.get('anchored_at', '')))}）"
    return "；".join(_text(value) for value in data.values())  # an unknown kind: values only


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
