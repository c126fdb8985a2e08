"""How the warning slip is shortened so it always fits one sheet (A5 or A4).

A slip handed over the counter is one sheet: a second page gets lost, and a signature on a
page without the reference proves nothing. ``slip.py`` lays the slip out with each ``Fit`` of
``FITS`` in turn, measures the result with Platypus ``wrap`` and keeps the first that fits
the page. The steps are in order of what the customer loses least: first long texts are cut
(at a sentence end where possible), then the lines are set closer, and only at the end is the
type made smaller. The last step caps every free text so hard that any slip fits
(tests/test_printing_slip.py tries the worst cases). ``shorten`` gives the texts of a step;
a step that changes neither texts nor spacing is not measured again. Pure: no reportlab.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import content as text
from .content import SlipContent

SENTENCE_ENDS = "。！？；"
ELLIPSIS = "…"


@dataclass(frozen=True)
class Fit:
    """One step of the ladder: limits in characters, spacing factors."""

    warning_limit: int  # the primary typology's warning text
    name_limit: int  # bank, branch, customer and payee names, account, level, teller
    title_limit: int  # each typology name
    others: int  # how many other typologies are named under 也可能是 (titles only)
    leading: float = 1.3  # line height as a multiple of the font size
    gap: float = 1.0  # factor on the blank space between blocks
    scale: float = 1.0  # factor on every font size: the last resort


#: Each step shortens only what the one before left too long, so a slip that fits is never
#: shortened further. The first step is the full slip (the limits only stop absurd data).
FITS = (
    Fit(warning_limit=2000, name_limit=80, title_limit=40, others=2),
    # long texts cut
    Fit(warning_limit=240, name_limit=40, title_limit=24, others=2),
    Fit(warning_limit=160, name_limit=30, title_limit=20, others=2),
    # lines and blocks closer together
    Fit(warning_limit=160, name_limit=30, title_limit=20, others=2, leading=1.22, gap=0.7),
    Fit(warning_limit=160, name_limit=30, title_limit=20, others=2, leading=1.15, gap=0.4),
    # smaller type, shorter texts
    Fit(warning_limit=120, name_limit=24, title_limit=16, others=2, leading=1.15, gap=0.4,
        scale=0.95),
    Fit(warning_limit=110, name_limit=24, title_limit=16, others=1, leading=1.15, gap=0.4,
        scale=0.9),
    Fit(warning_limit=90, name_limit=20, title_limit=16, others=1, leading=1.12, gap=0.3,
        scale=0.85),
    Fit(warning_limit=70, name_limit=16, title_limit=12, others=1, leading=1.12, gap=0.3,
        scale=0.8),
)


#: The reference and the amount in figures are cut at this length, never shortened further
#: (the QR code carries the reference too).
REFERENCE_LIMIT = 40


@dataclass(frozen=True)
class SlipTexts:
    """Every free text of one slip as printed at one step (fixed wording is not here)."""

    bank_line: str
    reference: str
    greeting: str
    summary: tuple[tuple[str, str], ...]  # (label, value), the amount first
    amount_capitals: str
    heading: str
    primary: tuple[str, str]  # (name, warning text); the name may be empty
    others: tuple[str, ...]  # names under 也可能是
    teller: str


def one_line(value: str) -> str:
    """Runs of white space (line breaks too) as one space: no field can stack blank lines."""
    return " ".join(value.split())


def clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS


def cut(value: str, limit: int) -> str:
    """At most ``limit`` characters: at a sentence end when one is in the second half,
    else cut with an ellipsis."""
    if len(value) <= limit:
        return value
    head = value[:limit]
    end = max(head.rfind(mark) for mark in SENTENCE_ENDS)
    if end >= limit // 2:
        return head[: end + 1]
    return clip(value, limit)


def shorten(slip: SlipContent, fit: Fit) -> SlipTexts:
    """The slip's texts on one line each, cut to the limits of ``fit``."""

    def name(value) -> str:
        return clip(one_line(text.as_text(value)), fit.name_limit)

    def title(value) -> str:
        return clip(one_line(value), fit.title_limit)

    warnings = text.slip_warnings(slip)
    (primary_name, primary_text), others = warnings[0], warnings[1:]
    general = warnings == (text.GENERAL_WARNING,)
    return SlipTexts(
        bank_line=" ".join(name(part) for part in text.non_empty((slip.bank_name,
                                                                  slip.branch_name))),
        reference=clip(one_line(text.as_text(slip.reference)), REFERENCE_LIMIT),
        greeting=name(text.slip_greeting(slip)) + text.slip_intro(slip),
        # the amount in figures is never shortened (only an unusable value, printed as given)
        summary=tuple((label, clip(one_line(value), REFERENCE_LIMIT) if index == 0 else name(value))
                      for index, (label, value) in enumerate(text.slip_summary_rows(slip))),
        amount_capitals=text.format_amount_capitals(slip.amount),
        heading=text.SLIP_HEADING_GENERAL if general else text.SLIP_HEADING_TYPOLOGIES,
        primary=(title(primary_name) if primary_name else "",
                 cut(one_line(primary_text), fit.warning_limit)),
        others=tuple(dict.fromkeys(
            title(other) for other, _ in others if other and other != primary_name
        ))[: fit.others],
        teller=name(slip.teller_id),
    )
