"""Screening pages: the teller's list of sessions (我的问询) and the guided flow."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from ..db import get_db
from ..web import guard_area

bp = Blueprint("screening", __name__, url_prefix="/screening")
guard_area(bp, "teller", "supervisor")


@bp.route("/")
def mine():
    db = get_db()
    rows = db.execute(
        "SELECT id, reference, started_at, step, status, level, amount_fen, payee_masked "
        "FROM sessions WHERE teller_id = ? AND status != 'finished' ORDER BY id DESC LIMIT 50",
        [g.user.id],
    ).fetchall()
    return render_template("screening/mine.html", unfinished=rows)
