"""Chinese labels for the codes stored in the database, shared by every page, export and PDF
(pure: no Flask)."""

from __future__ import annotations

from datetime import datetime

LEVELS = {"low": "低风险", "medium": "中风险", "high": "高风险", "critical": "极高风险"}
OUTCOMES = {
    "proceeded": "已办理",
    "cancelled": "已取消",
    "delayed": "改为延时到账",
    "police_called": "已报警",
    "postponed": "暂缓",
}
PROTECTED_OUTCOMES = ("cancelled", "police_called")
ACTIONS = {
    "proceed": "正常办理（温馨提示）",
    "print_slip": "打印风险提示单，客户阅读签字后办理",
    "supervisor_hold": "暂缓办理，请主管核实",
    "stop_and_report": "停止办理，立即报警",
}
SESSION_STATUS = {"draft": "问询中", "assessed": "已评估", "finished": "已完成"}
STEPS = {"facts": "交易信息", "questions": "问询", "result": "结果", "done": "完成"}
SUPERVISOR_DECISIONS = {"confirmed": "主管确认", "override": "主管强制放行"}
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

OBSERVATIONS = {
    "hurried": "神色匆忙、焦虑",
    "large_cash": "携带大量现金",
    "on_phone": "办理时一直在打电话",
    "companion_answers": "同行人代为回答",
    "reads_from_message": "照着短信/聊天记录填写收款信息",
    "refuses_explain": "拒绝说明用途",
    "told_keep_secret": "被要求保密",
    "remote_app": "正在使用共享屏幕/会议软件",
    "insists_after_warning": "劝阻后仍坚持转账",
    "family_present": "家人陪同在柜台",
    "documents_shown": "已查看法院文书、合同或发票",
}

# Full personal data fields a vault may hold (anything else is shown by its stored name).
PII_FIELDS = {
    "customer_name": "客户姓名",
    "customer_id_number": "客户证件号码",
    "customer_phone": "客户电话",
    "payee_name": "收款人姓名",
    "payee_account": "收款账号",
}


def typology_labels() -> dict[str, str]:
    try:
        from ..risk import default_rules

        names = {typology.id: typology.name_zh for typology in default_rules().typologies}
    except Exception:  # noqa: BLE001 - any problem with the rule file: use the built-in names
        names = {}
    return {**FALLBACK_TYPOLOGIES, **names}


def yuan(amount_fen: int | None) -> str:
    """12345678 -> '123,456.78'; empty for no amount."""
    if amount_fen is None:
        return ""
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(int(amount_fen)), 100)
    return f"{sign}{whole:,}.{fen:02d}"


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


def local_when(iso: str | None, seconds: bool = False) -> str:
    """A time stored in UTC (API tokens, users) in this server's local time, as `when` shows
    it: '2026-11-30T02:05:09+00:00' -> '2026-11-30 10:05' at +08:00."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return when(iso, seconds)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return when(moment.isoformat(), seconds)


def when(iso: str | None, seconds: bool = True) -> str:
    """'2026-11-30T10:05:09+08:00' -> '2026-11-30 10:05:09' (times are stored in local time)."""
    if not iso:
        return ""
    return iso[:19 if seconds else 16].replace("T", " ")
