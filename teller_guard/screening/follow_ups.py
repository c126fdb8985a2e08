"""What a recorded follow-up answer changed (issue 15, item 3).

When the teller records the customer's answer to the follow-up questions (记录回答并重新评估,
or `statement` on the API), the answer is added to the customer's words and the case scored
again. The session's form keeps, per follow-up, the questions that were asked, the answer as
recorded (numbers masked) and the level, score and reasons before and after, so the result page
can say what was recorded and why the level moved or did not. Pure: no Flask, no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import labels, pii

FORM_KEY = "follow_ups"
KEPT = 10  # newest follow-ups kept in the form (each statement is also in the customer's words)


def _summary(assessment: dict | None) -> dict | None:
    if not assessment:
        return None
    return {"level": assessment.get("level"), "score": assessment.get("score"),
            "fired": [{"rule_id": rule.get("rule_id"), "reason_zh": rule.get("reason_zh"),
                       "points": rule.get("points")}
                      for rule in assessment.get("fired") or [] if isinstance(rule, dict)]}


def recorded(form: dict, before: dict | None, after: dict, statement: str, at: str) -> list[dict]:
    """The form's follow-up list with this one added. `before` and `after` are assessments as
    to_dict() gives them; `before` holds the follow-up questions the teller was shown."""
    entry = {
        "at": at,
        "questions": [{"id": question.get("id"), "text_zh": question.get("text_zh")}
                      for question in (before or {}).get("follow_ups") or []
                      if isinstance(question, dict)],
        "statement": pii.mask_numbers_in_text(statement),
        "before": _summary(before),
        "after": _summary(after),
    }
    earlier = [item for item in form.get(FORM_KEY) or [] if isinstance(item, dict)]
    return (earlier + [entry])[-KEPT:]


@dataclass(frozen=True)
class Reason:
    text: str
    points: str  # as labels.points words it


@dataclass(frozen=True)
class Change:
    """One recorded follow-up as the result page shows it."""

    at: str
    questions: tuple[str, ...]
    statement: str
    level_before: str | None  # None: there was no assessment before
    level_after: str
    score_before: int | None
    score_after: int | None
    added: tuple[Reason, ...]  # reasons that apply now and did not before
    removed: tuple[Reason, ...]  # reasons that no longer apply

    @property
    def level_changed(self) -> bool:
        return self.level_before is not None and self.level_before != self.level_after

    @property
    def level_words(self) -> str:
        """中风险 → 高风险, or 等级未变（中风险）."""
        after = labels.LEVELS.get(self.level_after, self.level_after or "")
        if self.level_before is None:
            return after
        if not self.level_changed:
            return f"等级未变（{after}）"
        return f"{labels.LEVELS.get(self.level_before, self.level_before)} → {after}"

    @property
    def score_words(self) -> str:
        if self.score_before is None or self.score_before == self.score_after:
            return f"{labels.SCORE} {self.score_after}"
        return f"{labels.SCORE} {self.score_before} → {self.score_after}"


def _reasons(rules: list[dict], ids: set) -> tuple[Reason, ...]:
    """The rules among `rules` whose id is in `ids`, in their order."""
    return tuple(Reason(str(rule.get("reason_zh") or rule.get("rule_id") or ""),
                        labels.points(rule.get("points")))
                 for rule in rules if rule.get("rule_id") in ids)


def _change(entry: dict) -> Change | None:
    before, after = entry.get("before"), entry.get("after")
    before = before if isinstance(before, dict) and before else None
    if not isinstance(after, dict) or not after.get("level"):
        return None
    fired_before = [rule for rule in (before or {}).get("fired") or [] if isinstance(rule, dict)]
    fired_after = [rule for rule in after.get("fired") or [] if isinstance(rule, dict)]
    ids_before = {rule.get("rule_id") for rule in fired_before}
    ids_after = {rule.get("rule_id") for rule in fired_after}
    return Change(
        at=str(entry.get("at") or ""),
        questions=tuple(labels.plain(question.get("text_zh")) for question in
                        entry.get("questions") or [] if isinstance(question, dict)),
        statement=str(entry.get("statement") or ""),
        level_before=before.get("level") if before else None,
        level_after=after.get("level"),
        score_before=before.get("score") if before else None,
        score_after=after.get("score"),
        added=_reasons(fired_after, ids_after - ids_before) if before else (),
        removed=_reasons(fired_before, ids_before - ids_after),
    )


def changes(form: dict | None) -> list[Change]:
    """The recorded follow-ups, newest first (stored data that does not read is skipped)."""
    entries = (form or {}).get(FORM_KEY) or []
    found = [_change(entry) for entry in entries if isinstance(entry, dict)]
    return [change for change in reversed(found) if change is not None]
