"""涉诈收款账户雷达 for head office (总行反诈, 总行管理员): the list, and putting a payee on the
watchlist after a confirmation step."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .. import clock
from ..db import get_db
from ..screening.context import bank
from ..screening.service import now_local
from ..web import guard_area, ledger_key
from . import radar

bp = Blueprint("radar", __name__, url_prefix="/radar")
guard_area(bp, "ho_security", "ho_admin")

DAY_CHOICES = (3, 7, 14, 30)


def _days(raw) -> int | None:
    if raw in (None, ""):
        return bank().payee_branches_days
    text = str(raw)
    return int(text) if text.isascii() and text.isdigit() and int(text) in DAY_CHOICES else None


@bp.route("/")
def index():
    days = _days(request.args.get("days"))
    if days is None:
        flash(f"时间范围应为 {'、'.join(map(str, DAY_CHOICES))} 天之一，已显示默认范围")
        return redirect(url_for("radar.index"))
    return render_template("watchlist/radar.html", payees=radar.payees(get_db(), now_local(), days),
                           days=days, day_choices=DAY_CHOICES)


@bp.route("/watch", methods=["POST"])
def watch():
    """First POST: the confirmation page; the second (confirmed=1) lists the payee. The payee
    travels as its keyed hash in the POST body (CSRFProtect has checked the token); its masked
    form is read again from the screenings, never taken from the request."""
    days = _days(request.form.get("days") or "0")
    payee = radar.find(get_db(), request.form.get("payee") or "", now_local(), days) \
        if days else None
    if payee is None:
        flash("该收款账户已不在雷达中（时间范围已过或数据已变化），请刷新后重试")
        return redirect(url_for("radar.index"))
    if payee.listed:
        flash(f"{payee.payee_masked} 已在涉诈名单中")
        return redirect(url_for("radar.index", days=days))
    if request.form.get("confirmed") != "1":
        return render_template("watchlist/radar_confirm.html", payee=payee, days=days)
    added = radar.add_to_watchlist(get_db(), ledger_key(), payee, g.user.id, days, clock.today())
    flash(f"已将 {payee.payee_masked} 列入涉诈名单（来源：{radar.SOURCE}）" if added
          else f"{payee.payee_masked} 已在涉诈名单中")
    return redirect(url_for("radar.index", days=days))
