"""待主管处理: the branch's 高/极高 screenings whose assessment waits for a supervisor's
confirmation (高) or written override (极高), and the count in the supervisor's menu.

The decision itself stays where the screening service takes it: on the teller's terminal, with
the supervisor's credentials (or from the calling system, for a screening filed through the
API). This page tells the supervisor what waits, for how long and where, and opens each case's
result (reasons, facts, the police alert). A supervisor's own screenings are not listed: another
supervisor must approve them (four eyes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, g, render_template

from . import branch_scope
from .db import get_db
from .labels import LEVELS
from .screening import service
from .storage import sessions
from .web import guard_area

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
guard_area(bp, "supervisor")

LIMIT = 200
DECISIONS = {"high": "待主管确认", "critical": "待主管书面放行或报警"}


@dataclass(frozen=True)
class Waiting:
    row: dict
    level_label: str
    decision: str
    waited: str  # e.g. "12 分钟"


def waited_text(since: str | None, now: datetime) -> str:
    """How long since `since` (local ISO 8601 with its offset), in words."""
    try:
        seconds = int((now - datetime.fromisoformat(since or "")).total_seconds())
    except (TypeError, ValueError):
        return ""
    minutes = max(0, seconds) // 60
    if minutes < 1:
        return "不到 1 分钟"
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} 小时 {minutes} 分钟" if minutes else f"{hours} 小时"
    days, hours = divmod(hours, 24)
    return f"{days} 天 {hours} 小时" if hours else f"{days} 天"


def menu_count() -> int | None:
    """What the supervisor's menu shows beside 待主管处理 (None for other roles)."""
    user = g.get("user")
    if user is None or user.role != "supervisor" or user.must_change_password:
        return None
    return sessions.awaiting_supervisor_count(get_db(), user.id, branch_scope.branch_ids(user))


@bp.route("/")
def pending():
    db = get_db()
    now = service.now_local()
    scope = branch_scope.current()
    rows = sessions.awaiting_supervisor(db, g.user.id, LIMIT, scope)
    items = [Waiting(row, LEVELS[row["level"]], DECISIONS[row["level"]],
                     waited_text(row["assessed_at"], now)) for row in rows]
    total = len(rows) if len(rows) < LIMIT else sessions.awaiting_supervisor_count(db, g.user.id, scope)
    return render_template("supervision/pending.html", items=items, total=total, limit=LIMIT)
