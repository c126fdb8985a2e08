"""The glossary: one Chinese name for each stored code and each thing the app talks about,
shared by every page, export, printout and ledger view (pure: no Flask).

Issue 15, item 13: the same thing had several names (主管书面放行 / 主管强制放行, two wordings
of each observation, 同类已计分 / +0 分, 500,000.00 / 500000.00, raw codes such as
`police_alert` in the ledger views, police phrasing such as 年龄较大群众). Names live here;
other modules refer to these tables rather than keep their own, and tests/test_glossary.py
fails when a variant in VARIANTS reappears or two tables name one code differently.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from . import clock

ROLES = {"teller": "柜员", "supervisor": "主管", "security": "安保", "admin": "管理员",
         "ho_security": "总行反诈", "ho_admin": "总行管理员"}
# Head-office roles belong to no branch and act on every branch (issue 16).
HEAD_OFFICE_ROLES = ("ho_security", "ho_admin")
# Why a screening went to head office (sessions.escalated_why; the first reason is kept).
ESCALATION_REASONS = {"manual": "网点上报", "critical": "极高风险", "police_alert": "已打印警情通报单"}
# The branch role whose pages a head-office role opens (on every branch's data).
BRANCH_ROLE_OF = {"ho_security": "security", "ho_admin": "admin"}
LEVELS = {"low": "低风险", "medium": "中风险", "high": "高风险", "critical": "极高风险"}
OUTCOMES = {
    "proceeded": "已办理",
    "cancelled": "已取消",
    "delayed": "改为延时到账",
    "police_called": "已报警",
    "postponed": "暂缓",
}
PROTECTED_OUTCOMES = ("cancelled", "police_called")
SCORE = "风险评分"  # the engine's 0-100 score
ACTIONS = {
    "proceed": "正常办理（温馨提示）",
    "print_slip": "打印风险提示单，客户阅读签字后办理",
    "supervisor_hold": "暂缓办理，请主管核实",
    "stop_and_report": "停止办理，立即报警",
}
SESSION_STATUS = {"draft": "问询中", "assessed": "已评估", "finished": "已完成",
                  "discarded": "已作废"}
STEPS = {"facts": "交易信息", "questions": "问询", "result": "结果", "done": "完成",
         "discarded": "已作废", "customer": "补录客户信息"}  # customer: in screening.step_saved only
# Why a teller discards an unfinished screening (screening.discarded); 其他 needs words.
DISCARD_REASONS = {
    "customer_left": "客户放弃办理或已离开",
    "duplicate": "重复录入",
    "entry_error": "录入错误，已重新问询",
    "test": "操作练习或测试",
    "other": "其他原因",
}
# 极高风险 is released only with the supervisor's written reason: 书面放行 says what it is.
SUPERVISOR_DECISIONS = {"confirmed": "主管确认", "override": "主管书面放行"}
CHANNELS = {
    "counter_transfer": "柜面转账",
    "remittance": "汇款",
    "cash_deposit_transfer": "存现后转账",
    "time_deposit_early": "定期提前支取后转账",
    "other": "其他",
}

# The rule set (teller_guard/risk/rules.toml) is the source of typology names; these are used
# when it cannot be loaded, so the review pages never depend on the engine being importable.
FALLBACK_TYPOLOGIES = {
    "gov_impersonation": "冒充公检法",
    "fake_loan": "虚假网络贷款",
    "task_rebate": "刷单返利",
    "fake_investment": "虚假投资理财",
    "romance_investment": "杀猪盘/网络交友诱导投资",
    "boss_impersonation": "冒充领导熟人",
    "fake_customer_service": "冒充电商物流客服",
    "fake_military_purchase": "冒充军警采购",
    "fake_prize_refund": "虚假中奖退税补贴",
    "fake_emergency": "虚构绑架出事",
    "game_trade": "游戏装备网购交易",
    "account_renting": "出租出借账户",
    "phone_bill_arrears": "电话欠费诈骗",
    "phishing_link": "钓鱼短信网站",
    "sextortion": "裸聊敲诈",
    "credit_repair": "套路贷/注销校园贷/征信修复",
    "elder_fraud": "养老诈骗（保健品、养老项目）",
    "escort_scam": "网络招嫖诈骗",
}

PAYEE_TYPES = {"personal": "个人账户", "corporate": "对公账户"}
PAYEE_KNOWN = {"new": "首次转给该收款人", "known": "以前转过（老收款人）"}
OCCUPATIONS = {
    "other": "其他/未询问",
    "retired": "离退休人员",
    "student": "学生",
    "finance": "财会人员",
    "unemployed": "无业/待业",
}

# What the teller may tick under 观察客户: the same words on the form, the review page and the
# police alert, close to how the rules' reasons say it (客户办理时一直在通话…).
OBSERVATIONS = {
    "hurried": "形色匆匆、神色紧张",
    "large_cash": "携带大量现金",
    "on_phone": "办理时一直在通话",
    "companion_answers": "同行人代答",
    "reads_from_message": "照着短信、聊天记录念收款信息",
    "refuses_explain": "不愿说明用途",
    "told_keep_secret": "说对方要求保密",
    "remote_app": "开着屏幕共享、会议或远程软件",
    "insists_after_warning": "劝阻后仍坚持转账",
    "family_present": "家人陪同在柜台，知道这笔转账（有利情形）",
    "documents_shown": "已查看客户出示的法院文书、合同或发票（有利情形）",
}

# The facts of a screening, by their field names (form labels, review page, errors).
FACT_NAMES = {
    "amount": "转账金额（元）",
    "channel": "业务类型",
    "payee_account": "收款账号",
    "payee_name": "收款人名称",
    "payee_bank": "收款银行",
    "payee_province": "收款方所在省份",
    "payee_city": "收款方所在城市",
    "payee_type": "收款账户类型",
    "payee_known": "以前是否转给过该收款人",
    "customer_id_number": "客户身份证号",
    "customer_age": "客户年龄",
    "occupation": "职业类别",
    "customer_name": "客户姓名",
    "customer_phone": "客户电话",
}
FACT_VALUES = {"channel": CHANNELS, "payee_type": PAYEE_TYPES, "payee_known": PAYEE_KNOWN,
               "occupation": OCCUPATIONS}

# The answers of a screening, by their stored field (the review record): one short name each,
# where the checklist lines are long and two of them begin alike.
ANSWER_NAMES = {
    "answers.purpose": "转账目的",
    "answers.purpose_text": "客户原话",
    "answers.use_confirmed": "大额：客户是否再次确认用途",
    "answers.destination_text": "异地：资金流向",
    "answers.knows_payee": "是否认识收款人",
    "answers.relationship": "收款人与客户的关系",
    "answers.verified_by_phone": "是否已用原号码电话或视频核实收款人",
    "three_checks.paying_stranger": "是否给陌生人汇款",
    "three_checks.possibly_scam": "是否可能遭遇上当受骗",
    "three_checks.family_consulted": "年龄较大的客户是否和家人商量",
}
OTHER_ANSWER = "其他回答"  # an answer field this version does not know (an older record)

# Full personal data fields a vault may hold (anything else is shown by its stored name).
PII_FIELDS = {name: FACT_NAMES[name] for name in (
    "customer_name", "customer_id_number", "customer_phone", "payee_name", "payee_account")}
# Why full personal data was read (pii.accessed `purpose`): older events hold Chinese text,
# shown as it is; codes are named here.
PII_PURPOSES = {"police_alert": "打印警情通报单"}

# The police response 已报警 records (screening.outcome `police`), in the order shown.
POLICE_FIELDS = {"receipt_no": "接警回执号", "officer": "出警民警", "reported_at": "接警时间"}
PAPERS = {"a5": "A5 纸", "roll80": "80 毫米热敏卷纸", "a4": "A4 纸"}
REVIEW_STATUSES = {
    "pending": "待复核",
    "in_review": "复核中",
    "confirmed_fraud": "确认诈骗",
    "dissuaded": "成功劝阻",
    "false_alarm": "误报",
    "police_handled": "已报警",
}
OUTBOX_STATUSES = {"pending": "待发送", "sent": "已发送", "failed": "发送失败"}
LOGIN_PURPOSES = {"login": "登录", "supervisor": "主管验证", "password": "修改密码时核对原密码"}
SETTING_NAMES = {
    "bank_name": "银行名称",
    "branch_name": "网点名称",
    "province": "网点所在省份",
    "city": "网点所在城市",
    "large_amount": "大额标准（元）",
    "elderly_age": "老年客户年龄（岁）",
    "slip_paper": "提示单默认纸张",
}

# 全行设置 (bank_settings.BankSettings): the page's labels and the timeline's.
BANK_SETTING_NAMES = {
    "payee_branches_min": "跨网点收款：网点数（含本网点）",
    "payee_branches_days": "跨网点收款：统计天数",
    "customer_other_branch_days": "客户在其他网点问询：统计天数",
    "payee_repeat_min_customers": "同一收款账户：其他客户数",
    "payee_repeat_days": "同一收款账户：统计天数",
    "customer_repeat_min": "客户多次问询：次数",
    "customer_repeat_days": "客户多次问询：统计天数",
}

# Ledger event kinds, as the review timeline and the access log name them (audit.KINDS).
EVENT_KINDS = {
    "login.succeeded": "登录成功",
    "login.failed": "登录失败",
    "login.locked": "账户锁定",  # no longer written (login_throttle.py); older ledgers hold it
    "login.throttled": "登录失败过多，已限速",
    "logout": "退出登录",
    "user.created": "新增用户",
    "user.disabled": "停用用户",
    "user.enabled": "启用用户",
    "user.password_reset": "重置密码",
    "user.role_changed": "修改角色",
    "user.details_changed": "修改用户姓名或工号",
    "user.password_changed": "本人修改密码",
    "settings.changed": "修改网点设置",
    "branch.created": "新增网点",
    "bank_settings.changed": "修改全行设置",
    "user.branch_changed": "调整用户所属网点",
    "api_token.created": "创建接口令牌",
    "api_token.revoked": "吊销接口令牌",
    "screening.started": "开始问询",
    "screening.step_saved": "保存问询步骤",
    "screening.assessed": "风险评估",
    "screening.supervisor_confirmed": SUPERVISOR_DECISIONS["confirmed"],
    "screening.supervisor_override": SUPERVISOR_DECISIONS["override"],
    "screening.outcome": "记录结果",
    "screening.discarded": "作废未完成的问询",
    "screening.escalated": "上报总行",
    "print.slip": "打印风险提示单",
    "print.alert": "打印警情通报单",
    "alert.queued": "警情待发送",
    "alert.sent": "警情已发送",
    "pii.accessed": "查看完整个人信息",
    "review.transition": "复核状态变更",
    "review.assigned": "分配复核人",
    "review.note": "复核备注",
    "export.queue": "导出复核队列",
    "export.statistics": "导出统计",
    "retention.redacted": "过期个人信息脱敏",
    "watchlist.imported": "导入涉诈名单",
    "watchlist.removed": "移出涉诈名单",
    "watchlist.exported": "导出高风险收款账户",
    "watchlist.added": "手工加入涉诈名单",
    "watchlist.proposed": "提请列入涉诈名单",
    "watchlist.approved": "批准列入涉诈名单",
    "watchlist.rejected": "驳回列入涉诈名单的提请",
    "chain.anchored": "账本锚定",
    "anchor.sent": "账本锚点已发送",
}

# Where a watchlist entry comes from (watchlist.category); entries listed before 0010 have none.
WATCHLIST_CATEGORIES = {"police": "公安/反诈中心", "peer": "同业", "own": "本行发现"}
# What the list page filters on; `proposed` entries wait for head office and never match.
WATCHLIST_STATES = {"active": "有效", "expired": "已过期", "proposed": "待审批"}

# Police checklist wording (the rule file quotes the 五必问/三是否 as issued) turned into the
# words a bank uses for its customers, wherever a question is shown.
PLAIN_WORDS = {"年龄较大群众": "年龄较大的客户", "可能受骗人员": "可能受骗的客户", "群众": "客户"}

# Names that must not come back: preferred name -> the variants it replaced. Checked against
# the templates, the code and the pages by tests/test_glossary.py.
VARIANTS = {
    SUPERVISOR_DECISIONS["override"]: ("主管强制放行", "强制放行"),
    "同类已计分": ("+0 分", "+0分"),
    SCORE: ("风险分",),
    "客户": ("群众",),
    OBSERVATIONS["hurried"]: ("神色匆忙、焦虑",),
    OBSERVATIONS["on_phone"]: ("办理时一直在打电话",),
    OBSERVATIONS["companion_answers"]: ("同行人代为回答",),
    OBSERVATIONS["reads_from_message"]: ("照着短信、聊天念收款信息",
                                         "照着短信/聊天记录填写收款信息"),
    OBSERVATIONS["refuses_explain"]: ("拒绝说明用途",),
    OBSERVATIONS["told_keep_secret"]: ("说对方让保密",),
    OBSERVATIONS["remote_app"]: ("正在使用共享屏幕/会议软件",),
    OBSERVATIONS["documents_shown"]: ("已查看法院文书、合同或发票",),
    PAPERS["roll80"]: ("80 毫米卷纸",),
    FACT_NAMES["customer_id_number"]: ("客户证件号码",),
    FACT_NAMES["payee_name"]: ("收款人姓名",),
}


def typology_labels() -> dict[str, str]:
    try:
        from .risk import default_rules

        names = {typology.id: typology.name_zh for typology in default_rules().typologies}
    except Exception:  # noqa: BLE001 - any problem with the rule file: use the built-in names
        names = {}
    return {**FALLBACK_TYPOLOGIES, **names}


def amount(value) -> str:
    """Yuan, as every screen and printout shows an amount: Decimal("500000") -> '500,000.00'
    (banks round half up); empty for none; text that is no number is shown as it is."""
    if value is None or value == "":
        return ""
    try:
        exact = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{'-' if exact < 0 else ''}{abs(exact):,.2f}"


def yuan(amount_fen: int | None) -> str:
    """12345678 (fen) -> '123,456.78'; empty for no amount."""
    if amount_fen is None:
        return ""
    return amount(Decimal(int(amount_fen)) / 100)


def yuan_plain(amount_fen: int | None) -> str:
    """12345678 (fen) -> '123456.78': the CSV exports' amount columns, a plain number that
    Excel and WPS read as a number whatever the locale's digit grouping."""
    if amount_fen is None:
        return ""
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(int(amount_fen)), 100)
    return f"{sign}{whole}.{fen:02d}"


def plain(text: str | None) -> str:
    """A question's checklist text in the bank's words for its customers (PLAIN_WORDS)."""
    text = text or ""
    for police, ours in PLAIN_WORDS.items():
        text = text.replace(police, ours)
    return text


_OBSERVATION_FIELD = "observations"


def shown_question(question: dict) -> dict:
    """A question (Question.to_dict()) as pages and the API show it: the checklist text in
    plain words, observation options with the glossary's names."""
    shown = {**question, "text_zh": plain(question.get("text_zh"))}
    if question.get("answer_field") == _OBSERVATION_FIELD:
        shown["options"] = [[value, OBSERVATIONS.get(value, label)]
                            for value, label in question.get("options") or []]
    return shown


def is_chinese_label(text: str) -> bool:
    """A label a person reads: has Chinese characters and no code-like word (a_b, a.b)."""
    return bool(re.search(r"[\u4e00-\u9fff]", text)) and not re.search(
        r"[a-z]+[._][a-z_]+", text)


# A rule that fired but adds nothing because a stronger one of its kind already counted.
SAME_KIND_COUNTED = "同类已计分"


def points(value) -> str:
    """A fired rule's points as every page and printout words them: '+30 分', '-10 分', or
    SAME_KIND_COUNTED for 0; empty when there is no number."""
    if isinstance(value, bool) or not isinstance(value, int):
        return ""
    return f"{value:+d} 分" if value else SAME_KIND_COUNTED


def duration(seconds: float | int | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} 分 {rest} 秒" if minutes else f"{rest} 秒"


def police_response(police) -> str:
    """What 已报警 recorded of the police (the screening.outcome event's `police`), one line:
    接警回执号 …；出警民警 …；接警时间 … (empty when nothing was recorded)."""
    if not isinstance(police, dict):
        return ""
    parts = [f"{POLICE_FIELDS[name]} {when(police[name], seconds=False) if name == 'reported_at' else police[name]}"
             for name in POLICE_FIELDS if police.get(name)]
    return "；".join(parts)


def when(iso: str | None, seconds: bool = True) -> str:
    """A stored time as people read it, in the bank's zone (clock.py):
    '2026-11-30T02:05:09+00:00' -> '2026-11-30 10:05:09' at Asia/Shanghai. A date, or a text
    that is no time, is shown as it is."""
    if not iso:
        return ""
    try:
        moment = clock.local(iso) if "T" in iso else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        return iso[:19 if seconds else 16].replace("T", " ")
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def local_when(iso: str | None, seconds: bool = False) -> str:
    """`when` to the minute (the admin pages' form)."""
    return when(iso, seconds)
