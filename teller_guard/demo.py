"""Demo data for `serve --demo`: a bank of three branches in two provinces, an account for
every role in each and two at head office, and a few weeks of realistic screenings at each
branch so the queue and the statistics show something on first run. Stories follow the
domain's common cases; amounts, times and tellers vary with a fixed random seed, so every
demo looks the same. One mule account was paid from all three branches within three days
(MULE_ACCOUNT), so what links branches has a case to show."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from . import clock, settings
from .risk import default_rules
from .screening import inputs, service
from .storage import branches as branch_store


@dataclass(frozen=True)
class DemoBranch:
    code: str
    settings: settings.BranchSettings
    prefix: str  # of its user names: teller1 at branch 1 (the README's), qd_teller1, …
    names: tuple[str, str, str, str]  # of its teller, supervisor, security and admin
    staff_series: int  # 工号 T001, S001, … at branch 1; T101, … at the next
    per_day: int  # screenings a day, about
    seed: int


DEMO_BRANCHES = (
    DemoBranch("0001", settings.DEMO_SETTINGS, "", ("王柜员", "李主管", "赵安保", "陈管理员"),
               0, 12, 2026),
    DemoBranch("0002", replace(settings.DEMO_SETTINGS, branch_name="桥东支行"), "qd_",
               ("孙柜员", "周主管", "吴安保", "郑管理员"), 100, 4, 2027),
    DemoBranch("0003", replace(settings.DEMO_SETTINGS, branch_name="历下支行",
                               province="山东省", city="济南市"), "lx_",
               ("冯柜员", "韩主管", "杨安保", "朱管理员"), 200, 4, 2028),
)
BRANCH_ROLES = ("teller", "supervisor", "security", "admin")
STAFF_LETTER = {"teller": "T", "supervisor": "S", "security": "B", "admin": "A"}
HEAD_OFFICE_ACCOUNTS = (("ho_security1", "ho_security", "钱反诈", ""),
                        ("ho_admin1", "ho_admin", "何管理员", ""))


def branch_ids(db, key) -> list[int]:
    """The demo branches' ids (in DEMO_BRANCHES order), each created when missing; branch 1
    gets the demo settings while it still has the defaults."""
    ids = []
    for index, branch in enumerate(DEMO_BRANCHES):
        if index == 0:
            if settings.load(db) == settings.BranchSettings():
                settings.save(db, key, branch.settings)
            ids.append(settings.DEFAULT_BRANCH_ID)
            continue
        found = branch_store.by_code(db, branch.code)
        ids.append(found["id"] if found else
                   settings.create_branch(db, key, branch.code, branch.settings))
    return ids


def accounts(ids: list[int]) -> list[tuple[str, str, str, str, int | None, str]]:
    """(username, role, name, 工号, branch id, where) of every demo account: each branch's
    four, then head office's."""
    found = []
    for branch, branch_id in zip(DEMO_BRANCHES, ids, strict=True):
        for role, name in zip(BRANCH_ROLES, branch.names, strict=True):
            staff_no = f"{STAFF_LETTER[role]}{branch.staff_series + 1:03d}"
            found.append((f"{branch.prefix}{role}1", role, name, staff_no, branch_id,
                          branch.settings.branch_name))
    return found + [(*account, None, "总行") for account in HEAD_OFFICE_ACCOUNTS]

BENIGN = "benign"
SCAM = "scam"

# (kind, weight, facts, answers, observations)
STORIES = [
    (BENIGN, 30, {"payee_type": "personal", "payee_known": "known", "occupation": "other"},
     {"answers": {"purpose": "family_living", "knows_payee": "in_person",
                  "relationship": "family", "purpose_text": "给女儿的生活费"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": True}}, []),
    (BENIGN, 10, {"payee_type": "corporate", "payee_known": "new", "occupation": "other"},
     {"answers": {"purpose": "tuition", "knows_payee": "in_person", "relationship": "school",
                  "purpose_text": "孩子大学学费"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": True}}, []),
    (BENIGN, 8, {"payee_type": "corporate", "payee_known": "new", "occupation": "other"},
     {"answers": {"purpose": "house_purchase", "knows_payee": "in_person",
                  "relationship": "developer", "purpose_text": "购房首付，已签合同"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": True}}, []),
    (BENIGN, 10, {"payee_type": "corporate", "payee_known": "known", "occupation": "other"},
     {"answers": {"purpose": "trade_payment", "knows_payee": "in_person",
                  "relationship": "business_partner", "verified_by_phone": True,
                  "purpose_text": "老供应商货款"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": True}}, []),
    (BENIGN, 6, {"payee_type": "personal", "payee_known": "known", "occupation": "retired"},
     {"answers": {"purpose": "medical", "knows_payee": "in_person", "relationship": "family",
                  "purpose_text": "给住院的老伴交医药费"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": True}}, []),
    (BENIGN, 6, {"payee_type": "personal", "payee_known": "new", "occupation": "retired"},
     {"answers": {"purpose": "repay_debt", "knows_payee": "in_person", "relationship": "friend",
                  "purpose_text": "还老同事的钱"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": False}}, []),
    (SCAM, 4, {"payee_type": "personal", "payee_known": "new", "occupation": "other"},
     {"answers": {"purpose": "online_friend", "knows_payee": "online_only",
                  "relationship": "online_contact", "verified_by_phone": False,
                  "purpose_text": "借给朋友"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": False}}, []),
    (BENIGN, 5, {"payee_type": "personal", "payee_known": "new", "occupation": "other"},
     {"answers": {"purpose": "other", "knows_payee": "in_person", "relationship": "friend",
                  "purpose_text": "借给朋友做生意"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "no",
                       "family_consulted": True}}, ["hurried", "on_phone"]),
    (SCAM, 3, {"payee_type": "personal", "payee_known": "new", "occupation": "retired"},
     {"answers": {"purpose": "emergency_relative", "knows_payee": "phone_only",
                  "relationship": "family", "verified_by_phone": False,
                  "purpose_text": "有人打电话说孙子在外地住院，要马上交钱"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "unsure",
                       "family_consulted": False}}, ["hurried"]),
    (SCAM, 5, {"payee_type": "personal", "payee_known": "new", "occupation": "retired"},
     {"answers": {"purpose": "safe_account", "knows_payee": "phone_only",
                  "relationship": "stranger", "verified_by_phone": False,
                  "purpose_text": "市公安局警官来电说我涉嫌洗钱，要转到安全账户配合调查"},
      "three_checks": {"paying_stranger": True, "possibly_scam": "no",
                       "family_consulted": False}}, ["on_phone", "told_keep_secret", "hurried"]),
    (SCAM, 6, {"payee_type": "personal", "payee_known": "new", "occupation": "unemployed"},
     {"answers": {"purpose": "loan_fee", "knows_payee": "online_only",
                  "relationship": "online_contact", "verified_by_phone": False,
                  "purpose_text": "网上贷款要先交保证金和解冻费才放款"},
      "three_checks": {"paying_stranger": True, "possibly_scam": "unsure",
                       "family_consulted": False}}, ["reads_from_message"]),
    (SCAM, 6, {"payee_type": "personal", "payee_known": "new", "occupation": "other"},
     {"answers": {"purpose": "online_task", "knows_payee": "online_only",
                  "relationship": "online_contact", "verified_by_phone": False,
                  "purpose_text": "兼职刷单做任务，先垫付才能返佣金"},
      "three_checks": {"paying_stranger": True, "possibly_scam": "no",
                       "family_consulted": False}}, ["on_phone"]),
    (SCAM, 5, {"payee_type": "personal", "payee_known": "new", "occupation": "other"},
     {"answers": {"purpose": "investment", "knows_payee": "online_only",
                  "relationship": "online_contact", "verified_by_phone": False,
                  "purpose_text": "群里导师带单投资虚拟币，稳赚不赔高回报"},
      "three_checks": {"paying_stranger": True, "possibly_scam": "no",
                       "family_consulted": False}}, []),
    (SCAM, 3, {"payee_type": "personal", "payee_known": "new", "occupation": "finance"},
     {"answers": {"purpose": "boss_request", "knows_payee": "online_only",
                  "relationship": "employer", "verified_by_phone": False,
                  "purpose_text": "老板在微信上让我马上转一笔货款"},
      "three_checks": {"paying_stranger": False, "possibly_scam": "unsure",
                       "family_consulted": False}}, ["hurried"]),
    (SCAM, 3, {"payee_type": "personal", "payee_known": "new", "occupation": "other"},
     {"answers": {"purpose": "refund_claim", "knows_payee": "phone_only",
                  "relationship": "stranger", "verified_by_phone": False,
                  "purpose_text": "快递客服说要理赔，让我先转账激活，还要了验证码"},
      "three_checks": {"paying_stranger": True, "possibly_scam": "unsure",
                       "family_consulted": False}}, ["remote_app"]),
]
AMOUNTS = {BENIGN: (800, 3000, 8000, 20000, 60000, 150000), SCAM: (5000, 30000, 80000, 200000)}
OTHER_PROVINCES = ("北京市", "广东省", "云南省", "浙江省")


def payee_provinces(branch) -> tuple[str, ...]:
    """Payees are mostly in the branch's own province."""
    return (branch.province,) * 3 + OTHER_PROVINCES


def _outcome(level: str, rng: random.Random) -> str:
    if level in ("low", "medium"):
        return rng.choices(["proceeded", "postponed"], [95, 5])[0]
    if level == "high":
        return rng.choices(["proceeded", "delayed", "cancelled"], [40, 30, 30])[0]
    return rng.choices(["cancelled", "police_called", "postponed"], [50, 40, 10])[0]


def seed_sessions(db, keys: service.Keys, branch, tellers: list[int], supervisor_id: int,
                  days: int = 21, per_day: int = 12, seed: int = 2026,
                  today: date | None = None) -> int:
    """Create about days*per_day finished screenings at the tellers' branch (whose settings
    `branch` are) ending yesterday; returns how many."""
    rng = random.Random(seed)
    rules = default_rules()
    today = today or clock.today()
    zone = clock.zone()
    created = 0
    weights = [story[1] for story in STORIES]
    provinces = payee_provinces(branch)
    for day_offset in range(days, 0, -1):
        day = today - timedelta(days=day_offset)
        for _ in range(rng.randint(per_day // 2, per_day * 3 // 2)):
            kind, _, facts_base, answers, observations = rng.choices(STORIES, weights)[0]
            start = datetime.combine(day, time(9, 0), zone) + timedelta(
                seconds=rng.randint(0, 8 * 3600))
            number = rng.randint(10**15, 10**16 - 1)
            checked = inputs.parse_facts({
                **facts_base, "channel": "counter_transfer",
                "amount": str(rng.choice(AMOUNTS[kind])),
                "payee_account": f"62{number}", "payee_name": rng.choice("王李张刘陈杨赵黄周吴") + "某",
                "payee_province": rng.choice(provinces),
                "customer_age": str(rng.randint(62, 80) if facts_base["occupation"] == "retired"
                                    else rng.randint(20, 70)),
                "customer_name": rng.choice("王李张刘陈杨赵黄周吴") + rng.choice("伟芳娜敏静丽强磊"),
                "customer_phone": f"139{rng.randint(10**7, 10**8 - 1)}",
            }, day)
            _screen(db, keys, branch, rules, rng.choice(tellers), supervisor_id, checked.value,
                    kind, {**answers, "observations": observations}, start, rng)
            created += 1
    return created


def _screen(db, keys, branch, rules, teller_id: int, supervisor_id: int, facts, kind: str,
            data: dict, start: datetime, rng: random.Random, outcome: str | None = None,
            reason: str = "主管与客户家属视频核实后确认") -> None:
    """One screening from its facts to its outcome (`outcome`, default: one likely for the
    level); a 高/极高 one that proceeds passes the supervisor first (`reason`: 极高's)."""
    session_id = service.start(db, keys, teller_id, facts, branch, moment=start)
    if data["answers"]["purpose"] and facts.amount >= branch.large_amount:
        data = {**data, "answers": {**data["answers"], "use_confirmed": kind == BENIGN}}
    assessed_at = start + timedelta(seconds=rng.randint(25, 240))
    assessment = service.assess(db, keys, session_id, branch, rules, {}, teller_id,
                                answers=data, moment=assessed_at)
    outcome = outcome or _outcome(assessment.level, rng)
    finished_at = assessed_at + timedelta(seconds=rng.randint(10, 120))
    if outcome == "proceeded" and assessment.level in ("high", "critical"):
        service.supervise(db, keys, session_id, supervisor_id,
                          reason if assessment.level == "critical" else None, moment=finished_at)
    service.record_outcome(db, keys, session_id, outcome, teller_id, moment=finished_at)


# The mule: a 刷单 account that customers of the three branches paid on three days in a row,
# the first two after the supervisor let them insist, the third stopped with the police.
MULE_ACCOUNT = "6230581234567890127"
MULE_PAYMENTS = (  # (days ago, hour, amount, customer, age, phone, outcome)
    (3, 10, "30000", "张秀兰", "52", "13903190001", "proceeded"),
    (2, 14, "50000", "刘建国", "47", "13903190002", "proceeded"),
    (1, 11, "80000", "高明", "35", "13905310003", "police_called"),
)
MULE_STORY = next(story for story in STORIES if story[3]["answers"]["purpose"] == "online_task")


def seed_mule_payments(db, keys: service.Keys, branches: list, today: date | None = None) -> int:
    """MULE_ACCOUNT paid once at each branch: `branches` gives (settings, teller id,
    supervisor id) of each, in MULE_PAYMENTS order. Returns how many screenings."""
    rng = random.Random(16)
    rules = default_rules()
    today = today or clock.today()
    zone = clock.zone()
    kind, _, facts_base, answers, observations = MULE_STORY
    for (days_ago, hour, amount, customer, age, phone, outcome), (branch, teller, supervisor) \
            in zip(MULE_PAYMENTS, branches, strict=True):
        day = today - timedelta(days=days_ago)
        checked = inputs.parse_facts({
            **facts_base, "channel": "counter_transfer", "amount": amount,
            "payee_account": MULE_ACCOUNT, "payee_name": "刘某", "payee_province": "云南省",
            "payee_city": "昆明市", "customer_age": age, "customer_name": customer,
            "customer_phone": phone}, day)
        _screen(db, keys, branch, rules, teller, supervisor, checked.value, kind,
                {**answers, "observations": observations},
                datetime.combine(day, time(hour, 0), zone), rng, outcome,
                reason="客户坚持办理，已再次提示风险并留存记录")
    return len(MULE_PAYMENTS)
