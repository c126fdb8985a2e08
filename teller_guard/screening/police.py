"""The police path of a 高/极高 screening: the customer's details the alert needs, and the
police response that 已报警 records.

Pure checks (no Flask, no SQL): the web pages call them, service.py stores what they return.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from .. import clock, labels, pii
from . import validation
from .inputs import TEXT_LIMITS, Checked
from .validation import FieldError

# Who the police alert is about: asked before the alert is printed when step 1 left them out.
CUSTOMER_FIELDS = ("customer_name", "customer_phone", "customer_id_number")
# The police response fields of 已报警 (form names; stored under these keys in the
# screening.outcome event's `police`).
RECEIPT_FIELD, OFFICER_FIELD, TIME_FIELD = "police_receipt_no", "police_officer", "police_time"
POLICE_LABELS = {RECEIPT_FIELD: labels.POLICE_FIELDS["receipt_no"],
                 OFFICER_FIELD: labels.POLICE_FIELDS["officer"],
                 TIME_FIELD: labels.POLICE_FIELDS["reported_at"]}
describe = labels.police_response
RECEIPT_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-_/]{2,39}")
OFFICER_LIMIT = 30
# A police time a few minutes ahead of the server is a terminal's clock, not a typo.
CLOCK_SLACK = timedelta(minutes=5)
EVIDENCE_NEEDED = ("记录“已报警”需先打印本案的警情通报单，或填写接警回执号，"
                   "或填写出警民警姓名和接警时间")


def missing_customer_fields(vault: Mapping) -> list[str]:
    """The customer fields the vault does not hold (in CUSTOMER_FIELDS order)."""
    return [name for name in CUSTOMER_FIELDS if not vault.get(name)]


def parse_customer(raw: Mapping, wanted, today: date) -> Checked:
    """The customer's details asked before the police alert: every field in `wanted` is
    required and checked as on the 新建问询 form."""
    result = Checked(value={})
    for name in wanted:
        text = raw.get(name)
        try:
            if name == "customer_name":
                value = validation.clean_text(text, name, TEXT_LIMITS[name],
                                              labels.FACT_NAMES[name])
            elif name == "customer_phone":
                value = validation.parse_phone(text, name)
            else:
                value = (validation.parse_resident_id(text, today, name).number
                         if (text or "").strip() else None)
        except FieldError as error:
            result.fail(error.field, error.message, error.code)
            continue
        if not value:
            result.fail(name, f"请输入{labels.FACT_NAMES[name]}（打印警情通报单必须填写）",
                        "required")
        else:
            result.value[name] = value
    return result


def _police_time(raw: str, started_at: datetime, now: datetime) -> datetime:
    """`2026-12-02T10:15` (a datetime-local field), `2026-12-02 10:15` or `10:15` (today)."""
    text = validation._halfwidth(raw).replace("：", ":")
    moment = None
    if re.fullmatch(r"[0-9]{1,2}:[0-9]{2}", text):
        hours, minutes = (int(part) for part in text.split(":"))
        if hours < 24 and minutes < 60:
            moment = now.replace(hour=hours, minute=minutes, second=0)
    else:
        try:
            moment = datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=now.tzinfo)
    if moment is None:
        raise FieldError(TIME_FIELD, "接警时间格式不正确，请按“2026-12-02 10:15”或“10:15”填写")
    if moment > now + CLOCK_SLACK:
        raise FieldError(TIME_FIELD, "接警时间不能晚于现在，请核对", "out_of_range")
    if moment < started_at - timedelta(hours=12):
        raise FieldError(TIME_FIELD, "接警时间早于本次问询开始前 12 小时，请核对",
                         "out_of_range")
    return moment.replace(microsecond=0)


def parse_police_response(raw: Mapping, *, alert_printed: bool, started_at: datetime,
                          now: datetime) -> Checked:
    """What 已报警 records of the police: a receipt number, or the officer and the time,
    unless the case's police alert was printed (then all of it is optional). Returns the
    `police` dict for the screening.outcome event ({} when nothing was given)."""
    result = Checked(value={})
    receipt = validation._halfwidth(str(raw.get(RECEIPT_FIELD) or "")).replace(" ", "")
    if receipt:
        if RECEIPT_PATTERN.fullmatch(receipt):
            result.value["receipt_no"] = receipt
        else:
            result.fail(RECEIPT_FIELD, "接警回执号为 3 至 40 位字母、数字（可含 - _ /），请核对")
    try:
        officer = validation.clean_text(raw.get(OFFICER_FIELD), OFFICER_FIELD, OFFICER_LIMIT,
                                        POLICE_LABELS[OFFICER_FIELD])
    except FieldError as error:
        result.fail(error.field, error.message, error.code)
        officer = None
    if officer:
        result.value["officer"] = pii.mask_numbers_in_text(officer)
    time_text = str(raw.get(TIME_FIELD) or "").strip()
    if time_text:
        try:
            result.value["reported_at"] = clock.as_utc(
                _police_time(time_text, started_at, now)).isoformat(timespec="minutes")
        except FieldError as error:
            result.fail(error.field, error.message, error.code)
    if result.errors or alert_printed or "receipt_no" in result.value:
        return result
    if officer and not time_text:
        result.fail(TIME_FIELD, "已填写出警民警，请同时填写接警时间（或填写接警回执号）", "required")
    elif time_text and not officer:
        result.fail(OFFICER_FIELD, "已填写接警时间，请同时填写出警民警姓名（或填写接警回执号）",
                    "required")
    elif not officer:
        result.fail(RECEIPT_FIELD, EVIDENCE_NEEDED, "required")
    return result
