"""Building blocks shared by the slip and the police alert."""

from __future__ import annotations

import functools
import io
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib import textsplit as _rl_textsplit
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table
from reportlab.platypus import paragraph as _rl_paragraph

from . import subsets
from .content import PAGE_NUMBER
from .fonts import FontStatus, printable

GREY_LINE = colors.Color(0.45, 0.45, 0.45)
LIGHT_FILL = colors.Color(0.92, 0.92, 0.92)

# reportlab's CJK line breaking keeps Japanese punctuation off the start of a line but not
# these Chinese full-width marks; without them a line can begin with "，" or "：". The list
# is read from two modules (single- and multi-fragment paragraphs).
_CHINESE_CANNOT_START = "，；：？！》”’…·"
for _module in (_rl_textsplit, _rl_paragraph):
    _module.ALL_CANNOT_START += "".join(
        mark for mark in _CHINESE_CANNOT_START if mark not in _module.ALL_CANNOT_START
    )

# ASCII85 stream encoding (reportlab's default) only helps 7-bit channels; binary streams
# are 20% smaller and skip a pure-Python encoder (about 0.5 ms a slip). Process-wide, but
# nothing else in the application uses reportlab.
rl_config.useA85 = 0

# PDF viewers refuse pages taller than 200 inches; a roll slip never gets near this.
MAX_PAGE_HEIGHT = 14400


def clip(text: str, limit: int) -> str:
    """Shorten absurdly long values so one field cannot eat the page."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markup(text, font: FontStatus, limit: int | None = None) -> str:
    """Plain text -> Paragraph markup: drawable glyphs, escaped <&>, line breaks kept."""
    text = printable(text, font)
    if limit:
        text = clip(text, limit)
    return escape(text).replace("\n", "<br/>")


def phrase_lines(phrases, separator: str, paragraph_style: ParagraphStyle, width: float) -> str:
    """Markup that breaks lines only between phrases ("陌生电话不接、" stays whole).

    The phrases are our own constants, so they need no escaping.
    """
    lines, current = [], ""
    font_name, size = paragraph_style.fontName, paragraph_style.fontSize
    pieces = [phrase + separator for phrase in phrases[:-1]] + list(phrases[-1:])
    for piece in pieces:
        candidate = current + piece
        if current and stringWidth(candidate, font_name, size) > width:
            lines.append(current)
            candidate = piece
        current = candidate
    lines.append(current)
    return "<br/>".join(lines)


def style(font: FontStatus, name: str, size: float, **options) -> ParagraphStyle:
    """A paragraph style in the CJK font; CJK wrapping breaks lines between any characters."""
    options.setdefault("leading", round(size * 1.3, 1))
    return ParagraphStyle(name, fontName=font.name, fontSize=size, wordWrap="CJK", **options)


def para(text, paragraph_style: ParagraphStyle, font: FontStatus, limit=None) -> Paragraph:
    return Paragraph(markup(text, font, limit), paragraph_style)


class OnceWrappedParagraph(Paragraph):
    """A paragraph that breaks its lines once per width.

    The slip is wrapped once to measure it, then by the frame, and tables wrap their cells
    again when they draw them: each time at the same width, so into the same lines (CJK line
    breaking is most of the cost of a slip). A paragraph that is split gets new paragraphs.
    """

    _wrapped_at = None

    def wrap(self, availWidth, availHeight):
        if self._wrapped_at == availWidth:
            return self.width, self.height
        self._wrapped_at = None
        size = super().wrap(availWidth, availHeight)
        self._wrapped_at = availWidth
        return size


class OnceWrappedTable(Table):
    """A table sized once per width, for the same reason as ``OnceWrappedParagraph``. Only for
    tables that are not split: their row heights do not depend on the height available."""

    _wrapped_at = None

    def wrap(self, availWidth, availHeight):
        if self._wrapped_at == availWidth:
            return self._width, self._height
        self._wrapped_at = None
        size = super().wrap(availWidth, availHeight)
        self._wrapped_at = availWidth
        return size


def table(rows, col_widths, commands, font: FontStatus, once: bool = False, **options) -> Table:
    """A table whose rows may split across pages, so a huge cell cannot raise LayoutError.

    Cells default to Helvetica, which would show up unembedded in ``pdffonts`` even when
    every visible character uses the CJK font. ``once``: sized once per width (see
    ``OnceWrappedParagraph``).
    """
    commands = [("FONTNAME", (0, 0), (-1, -1), font.name), *commands]
    kind = OnceWrappedTable if once else Table
    return kind(rows, colWidths=col_widths, style=commands, splitInRow=1, **options)


class _PageNumberCanvas(Canvas):
    """Holds pages back until the end to print "第 n 页 / 共 N 页" when N > 1.

    It also primes the embedded font, so that its first subsets are the cached ones.
    """

    def __init__(self, *args, font: FontStatus, page_number_xy, **kwargs):
        super().__init__(*args, **kwargs)
        self._page_number_font = font.name
        self._page_number_xy = page_number_xy
        self._pages: list[dict] = []
        if font.embedded:
            subsets.prime(self, pdfmetrics.getFont(font.name))

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            if total > 1:
                self.setFont(self._page_number_font, 9)
                self.setFillColor(colors.black)
                x, y = self._page_number_xy
                self.drawRightString(x, y, PAGE_NUMBER.format(number=number, total=total))
            super().showPage()
        super().save()


def build_pdf(
    story,
    *,
    font: FontStatus,
    page_size: tuple[float, float],
    margins: tuple[float, float, float, float],  # top, right, bottom, left
    title: str,
    invariant: bool,
    on_page=None,
    page_number_y: float = 14,
) -> bytes:
    """Lay out ``story`` on identical pages and return the PDF bytes."""
    top, right, bottom, left = margins
    width, height = page_size
    frame = Frame(
        left, bottom, width - left - right, height - top - bottom,
        leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="body",
    )
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=page_size,
        pageTemplates=[PageTemplate("page", [frame], onPage=on_page or _no_decoration)],
        title=title,
        author="",
        creator="teller_guard",
        invariant=1 if invariant else 0,
        # Default is Helvetica, which would appear unembedded in pdffonts.
        initialFontName=font.name,
        lang="zh-CN",
    )
    doc.build(
        story,
        canvasmaker=functools.partial(
            _PageNumberCanvas,
            font=font,
            page_number_xy=(width - right, page_number_y),
        ),
    )
    return buffer.getvalue()


def _no_decoration(canvas, doc):
    pass
