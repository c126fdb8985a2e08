"""Helpers shared by the forms."""

from __future__ import annotations

from flask_wtf import FlaskForm

try:  # wtforms >= 3.3 declares options as SelectChoice; older versions take pairs
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - depends on the installed wtforms
    SelectChoice = None


def choices(pairs) -> list:
    """Options for a SelectField/RadioField from (value, label) or (value, label, attributes)
    tuples; attributes go on the <option>."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(*item) for item in pairs]


class ChineseForm(FlaskForm):
    """Base form: wtforms' built-in messages in Chinese (WTF_I18N_ENABLED is off)."""

    class Meta:
        locales = ("zh",)


def ascii_int(raw, max_digits: int = 18) -> int | None:
    """A whole number typed or posted as ASCII digits, else None.

    str.isdigit() also accepts "⓵" or "٣", which int() then refuses (a 500), and SQLite cannot
    bind numbers past 2**63, hence the digit limit.
    """
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None
