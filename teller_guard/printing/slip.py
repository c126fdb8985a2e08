"""The customer's warning slip (风险提示单): A5 or A4 sheet, or 80 mm receipt roll.

Large type for older readers; the scam the customer may be in comes first (the primary
typology in full, the others by name under 也可能是), then the slogans, the hotlines, and the
signatures of customer, teller and supervisor beside a box for the branch's stamp. A stopped
transfer gets what to do next instead of a confirmation of the customer's own wish. A sheet
is always one page (``fit.py``); a roll is as long as its content. Personal data arrives masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from . import content as text
from .content import SlipContent
from .fit import FITS, Fit, SlipTexts, shorten
from .fonts import FontStatus, font_status
from .layout import (
    GREY_LINE,
    MAX_PAGE_HEIGHT,
    OnceWrappedParagraph,
    build_pdf,
    markup,
    phrase_lines,
    style,
    table,
)
from .qr import QrCode

PAPERS = ("a5", "a4", "roll80")

# Room left on a sheet after measuring: the frame's own rounding, never a second page.
FIT_SLACK = 2


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
    stamp_width: float  # the box for the branch's business stamp (业务章)

    @property
    def is_roll(self) -> bool:
        return self.height is None

    @property
    def frame_width(self) -> float:
        return self.width - self.margins[1] - self.margins[3]

    @property
    def frame_height(self) -> float:
        return (self.height or MAX_PAGE_HEIGHT) - self.margins[0] - self.margins[2]


PAPER_SIZES = {
    "a5": Paper(
        A5[0], A5[1], (9 * mm, 12 * mm, 10 * mm, 12 * mm),
        body=12, small=10, heading=13, title=22, hotline=18, qr_size=23 * mm,
        stamp_width=32 * mm,
    ),
    "a4": Paper(
        A4[0], A4[1], (14 * mm, 18 * mm, 14 * mm, 18 * mm),
        body=15, small=12, heading=16, title=28, hotline=22, qr_size=30 * mm,
        stamp_width=42 * mm,
    ),
    "roll80": Paper(
        80 * mm, None, (4 * mm, 4 * mm, 6 * mm, 4 * mm),
        body=10, small=9, heading=11, title=17, hotline=15, qr_size=24 * mm,
        stamp_width=40 * mm,
    ),
}


def make_qr_flowable(payload: str, size: float) -> Flowable:
    """The slip's QR code (a module-level hook so the benchmark can swap it)."""
    return QrCode(payload, size)


def build_slip(content: SlipContent, paper: str = "a5", invariant: bool = False) -> bytes:
    """The warning slip as PDF bytes.

    ``paper`` is "a5" or "a4" (portrait sheet, always one page) or "roll80" (80 mm receipt
    roll: one page exactly as long as the content). ``invariant=True`` makes the bytes
    reproducible (tests).
    """
    sheet = _sheet(paper)
    font = font_status()
    story = slip_story(content, paper, font)[1]
    height = sheet.height or _story_height(story, sheet) + sheet.margins[0] + sheet.margins[2] + 4
    return build_pdf(
        story,
        font=font,
        page_size=(sheet.width, min(height, MAX_PAGE_HEIGHT)),
        margins=sheet.margins,
        title=text.SLIP_TITLE,
        invariant=invariant,
        page_number_y=sheet.margins[2] / 2,
    )


def slip_story(content: SlipContent, paper: str = "a5",
               font: FontStatus | None = None) -> tuple[Fit, list[Flowable]]:
    """The first step of ``FITS`` whose layout fits the sheet, and that layout.

    A roll takes the first step: it grows with its content. Should even the last step not fit
    (the tests find no such slip), its layout is used and flows onto a numbered second page.
    """
    sheet, font = _sheet(paper), font or font_status()
    measured = chosen = story = None
    for fit in FITS:
        texts = shorten(content, fit)
        if (texts, fit.leading, fit.gap, fit.scale) == measured:
            continue  # this step shortens nothing this slip has: it would not fit either
        measured = (texts, fit.leading, fit.gap, fit.scale)
        chosen = fit
        story = _SlipStory(content, texts, sheet, font, fit, _styles(paper, font, fit)).flowables()
        if sheet.is_roll or _story_height(story, sheet) <= sheet.frame_height - FIT_SLACK:
            break
    return chosen, story


def _sheet(paper: str) -> Paper:
    if paper not in PAPER_SIZES:
        raise ValueError(f"paper must be one of {PAPERS}, not {paper!r}")
    return PAPER_SIZES[paper]


def _story_height(story, sheet: Paper) -> float:
    """Height the story takes in the frame, measured with Platypus ``wrap``.

    Every space before/after is counted, although the frame drops some at the top: a few
    points too many, never too few. (Wrapping again in the frame gives the same heights.)
    """
    total = 0.0
    for flowable in story:
        _, height = flowable.wrap(sheet.frame_width, MAX_PAGE_HEIGHT)
        total += height + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return total


@lru_cache(maxsize=64)
def _styles(paper: str, font: FontStatus, fit: Fit) -> dict:
    sheet = PAPER_SIZES[paper]
    head = {"alignment": TA_CENTER} if sheet.is_roll else {}  # a receipt reads best centred

    def sized(name, size, **options):
        size = round(size * fit.scale, 1)
        options.setdefault("leading", round(size * fit.leading, 1))
        return style(font, name, size, **options)

    title, hotline = sheet.title * fit.scale, sheet.hotline * fit.scale
    return {
        "bank": sized("bank", sheet.body, **head),
        "title": sized("title", sheet.title, leading=round(title * 1.25, 1), **head),
        "meta": sized("meta", sheet.small, **head),
        "body": sized("body", sheet.body),
        "value": sized("value", sheet.body),
        "heading": sized("heading", sheet.heading, spaceBefore=5 * fit.gap, spaceAfter=1),
        "typology": sized("typology", sheet.heading, spaceBefore=2 * fit.gap),
        "warning": sized("warning", sheet.body),
        "motto": sized("motto", sheet.heading, alignment=TA_CENTER),
        "number": sized("number", sheet.hotline, leading=round(hotline * 1.2, 1),
                        alignment=TA_CENTER),
        "number_label": sized("number_label", sheet.small, alignment=TA_CENTER),
        "small": sized("small", sheet.small),
        "stamp": sized("stamp", sheet.small, alignment=TA_CENTER, textColor=GREY_LINE),
    }


@dataclass
class _SlipStory:
    """Turns one SlipContent into flowables for one paper size and one step of ``FITS``."""

    content: SlipContent
    texts: SlipTexts
    sheet: Paper
    font: FontStatus
    fit: Fit
    styles: dict

    def flowables(self) -> list[Flowable]:
        return [
            *self.header(),
            *self.summary(),
            *self.warnings(),
            *self.next_steps(),
            *self.advice(),
            *self.signature(),
        ]

    def para(self, value, style_name: str) -> OnceWrappedParagraph:
        return OnceWrappedParagraph(markup(value, self.font), self.styles[style_name])

    def table(self, rows, col_widths, commands, **options):
        # A sheet's story is not split (it fits); a roll's is one page as long as it is.
        return table(rows, col_widths, commands, self.font, once=True, **options)

    def space(self, points: float) -> Spacer:
        return Spacer(1, points * self.fit.gap)

    def header(self):
        texts, sheet = self.texts, self.sheet
        lines = [
            self.para(texts.bank_line, "bank"),
            self.para(text.SLIP_TITLE, "title"),
            self.para(text.PRINTED_AT_LABEL + text.format_datetime(self.content.printed_at),
                      "meta"),
            self.para(text.REFERENCE_LABEL + text.or_dash(texts.reference), "meta"),
        ]
        qr = make_qr_flowable(text.qr_payload(texts.reference), sheet.qr_size)
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
        return [header, self.space(6)]

    def summary(self):
        texts = self.texts
        small = self.styles["small"].fontSize
        # Labels are our own short constants: plain strings are drawn without paragraph
        # parsing and wrapping (about 0.1 ms each).
        pairs = [(label, self.para(value, "value")) for label, value in texts.summary]
        (amount_label, figures), capitals = texts.summary[0], texts.amount_capitals
        # The figures and the amount in capitals, as on a bank voucher: one cell, wrapping.
        amount = self.para(f"{figures}　{capitals}" if capitals else figures, "value")
        width, label_width = self.sheet.frame_width, small * 4.8
        if self.sheet.is_roll:  # one pair a row on the narrow roll
            rows = [[amount_label, amount], *(list(pair) for pair in pairs[1:])]
            col_widths = [label_width, width - label_width]
            spans = []
        else:  # the amount across the sheet, then two pairs a row
            others = pairs[1:]
            rows = [[amount_label, amount, "", ""]] + [
                [*others[i], *(others[i + 1] if i + 1 < len(others) else ("", ""))]
                for i in range(0, len(others), 2)
            ]
            # the account number (left) needs more room than the name or the level
            account_width = (width - 2 * label_width) * 0.58
            col_widths = [label_width, account_width, label_width,
                          width - 2 * label_width - account_width]
            spans = [("SPAN", (1, 0), (-1, 0))]
        summary = self.table(
            rows,
            col_widths,
            [
                ("GRID", (0, 0), (-1, -1), 0.6, GREY_LINE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTSIZE", (0, 0), (-1, -1), small),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 3 * self.fit.gap),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * self.fit.gap),
                *spans,
            ],
        )
        return [self.para(texts.greeting, "body"), self.space(3), summary]

    def warnings(self):
        texts = self.texts
        (name, warning), story = texts.primary, [self.para(texts.heading, "heading")]
        if name:
            story.append(self.para(f"【{name}】", "typology"))
        if warning:
            story.append(self.para(warning, "warning"))
        if texts.others:
            story.append(self.para(text.ALSO_POSSIBLE_LABEL + "、".join(texts.others), "body"))
        return story

    def next_steps(self):
        """On a stopped transfer: what the customer does now, numbered, in a box."""
        if not self.content.stopped:
            return []
        steps = "<br/>".join(f"{number}. {step}"
                             for number, step in enumerate(text.STOPPED_STEPS, start=1))
        box = self.table(
            [[self.para(text.STOPPED_HEADING, "typology")],
             [OnceWrappedParagraph(steps, self.styles["body"])]],
            [self.sheet.frame_width],
            [
                ("BOX", (0, 0), (-1, -1), 1.2, GREY_LINE),
                ("TOPPADDING", (0, 0), (-1, -1), 3 * self.fit.gap),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * self.fit.gap),
            ],
        )
        return [self.space(5), box]

    def advice(self):
        width, styles, gap = self.sheet.frame_width, self.styles, self.fit.gap
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
        padding = [("TOPPADDING", (0, 0), (-1, -1), 3 * gap),
                   ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * gap)]
        mottos = self.table(
            [[OnceWrappedParagraph(slogans, styles["body"])],
             [OnceWrappedParagraph(four_nos, styles["motto"])]],
            [width],
            [("BOX", (0, 0), (-1, -1), 0.8, GREY_LINE), *padding],
        )
        if self.sheet.is_roll:  # number above its label: the cells are narrow
            hotline_cells = [
                [self.para(number, "number"), self.para(label, "number_label")]
                for number, label in text.HOTLINES
            ]
        else:
            label_size = styles["number_label"].fontSize
            hotline_cells = [
                OnceWrappedParagraph(f'{number} <font size="{label_size}">{label}</font>',
                                     styles["number"])
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
                *padding,
            ],
        )
        return [self.space(5), mottos, self.space(5), hotlines, self.space(4)]

    def signature(self):
        """Customer, teller and supervisor sign; the branch stamps the box beside them."""
        width, body_size = self.sheet.frame_width, self.styles["body"].fontSize
        teller = self.para(self.texts.teller, "body")  # a staff number may wrap
        label_width, date_label_width = body_size * 5.4, body_size * 3.2
        stamp_width, row_height = self.sheet.stamp_width, body_size * 2.2 * max(self.fit.gap, 0.8)
        stamp_label = self.para(f"（{text.STAMP_LABEL}）", "stamp")
        # Labels are plain strings, as above; the lines to sign on are the cells' bottom borders.
        commands = [
            ("FONTSIZE", (0, 0), (-1, -1), body_size),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ]
        if self.sheet.is_roll:  # a line each, one under the other, the stamp box below
            rows = [
                [text.SIGNATURE_LABEL, ""],
                [text.DATE_LABEL, ""],
                [text.TELLER_LABEL, teller],
                [text.SUPERVISOR_SIGNATURE_LABEL, ""],
            ]
            signature = self.table(
                rows, [label_width, width - label_width],
                [*commands, _line((1, 0), (1, -1))],
                minRowHeights=[row_height] * len(rows),
            )
            stamp = self.table(
                [[stamp_label]], [stamp_width], _stamp_box((0, 0), (0, 0)),
                rowHeights=[stamp_width * 0.7], hAlign="CENTER",
            )
            parts = [signature, Spacer(1, 3 * mm), stamp]
        else:
            gap, date_width = 3 * mm, body_size * 6.2
            line_width = width - label_width - date_label_width - date_width - gap - stamp_width
            rows = [
                [text.SIGNATURE_LABEL, "", text.DATE_LABEL, "", "", stamp_label],
                [text.TELLER_LABEL, teller, "", "", "", ""],
                [text.SUPERVISOR_SIGNATURE_LABEL, "", text.DATE_LABEL, "", "", ""],
            ]
            signature = self.table(
                rows,
                [label_width, line_width, date_label_width, date_width, gap, stamp_width],
                [
                    *commands,
                    ("SPAN", (1, 1), (3, 1)),  # the teller's number and a line to sign on
                    _line((1, 0), (1, 0)), _line((3, 0), (3, 0)),
                    _line((1, 1), (3, 1)),
                    _line((1, 2), (1, 2)), _line((3, 2), (3, 2)),
                    ("SPAN", (5, 0), (5, -1)),
                    *_stamp_box((5, 0), (5, -1)),
                ],
                minRowHeights=[row_height] * len(rows),
            )
            parts = [signature]
        return [self.para(text.slip_closing(self.content), "body"), *parts]


def _line(start, end):
    """A line to sign or write the date on: the bottom border of the cells."""
    return ("LINEBELOW", start, end, 0.8, GREY_LINE)


def _stamp_box(start, end):
    """The box for the branch's stamp; its label at the foot leaves the room above free."""
    return [
        ("BOX", start, end, 0.8, GREY_LINE),
        ("VALIGN", start, end, "BOTTOM"),
        ("BOTTOMPADDING", start, end, 3),
    ]
