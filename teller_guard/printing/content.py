"""What the warning slip and the police alert say, independent of the layout.

The callers (screening and review services) fill ``SlipContent`` / ``AlertContent``; the
helpers below turn them into the fixed Chinese texts and label/value rows that
``slip.py`` and ``alert.py`` lay out. Everything here is pure and easy to test.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from .. import labels
from .capitals import amount_in_capitals

# Seed wording (police anti-fraud campaigns), printed verbatim.
SLOGANS = ("陌生电话不接", "不明链接不点", "中奖信息不信", "别人要钱不给", "一旦被骗报警")
FOUR_NOS = ("不贪心", "不轻信", "不透露", "不转账")
HOTLINES = (("110", "报警电话"), ("96110", "反诈预警劝阻专线"))

SLIP_TITLE = "风险提示单"
ALERT_TITLE = "警情通报单"

WARNED_SENTENCE = (
    "本人已听取银行工作人员的风险提示，已阅读并知悉上述诈骗手法，"
    "确认本次转账系本人真实意愿。"
)

# A stopped transfer (极高风险, or the action is to stop and call the police): the customer is
# not asked to confirm the transfer is their own wish; the slip says what happened and what to
# do next, in the customer's words rather than police wording.
STOPPED_INTRO = (
    "您正在办理的转账很可能是电信网络诈骗。为保护您的资金安全，本次转账已暂停办理。"
)
STOPPED_HEADING = "本次转账已暂停。接下来请您这样做："
STOPPED_STEPS = (  # one short line each on A5
    "拨打 96110 反诈专线，把经过讲给民警听。",
    "把这件事告诉家人，和家人一起商量。",
    "不要再联系让您转账的人：不接电话，不回消息。",
    "还要转账时，请带家人一起来，或先听民警的意见。",
)
STOPPED_SENTENCE = "本人已收到本提示单，并听取了银行工作人员的讲解。"

#: What the slip's QR code says, readable by any phone without our system.
QR_HOTLINE = "反诈专线96110"

#: Printed when the screening found no specific scam type.
GENERAL_WARNING = (
    "防范电信网络诈骗",
    (
        "凡是要求您向陌生账户转账汇款、索要银行卡密码或短信验证码的，都可能是诈骗。"
        "公检法机关从不设立“安全账户”，也不会通过电话、网络办案；"
        "网上贷款放款前要求先交钱的、承诺高回报零风险的、兼职刷单的，都是诈骗。"
        "转账前请先与家人商量，或拨打 96110 核实。"
    ),
)

EMPTY_VALUE = "—"

# Labels and headings, kept here so every fixed text of both documents is in one place
# (``fixed_texts`` hands them to the font subset cache).
PRINTED_AT_LABEL = "打印时间："
REFERENCE_LABEL = "编号："
TELLER_LABEL = "经办柜员："
SLIP_HEADING_TYPOLOGIES = "您的转账可能涉及以下诈骗手法，请务必警惕："
SLIP_HEADING_GENERAL = "防骗提示："
SLOGANS_LABEL = "防骗口诀："
FOUR_NOS_LABEL = "牢记“四个不”："
HOTLINES_LEAD = "如有疑问或发现被骗，请立即拨打："
SIGNATURE_LABEL = "客户签名："
DATE_LABEL = "日期："
SUPERVISOR_SIGNATURE_LABEL = "主管签字："
STAMP_LABEL = "网点业务章"
AMOUNT_CAPITALS_LABEL = "人民币（大写）"
ALSO_POSSIBLE_LABEL = "也可能是："
#: Characters of amounts in capitals, so the font primer holds them.
CAPITAL_CHARACTERS = "零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整"

OCCURRED_AT_LABEL = "发生时间："
PRINTED_BY_LABEL = "打印人："
ALERT_SECTIONS = {
    "case": "一、基本信息",
    "customer": "二、客户信息",
    "transfer": "三、交易信息",
    "risk": "四、风险研判",
    "answers": "五、问询记录",
    "observations": "六、柜员观察",
    "statement": "七、客户陈述",
    "actions": "八、已采取措施",
}
ALERT_ANSWER_COLUMNS = ("序号", "问题", "客户回答")
ALERT_REASONS_LABEL = "判定依据"
ALERT_SIGN_OFF = ("经办柜员（签字）：", "复核主管（签字）：")
ALERT_PRIVACY_NOTE = "本通报单含客户个人信息，仅限公安机关处置警情使用，请妥善保管。"
NO_RECORD = "（无记录）"
PAGE_NUMBER = "第 {number} 页 / 共 {total} 页"


def _as_tuple(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        return (value,)
    return tuple(value)


def _pairs(value) -> tuple[tuple[str, str], ...]:
    """Normalise (a, b) pairs; a bare string becomes (string, "")."""
    pairs = []
    for item in _as_tuple(value):
        if isinstance(item, str) or item is None:
            pairs.append((item or "", ""))
        else:
            first, *rest = tuple(item) or ("",)
            pairs.append((first, rest[0] if rest else ""))
    return tuple(pairs)


class _TupleFields:
    """Freeze list arguments into tuples so the content objects are immutable."""

    _tuple_fields: tuple[str, ...] = ()
    _pair_fields: tuple[str, ...] = ()

    def __post_init__(self):
        for name in self._tuple_fields:
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        for name in self._pair_fields:
            object.__setattr__(self, name, _pairs(getattr(self, name)))


@dataclass(frozen=True)
class SlipContent(_TupleFields):
    """The customer's warning slip. Personal data arrives already masked."""

    bank_name: str
    branch_name: str
    printed_at: datetime | None
    reference: str
    amount: Decimal | None
    payee_masked: str = ""  # e.g. "6222 **** **** 1234"
    payee_name_masked: str = ""  # e.g. "张*"
    other_region: bool | None = None  # 异地: None when unknown
    level_label: str = ""  # 低风险 / 中风险 / 高风险 / 极高风险
    warnings: tuple[tuple[str, str], ...] = ()  # (typology_name_zh, warning_text_zh)
    teller_id: str = ""
    customer_name_masked: str = ""
    # The transfer was stopped (极高风险 or a stop-and-report action): no confirmation of the
    # customer's own wish, but what to do next.
    stopped: bool = False

    _pair_fields = ("warnings",)


@dataclass(frozen=True)
class AlertContent(_TupleFields):
    """The alert for the police. Personal data is printed in full, as recorded."""

    bank_name: str
    branch_name: str
    occurred_at: datetime | None  # when the teller screened the transfer
    reference: str
    teller_id: str = ""
    supervisor_id: str = ""
    customer_name: str = ""
    customer_id_number: str = ""
    customer_phone: str = ""
    payee_account: str = ""
    payee_name: str = ""
    payee_bank: str = ""
    payee_region: str = ""
    amount: Decimal | None = None
    channel_label: str = ""  # e.g. 柜面实时转账
    level_label: str = ""
    score: int | float | Decimal | None = None
    typologies: tuple[str, ...] = ()  # scam type names, e.g. 冒充公检法
    answers: tuple[tuple[str, str], ...] = ()  # (question, answer) as asked at the counter
    observations: tuple[str, ...] = ()  # what the teller saw (hurried, on the phone, ...)
    reasons: tuple[str, ...] = ()  # why the engine rated the risk
    customer_statement: str = ""
    actions_taken: tuple[str, ...] = ()
    printed_by: str = ""
    printed_at: datetime | None = None

    _tuple_fields = ("typologies", "observations", "reasons", "actions_taken")
    _pair_fields = ("answers",)


# --- formatting ---------------------------------------------------------------------------


def format_amount(amount) -> str:
    """``Decimal("50000")`` -> ``"¥50,000.00"``: the digits as every screen shows them
    (labels.amount); paper has no 金额（元） column header, so the sign says the unit.
    Anything unusable -> "—"."""
    if amount is None or amount == "":
        return EMPTY_VALUE
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    shown = labels.amount(value)
    return f"-¥{shown[1:]}" if shown.startswith("-") else f"¥{shown}"


def format_amount_capitals(amount) -> str:
    """``Decimal("200000")`` -> ``"人民币（大写）贰拾万元整"``; "" when it cannot be written."""
    if amount is None or amount == "":
        return ""
    try:
        return AMOUNT_CAPITALS_LABEL + amount_in_capitals(amount)
    except ValueError:
        return ""


def format_datetime(moment: datetime | None) -> str:
    """``"2026年11月30日 08:32"``; seconds are noise on paper."""
    if moment is None:
        return EMPTY_VALUE
    return f"{moment.year}年{moment.month:02d}月{moment.day:02d}日 {moment:%H:%M}"


def format_yes_no(value: bool | None) -> str:
    if value is None:
        return "未知"
    return "是" if value else "否"


def as_text(value) -> str:
    """Any field value as a stripped string; None is empty."""
    return "" if value is None else str(value).strip()


def or_dash(value) -> str:
    return as_text(value) or EMPTY_VALUE


def format_score(score) -> str:
    if score is None or score == "":
        return EMPTY_VALUE
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    return str(score)


# --- fixed texts -------------------------------------------------------------------------


def slogans_text() -> str:
    return "、".join(SLOGANS)


def four_nos_text(separator: str = "、") -> str:
    return separator.join(FOUR_NOS)


def hotlines_text() -> str:
    """``"110 报警电话　96110 反诈预警劝阻专线"``."""
    return "　".join(f"{number} {label}" for number, label in HOTLINES)




# --- slip ----------------------------------------------------------------------------------


def slip_warnings(slip: SlipContent) -> tuple[tuple[str, str], ...]:
    """The scam-specific warnings, primary first, or the general one when none was detected."""
    specific = tuple(
        (as_text(name), as_text(text)) for name, text in slip.warnings if (name or text)
    )
    return specific or (GENERAL_WARNING,)


def slip_greeting(slip: SlipContent) -> str:
    name = as_text(slip.customer_name_masked)
    return f"尊敬的客户{name}：" if name else "尊敬的客户："


def slip_intro(slip: SlipContent | None = None) -> str:
    if slip is not None and slip.stopped:
        return STOPPED_INTRO
    return (
        "您正在办理的转账存在被电信网络诈骗的风险。"
        "请在转账前仔细阅读以下提示，如有疑问请暂停转账。"
    )


def slip_closing(slip: SlipContent) -> str:
    """The sentence above the customer's signature."""
    return STOPPED_SENTENCE if slip.stopped else WARNED_SENTENCE


def qr_payload(reference: str) -> str:
    """``"TG20261130-000001 反诈专线96110"``: the slip's QR code, useful offline to whoever
    scans it (the customer's family, a police officer), not an internal id only."""
    reference = as_text(reference)
    return f"{reference} {QR_HOTLINE}" if reference else QR_HOTLINE


def slip_summary_rows(slip: SlipContent) -> list[tuple[str, str]]:
    """Label/value pairs of the transfer, masked as received."""
    rows = [
        ("转账金额", format_amount(slip.amount)),
        ("收款账户", or_dash(slip.payee_masked)),
        ("收款人", or_dash(slip.payee_name_masked)),
        ("是否异地", format_yes_no(slip.other_region)),
    ]
    if as_text(slip.level_label):
        rows.append(("风险等级", as_text(slip.level_label)))
    return rows


# --- police alert --------------------------------------------------------------------------


def alert_headline(alert: AlertContent) -> str:
    """One sentence with the facts police act on first."""
    payee = "，".join(non_empty((alert.payee_name, alert.payee_bank, alert.payee_region)))
    payee_account = or_dash(alert.payee_account)
    payee_text = f"{payee_account}（{payee}）" if payee else payee_account
    kinds = "、".join(non_empty(alert.typologies)) or "电信网络诈骗"
    return (
        f"客户{or_dash(alert.customer_name)}拟向{payee_text}转账{format_amount(alert.amount)}，"
        f"疑似{kinds}。"
    )


def alert_case_rows(alert: AlertContent) -> list[tuple[str, str]]:
    return [
        ("银行", or_dash(alert.bank_name)),
        ("网点", or_dash(alert.branch_name)),
        ("发生时间", format_datetime(alert.occurred_at)),
        ("编号", or_dash(alert.reference)),
        ("经办柜员", or_dash(alert.teller_id)),
        ("复核主管", or_dash(alert.supervisor_id)),
    ]


def alert_customer_rows(alert: AlertContent) -> list[tuple[str, str]]:
    return [
        ("姓名", or_dash(alert.customer_name)),
        ("证件号码", or_dash(alert.customer_id_number)),
        ("联系电话", or_dash(alert.customer_phone)),
    ]


def alert_transfer_rows(alert: AlertContent) -> list[tuple[str, str]]:
    return [
        ("转账金额", format_amount(alert.amount)),
        ("转账渠道", or_dash(alert.channel_label)),
        ("收款账号", or_dash(alert.payee_account)),
        ("收款人", or_dash(alert.payee_name)),
        ("收款银行", or_dash(alert.payee_bank)),
        ("收款地区", or_dash(alert.payee_region)),
    ]


def alert_risk_rows(alert: AlertContent) -> list[tuple[str, str]]:
    return [
        ("风险等级", or_dash(alert.level_label)),
        ("风险评分", format_score(alert.score)),
        ("涉嫌类型", "、".join(non_empty(alert.typologies)) or EMPTY_VALUE),
    ]


def non_empty(items: Iterable) -> list[str]:
    """The items as stripped strings, blanks dropped."""
    return [as_text(item) for item in items if as_text(item)]


def fixed_texts() -> list[str]:
    """Every text printed whatever the data: constants and the row labels."""
    texts: list[str] = []

    def collect(value):
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, tuple):
            for item in value:
                collect(item)

    for name, value in globals().items():
        if name.isupper():
            collect(value)
    empty_slip = SlipContent("", "", None, "", None, level_label="中风险")
    empty_alert = AlertContent("", "", None, "")
    collect(tuple(label for label, _ in slip_summary_rows(empty_slip)))
    for rows in (alert_case_rows, alert_customer_rows, alert_transfer_rows, alert_risk_rows):
        collect(tuple(label for label, _ in rows(empty_alert)))
    collect((slip_greeting(empty_slip), slip_intro(), slogans_text(), hotlines_text()))
    return texts
