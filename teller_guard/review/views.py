"""Review queue (待复核) for branch security."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..db import get_db
from ..web import guard_area

bp = Blueprint("review", __name__, url_prefix="/review")
guard_area(bp, "security", "admin", "supervisor")


@bp.route("/")
def queue():
    rows = get_db().execute(
        "SELECT id, reference, started_at, level, review_status FROM sessions "
        "WHERE in_queue = 1 ORDER BY id DESC LIMIT 50"
    ).fetchall()
    return render_template("review/queue.html", rows=rows)
