"""The draft routes static/js/autosave.js posts a step's form to as the teller types, and the
idle logout's keeper for a form posted too late (auth.py): either way nothing typed is lost."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g, jsonify, request, url_for

from .. import branch_scope
from ..db import get_db
from . import drafts, service
from .views import bp, draft_secret, keep_draft, own_session

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FINISHED = "该问询已记录结果，不能再修改"
# The pages whose posted form is kept as a draft when it arrives after the idle logout.
KEPT_STEPS = {
    "screening.new": "new", "screening.new_draft": "new",
    "screening.facts": "facts", "screening.facts_draft": "facts",
    "screening.questions": "questions", "screening.questions_draft": "questions",
}


@bp.route("/new/draft", methods=["POST"])
def new_draft():
    return _save(None, "new")


@bp.route("/<int:session_id>/facts/draft", methods=["POST"])
def facts_draft(session_id: int):
    return _save(session_id, "facts")


@bp.route("/<int:session_id>/questions/draft", methods=["POST"])
def questions_draft(session_id: int):
    return _save(session_id, "questions")


def _save(session_id: int | None, step: str):
    if session_id is not None:
        row = own_session(session_id, edit=True)
        if row["status"] == "finished":
            return jsonify(error=FINISHED), 409
    if request.mimetype not in FORM_TYPES:
        return jsonify(error="请以表单方式提交草稿", field=None), 400
    try:
        pairs = drafts.form_pairs(step, request.form)
    except drafts.DraftError as error:
        return jsonify(error=error.message, field=error.field), 400
    saved_at = drafts.save(get_db(), draft_secret(), g.user.id, session_id, step, pairs,
                           current_app.config["SESSION_MAX_HOURS"])
    return jsonify(saved_at=datetime.fromtimestamp(saved_at).strftime("%H:%M:%S"))


def keep_after_idle(user) -> str | None:
    """Called by auth.py for a POST that arrives after the idle limit, from a login that is
    otherwise still valid (its CSRF token too): keep the form of a screening step as the
    teller's draft and return that step's page, to open after the next login; None when the
    request is not one of those steps, or not this teller's to edit."""
    step = KEPT_STEPS.get(request.endpoint or "")
    if step is None or user.role not in ("teller", "supervisor"):
        return None
    session_id = (request.view_args or {}).get("session_id")
    if session_id is None:
        kept = keep_draft(None, "new", request.form, user.id)
        return url_for("screening.new") if kept else None
    row = service.get(get_db(), session_id)
    if row is None or row["teller_id"] != user.id or row["status"] == "finished" or \
            not branch_scope.may_see(user, row):
        return None
    if keep_draft(session_id, step, request.form, user.id) is None:
        return None
    return url_for(f"screening.{step}", session_id=session_id)


@bp.record_once
def _register_keeper(state) -> None:
    state.app.extensions["teller_guard"].setdefault("idle_keepers", []).append(keep_after_idle)
