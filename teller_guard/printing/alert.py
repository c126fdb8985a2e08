"""The police alert (警情通报单): A4, facts first, personal data in full as recorded."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer

from . import content as text
from .content import AlertContent
from .fonts import FontStatus, font_status, printable
from .layout import GREY_LINE, LIGHT_FILL, build_pdf, clip, para, style, table

MARGINS = (12 * mm, 18 * mm, 20 * mm, 18 * mm)  # top, right, bottom, left
FRAME_WIDTH = A4[0] - MARGINS[1] - MARGINS[3]
FOOTER_Y = 9 * mm
LABEL_WIDTH = 22 * mm


def build_police_alert(content: AlertContent, invariant: bool = False) -> bytes:
    """The police alert as PDF bytes: A4, numbered pages when it runs longer than one."""
    font = font_status()
    story = _AlertStory(content, font, _styles(font)).flowables()
    # The reference on every page ties a loose second sheet to its case.
    footer = printable(
        f"{text.REFERENCE_LABEL}{text.or_dash(clip(text.as_text(content.reference), 40))}　"
        f"{text.PRINTED_BY_LABEL}{text.or_dash(clip(text.as_text(content.printed_by), 40))}　"
        f"{text.PRINTED_AT_LABEL}{text.format_datetime(content.printed_at)}",
        font,
    )

    def draw_footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font.name, 9)
        canvas.drawString(MARGINS[3], FOOTER_Y + 11, footer)
        canvas.drawString(MARGINS[3], FOOTER_Y, text.ALERT_PRIVACY_NOTE)
        canvas.restoreState()

    return build_pdf(
        story,
        font=font,
        page_size=A4,
        margins=MARGINS,
        title=text.ALERT_TITLE,
        invariant=invariant,
        on_page=draw_footer,
        page_number_y=FOOTER_Y,
    )


@lru_cache(maxsize=4)
def _styles(font: FontStatus) -> dict:
    return {
        "bank": style(font, "bank", 12, alignment=TA_CENTER),
        "title": style(font, "title", 22, leading=28, alignment=TA_CENTER),
        "meta": style(font, "meta", 10, alignment=TA_CENTER),
        "headline": style(font, "headline", 12.5),
        "heading": style(font, "heading", 13, spaceBefore=6, spaceAfter=3, keepWithNext=1),
        "label": style(font, "label", 10),
        "cell": style(font, "cell", 10.5),
        "body": style(font, "body", 10.5, spaceAfter=2),
        "empty": style(font, "empty", 10.5, textColor=GREY_LINE),
    }


@dataclass
class _AlertStory:
    """Turns one AlertContent into flowables."""

    content: AlertContent
    font: FontStatus
    styles: dict

    def flowables(self) -> list[Flowable]:
        content, sections = self.content, text.ALERT_SECTIONS
        return [
            *self.header(),
            *self.section(sections["case"], self.facts(text.alert_case_rows(content))),
            *self.section(sections["customer"], self.facts(text.alert_customer_rows(content))),
            *self.section(sections["transfer"], self.facts(text.alert_transfer_rows(content))),
            *self.section(sections["risk"], self.risk()),
            *self.section(sections["answers"], self.answers()),
            *self.section(sections["observations"], self.numbered(content.observations)),
            *self.section(sections["statement"], self.statement()),
            # The last section and the signatures move to a new page together.
            KeepTogether(
                [
                    *self.section(sections["actions"], self.numbered(content.actions_taken)),
                    Spacer(1, 8),
                    self.sign_off(),
                ]
            ),
        ]

    def para(self, value, style_name: str) -> Paragraph:
        return para(value, self.styles[style_name], self.font)

    def table(self, rows, col_widths, commands, **options):
        return table(rows, col_widths, commands, self.font, **options)

    def header(self):
        content = self.content
        bank_line = f"{text.as_text(content.bank_name)} {text.as_text(content.branch_name)}"
        headline = self.table(
            [[self.para(text.alert_headline(content), "headline")]],
            [FRAME_WIDTH],
            [
                ("BOX", (0, 0), (-1, -1), 1.2, GREY_LINE),
                ("BACKGROUND", (0, 0), (-1, -1), LIGHT_FILL),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ],
        )
        return [
            self.para(bank_line.strip(), "bank"),
            self.para(text.ALERT_TITLE, "title"),
            self.para(
                f"{text.REFERENCE_LABEL}{text.or_dash(content.reference)}　　"
                f"{text.OCCURRED_AT_LABEL}{text.format_datetime(content.occurred_at)}",
                "meta",
            ),
            Spacer(1, 6),
            headline,
        ]

    def section(self, heading: str, flowables: list[Flowable]) -> list[Flowable]:
        return [self.para(heading, "heading"), *flowables]

    def facts(self, rows):
        """Label/value pairs, two pairs a row."""
        cells = [(self.para(label, "label"), self.para(value, "cell")) for label, value in rows]
        grid = [
            [*cells[i], *(cells[i + 1] if i + 1 < len(cells) else ("", ""))]
            for i in range(0, len(cells), 2)
        ]
        value_width = (FRAME_WIDTH - 2 * LABEL_WIDTH) / 2
        return [
            self.table(grid, [LABEL_WIDTH, value_width] * 2, _grid_style(label_columns=(0, 2)))
        ]

    def risk(self):
        level, score, kinds = text.alert_risk_rows(self.content)
        reasons = [
            self.para(f"{number}. {reason}", "cell")
            for number, reason in enumerate(text.non_empty(self.content.reasons), 1)
        ]
        rows = [
            [self.para(level[0], "label"), self.para(level[1], "cell"),
             self.para(score[0], "label"), self.para(score[1], "cell")],
            [self.para(kinds[0], "label"), self.para(kinds[1], "cell"), "", ""],
            [self.para(text.ALERT_REASONS_LABEL, "label"), reasons or self.empty(), "", ""],
        ]
        commands = [
            *_grid_style(label_columns=(0,)),
            ("BACKGROUND", (2, 0), (2, 0), LIGHT_FILL),
            ("SPAN", (1, 1), (3, 1)),
            ("SPAN", (1, 2), (3, 2)),
        ]
        value_width = (FRAME_WIDTH - 2 * LABEL_WIDTH) / 2
        return [self.table(rows, [LABEL_WIDTH, value_width] * 2, commands)]

    def answers(self):
        answers = [(q, a) for q, a in self.content.answers if (q or a)]
        if not answers:
            return [self.empty()]
        rows = [[self.para(heading, "label") for heading in text.ALERT_ANSWER_COLUMNS]]
        rows += [
            [self.para(str(number), "cell"), self.para(question, "cell"),
             self.para(answer or text.EMPTY_VALUE, "cell")]
            for number, (question, answer) in enumerate(answers, 1)
        ]
        text_width = FRAME_WIDTH - 12 * mm
        commands = [*_grid_style(), ("BACKGROUND", (0, 0), (-1, 0), LIGHT_FILL)]
        return [
            self.table(rows, [12 * mm, text_width * 0.45, text_width * 0.55], commands,
                       repeatRows=1)
        ]

    def numbered(self, items):
        items = text.non_empty(items)
        if not items:
            return [self.empty()]
        return [self.para(f"{number}. {item}", "body") for number, item in enumerate(items, 1)]

    def statement(self):
        lines = [line for line in text.as_text(self.content.customer_statement).splitlines()
                 if line.strip()]
        # One paragraph per line: a very long statement splits cleanly across pages.
        return [self.para(line, "body") for line in lines] or [self.empty()]

    def sign_off(self):
        label_width, gap = 35 * mm, 8 * mm
        line_width = (FRAME_WIDTH - gap) / 2 - label_width
        return self.table(
            [[self.para(text.ALERT_SIGN_OFF[0], "cell"), "", "",
              self.para(text.ALERT_SIGN_OFF[1], "cell"), ""]],
            [label_width, line_width, gap, label_width, line_width],
            [
                ("LINEBELOW", (1, 0), (1, 0), 0.8, GREY_LINE),
                ("LINEBELOW", (4, 0), (4, 0), 0.8, GREY_LINE),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ],
            rowHeights=[10 * mm],
        )

    def empty(self):
        return self.para(text.NO_RECORD, "empty")


def _grid_style(label_columns=()):
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.6, GREY_LINE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    commands += [("BACKGROUND", (col, 0), (col, -1), LIGHT_FILL) for col in label_columns]
    return commands
