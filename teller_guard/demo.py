"""Demo data for `serve --demo`: a few weeks of realistic screenings so the queue and the
statistics show something on first run. Stories follow the domain's common cases; amounts,
times and tellers vary with a fixed random seed, so every demo looks the same."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from .risk import default_rules
from .screening import inputs, service

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
PROVINCES = ("河北省", "河北省", "河北省", "北京市", "广东省", "云南省", "浙江省")


def _outcome(level: str, rng: random.Random) -> str:
    if level in ("low", "medium"):
        return rng.choices(["proceeded", "postponed"], [95, 5])[0]
    if level == "high":
        return rng.choices(["proceeded", "delayed", "cancelled"], [40, 30, 30])[0]
    return rng.choices(["cancelled", "police_called", "postponed"], [50, 40, 10])[0]


def seed_sessions(db, keys: service.Keys, branch, tellers: list[int], supervisor_id: int,
                  days: int = 21, per_day: int = 12, seed: int = 2026,
                  today: date | None = None) -> int:
    """Create about days*per_day finished screenings ending yesterday; returns how many."""
    rng = random.Random(seed)
    rules = default_rules()
    today = today or date.today()
    zone = datetime.now().astimezone().tzinfo
    created = 0
    weights = [story[1] for story in STORIES]
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
                "payee_province": rng.choice(PROVINCES),
                "customer_age": str(rng.randint(62, 80) if facts_base["occupation"] == "retired"
                                    else rng.randint(20, 70)),
                "customer_name": rng.choice("王李张刘陈杨赵黄周吴") + rng.choice("伟芳娜敏静丽强磊"),
                "customer_phone": f"139{rng.randint(10**7, 10**8 - 1)}",
            }, day)
            teller_id = rng.choice(tellers)
            session_id = service.start(db, keys, teller_id, checked.value, branch,
                                       moment=start)
            data = {**answers, "observations": observations}
            if data["answers"]["purpose"] and checked.value.amount >= branch.large_amount:
                data = {**data, "answers": {**data["answers"], "use_confirmed": kind == BENIGN}}
            assessed_at = start + timedelta(seconds=rng.randint(25, 240))
            assessment = service.assess(db, keys, session_id, branch, rules, {}, teller_id,
                                        answers=data, moment=assessed_at)
            outcome = _outcome(assessment.level, rng)
            finished_at = assessed_at + timedelta(seconds=rng.randint(10, 120))
            if outcome == "proceeded" and assessment.level in ("high", "critical"):
                reason = "主管与客户家属视频核实后确认" if assessment.level == "critical" else None
                service.supervise(db, keys, session_id, supervisor_id, reason, moment=finished_at)
            service.record_outcome(db, keys, session_id, outcome, teller_id, moment=finished_at)
            created += 1
    return created
