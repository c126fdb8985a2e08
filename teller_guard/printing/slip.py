"""The customer's warning slip (风险提示单): A5 sheet or 80 mm receipt roll.

Large type for older readers; the scam the customer may be in comes first, then the
slogans, the hotlines and a line to sign. Personal data arrives masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from . import content as text
from .content import SlipContent
from .fonts import FontStatus, font_status
from .layout import (
    GREY_LINE,
    MAX_PAGE_HEIGHT,
    build_pdf,
    clip,
    para,
    phrase_lines,
    style,
    table,
)
from .qr import QrCode

PAPERS = ("a5", "roll80")

# Longest value printed for each free-text field; longer ones end in "…". The slip is for
# the customer: a 10,000-character name is a data error, not something to print in full.
NAME_LIMIT = 80
SHORT_LIMIT = 40
WARNING_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Paper:
    width: float
    height: float | None  # None: continuous roll, the height follows the content
    margins: tuple[float, float, float, float]  # top, right, bottom, left
    body: float  # font sizes in points
    small: float
    heading: float
    title: float
    hotline: float
    qr_size: float

    @property
    def is_roll(self) -> bool:
        return self.height is None

    @property
    def frame_width(self) -> float:
        return self.width - self.margins[1] - self.margins[3]


PAPER_SIZES = {
    "a5": Paper(
        A5[0], A5[1], (9 * mm, 12 * mm, 10 * mm, 12 * mm),
        body=12, small=10, heading=13, title=22, hotline=18, qr_size=23 * mm,
    ),
    "roll80": Paper(
        80 * mm, None, (4 * mm, 4 * mm, 6 * mm, 4 * mm),
        body=10, small=9, heading=11, title=17, hotline=15, qr_size=24 * mm,
    ),
}


def make_qr_flowable(reference: str, size: float) -> Flowable:
    """The reference's QR code (a module-level hook so the benchmark can swap it)."""
    return QrCode(reference, size)


def build_slip(content: SlipContent, paper: str = "a5", invariant: bool = False) -> bytes:
    """The warning slip as PDF bytes.

    ``paper`` is "a5" (A5 portrait) or "roll80" (80 mm receipt roll: one page exactly as
    long as the content). ``invariant=True`` makes the bytes reproducible (tests).
    """
    if paper not in PAPER_SIZES:
        raise ValueError(f"paper must be one of {PAPERS}, not {paper!r}")
    sheet = PAPER_SIZES[paper]
    font = font_status()
    story = _SlipStory(content, sheet, font, _styles(paper, font)).flowables()
    height = sheet.height or _content_height(story, sheet)
    return build_pdf(
        story,
        font=font,
        page_size=(sheet.width, height),
        margins=sheet.margins,
        title=text.SLIP_TITLE,
        invariant=invariant,
        page_number_y=sheet.margins[2] / 2,
    )


def _content_height(story, sheet: Paper) -> float:
    """Page height that holds the whole story on a receipt roll.

    Every space before/after is counted, although the frame drops some: a few points of
    extra paper, never a second page.
    """
    total = 0.0
    for flowable in story:
        _, height = flowable.wrap(sheet.frame_width, MAX_PAGE_HEIGHT)
        total += height + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return min(total + sheet.margins[0] + sheet.margins[2] + 4, MAX_PAGE_HEIGHT)


@lru_cache(maxsize=8)
def _styles(paper: str, font: FontStatus) -> dict:
    sheet = PAPER_SIZES[paper]
    head = {"alignment": TA_CENTER} if sheet.is_roll else {}  # a receipt reads best centred
    return {
        "bank": style(font, "bank", sheet.body, **head),
        "title": style(font, "title", sheet.title, leading=sheet.title * 1.25, **head),
        "meta": style(font, "meta", sheet.small, **head),
        "body": style(font, "body", sheet.body),
        "value": style(font, "value", sheet.body),
        "heading": style(font, "heading", sheet.heading, spaceBefore=5, spaceAfter=1),
        "typology": style(font, "typology", sheet.heading, spaceBefore=2),
        "warning": style(font, "warning", sheet.body),
        "motto": style(font, "motto", sheet.heading, alignment=TA_CENTER),
        "number": style(
            font, "number", sheet.hotline, leading=sheet.hotline * 1.2, alignment=TA_CENTER
        ),
        "number_label": style(font, "number_label", sheet.small, alignment=TA_CENTER),
        "small": style(font, "small", sheet.small),
    }


@dataclass
class _SlipStory:
    """Turns one SlipContent into flowables for one paper size."""

    content: SlipContent
    sheet: Paper
    font: FontStatus
    styles: dict

    def flowables(self) -> list[Flowable]:
        return [
            *self.header(),
            *self.summary(),
            *self.warnings(),
            *self.advice(),
            *self.signature(),
        ]

    def para(self, value, style_name: str, limit: int | None = None) -> Paragraph:
        return para(value, self.styles[style_name], self.font, limit)

    def table(self, rows, col_widths, commands, **options):
        return table(rows, col_widths, commands, self.font, **options)

    def header(self):
        content, sheet = self.content, self.sheet
        bank_line = " ".join(
            clip(part, NAME_LIMIT)
            for part in text.non_empty((content.bank_name, content.branch_name))
        )
        reference = clip(text.as_text(content.reference), SHORT_LIMIT)
        lines = [
            self.para(bank_line, "bank"),
            self.para(text.SLIP_TITLE, "title"),
            self.para(text.PRINTED_AT_LABEL + text.format_datetime(content.printed_at), "meta"),
            self.para(text.REFERENCE_LABEL + text.or_dash(reference), "meta"),
        ]
        qr = make_qr_flowable(reference, sheet.qr_size) if reference else None
        if qr is None:
            return [*lines, Spacer(1, 4)]
        if sheet.is_roll:
            qr.hAlign = "CENTER"
            return [*lines, qr, Spacer(1, 2)]
        no_padding = [
            (side, (0, 0), (-1, -1), 0)
            for side in ("LEFTPADDING", "RIGHTPADDING", "TOPPADDING", "BOTTOMPADDING")
        ]
        header = self.table(
            [[lines, qr]],
            [sheet.frame_width - sheet.qr_size, sheet.qr_size],
            [("VALIGN", (0, 0), (-1, -1), "TOP"), *no_padding],
        )
        return [header, Spacer(1, 6)]

    def summary(self):
        greeting = clip(text.slip_greeting(self.content), NAME_LIMIT) + text.slip_intro()
        # Labels are our own short constants: plain strings are drawn without paragraph
        # parsing and wrapping (about 0.1 ms each).
        pairs = [
            (label, self.para(value, "value", NAME_LIMIT))
            for label, value in text.slip_summary_rows(self.content)
        ]
        width, label_width = self.sheet.frame_width, 17 * mm
        if self.sheet.is_roll:  # one pair a row on the narrow roll
            rows = [list(pair) for pair in pairs]
            col_widths = [label_width, width - label_width]
        else:  # two pairs a row on A5; the account number gets the wider value column
            rows = [
                [*pairs[i], *(pairs[i + 1] if i + 1 < len(pairs) else ("", ""))]
                for i in range(0, len(pairs), 2)
            ]
            account_width = 46 * mm
            col_widths = [label_width, account_width, label_width,
                          width - 2 * label_width - account_width]
        summary = self.table(
            rows,
            col_widths,
            [
                ("GRID", (0, 0), (-1, -1), 0.6, GREY_LINE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTSIZE", (0, 0), (-1, -1), self.sheet.small),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ],
        )
        return [self.para(greeting, "body"), Spacer(1, 3), summary]

    def warnings(self):
        warnings = text.slip_warnings(self.content)
        if warnings == (text.GENERAL_WARNING,):
            heading = text.SLIP_HEADING_GENERAL
        else:
            heading = text.SLIP_HEADING_TYPOLOGIES
        story = [self.para(heading, "heading")]
        for name, warning in warnings:
            if name:
                story.append(self.para(f"【{clip(name, SHORT_LIMIT)}】", "typology"))
            if warning:
                story.append(self.para(warning, "warning", WARNING_TEXT_LIMIT))
        return story

    def advice(self):
        width, styles = self.sheet.frame_width, self.styles
        inner_width = width - 12  # minus the cell's default padding
        # Our own constants: markup without escaping, lines broken between phrases only.
        slogans = phrase_lines(
            [text.SLOGANS_LABEL + text.SLOGANS[0], *text.SLOGANS[1:]], "、",
            styles["body"], inner_width,
        )
        four_nos = phrase_lines(
            [text.FOUR_NOS_LABEL + text.FOUR_NOS[0], *text.FOUR_NOS[1:]], "、",
            styles["motto"], inner_width,
        )
        mottos = self.table(
            [[Paragraph(slogans, styles["body"])], [Paragraph(four_nos, styles["motto"])]],
            [width],
            [("BOX", (0, 0), (-1, -1), 0.8, GREY_LINE), ("TOPPADDING", (0, 0), (-1, 0), 4)],
        )
        if self.sheet.is_roll:  # number above its label: the cells are narrow
            hotline_cells = [
                [self.para(number, "number"), self.para(label, "number_label")]
                for number, label in text.HOTLINES
            ]
        else:
            label_size = styles["number_label"].fontSize
            hotline_cells = [
                Paragraph(f'{number} <font size="{label_size}">{label}</font>', styles["number"])
                for number, label in text.HOTLINES
            ]
        hotlines = self.table(
            [[self.para(text.HOTLINES_LEAD, "body"), ""], hotline_cells],
            [width / 2, width / 2],
            [
                ("SPAN", (0, 0), (-1, 0)),
                ("BOX", (0, 0), (-1, -1), 1.2, GREY_LINE),
                ("LINEBEFORE", (1, 1), (1, 1), 0.6, GREY_LINE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ],
        )
        return [Spacer(1, 5), mottos, Spacer(1, 5), hotlines, Spacer(1, 4)]

    def signature(self):
        sign, date = text.SIGNATURE_LABEL, text.DATE_LABEL  # plain strings, as above
        width, body_size = self.sheet.frame_width, self.styles["body"].fontSize
        label_width = body_size * 5.5  # five characters and a little air
        commands = [
            ("FONTSIZE", (0, 0), (-1, -1), body_size),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ]
        if self.sheet.is_roll:  # a blank line each, one under the other
            signature = self.table(
                [[sign, ""], [date, ""]],
                [label_width, width - label_width],
                [*commands, ("LINEBELOW", (1, 0), (1, -1), 0.8, GREY_LINE)],
                rowHeights=[9 * mm, 9 * mm],
            )
        else:
            date_label_width, date_width, gap = body_size * 3.5, 32 * mm, 6 * mm
            sign_width = width - label_width - gap - date_label_width - date_width
            signature = self.table(
                [[sign, "", "", date, ""]],
                [label_width, sign_width, gap, date_label_width, date_width],
                [
                    *commands,
                    ("LINEBELOW", (1, 0), (1, 0), 0.8, GREY_LINE),
                    ("LINEBELOW", (4, 0), (4, 0), 0.8, GREY_LINE),
                ],
                rowHeights=[10 * mm],
            )
        teller = clip(text.as_text(self.content.teller_id), SHORT_LIMIT)
        return [
            self.para(text.WARNED_SENTENCE, "body"),
            signature,
            Spacer(1, 4),
            self.para(text.TELLER_LABEL + text.or_dash(teller), "small"),
        ]
