"""A QR code of the slip's reference number, drawn as one filled PDF path.

reportlab's ``QrCodeWidget`` encodes in pure Python and draws every dark module as its own
shape (about 16 ms a slip). Here segno computes the module matrix, the dark modules are
merged into rectangles (horizontal runs, stacked when identical on consecutive rows) and the
resulting PDF operators are cached per reference string.
"""

from __future__ import annotations

from functools import lru_cache

import segno
from reportlab.platypus import Flowable

#: White border around the symbol, in modules; the QR standard asks for 4.
QUIET_ZONE = 4


@lru_cache(maxsize=1024)
def qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """Rows of dark (True) / light modules, top row first, without the quiet zone."""
    code = segno.make_qr(text or " ", error="m", boost_error=False)
    return tuple(tuple(bool(module) for module in row) for row in code.matrix)


def _row_runs(row: tuple[bool, ...]) -> list[tuple[int, int]]:
    """(start column, length) of each run of dark modules."""
    runs, start = [], None
    for column, dark in enumerate(row + (False,)):
        if dark and start is None:
            start = column
        elif not dark and start is not None:
            runs.append((start, column - start))
            start = None
    return runs


def qr_rectangles(matrix) -> list[tuple[int, int, int, int]]:
    """Dark areas as (column, row, width, height), rows counted from the top.

    A run identical to one on the row above extends that rectangle downwards, which
    roughly halves the number of rectangles compared with one per run.
    """
    finished: list[tuple[int, int, int, int]] = []
    open_rects: dict[tuple[int, int], tuple[int, int]] = {}  # (col, width) -> (top, height)
    for row_index, row in enumerate(matrix):
        runs = set(_row_runs(row))
        for key in list(open_rects):
            if key not in runs:  # the run stopped: this rectangle is complete
                top, height = open_rects.pop(key)
                finished.append((key[0], top, key[1], height))
        for key in runs:
            if key in open_rects:
                top, height = open_rects[key]
                open_rects[key] = (top, height + 1)
            else:
                open_rects[key] = (row_index, 1)
    finished.extend((col, top, width, height) for (col, width), (top, height) in open_rects.items())
    return sorted(finished, key=lambda rect: (rect[1], rect[0]))  # stable output for invariant PDFs


@lru_cache(maxsize=1024)
def qr_operators(text: str) -> tuple[str, int]:
    """PDF operators that fill the dark modules, in module units, and the symbol's size.

    Integer coordinates, origin at the bottom-left corner of the quiet zone. Writing the
    operators directly avoids reportlab formatting ~400 numbers per code in pure Python.
    """
    matrix = qr_matrix(text)
    size = len(matrix) + 2 * QUIET_ZONE
    rectangles = []
    for column, top, width, height in qr_rectangles(matrix):
        bottom = size - QUIET_ZONE - top - height  # PDF y grows upwards
        rectangles.append(f"{column + QUIET_ZONE} {bottom} {width} {height} re")
    return "\n".join(rectangles) + "\nf", size


class QrCode(Flowable):
    """A square QR code of ``text``, ``size`` points wide including the quiet zone."""

    def __init__(self, text: str, size: float):
        super().__init__()
        self.text = text
        self.size = size
        self.width = self.height = size

    def wrap(self, available_width, available_height):
        return self.size, self.size

    def draw(self):
        operators, modules = qr_operators(self.text)
        canvas = self.canv
        canvas.saveState()
        canvas.scale(self.size / modules, self.size / modules)
        canvas.setFillColorRGB(0, 0, 0)
        canvas.addLiteral(operators)
        canvas.restoreState()
