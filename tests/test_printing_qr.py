"""The fast QR code: merged rectangles must draw exactly segno's module matrix."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
import segno
from reportlab.pdfgen.canvas import Canvas

from teller_guard.printing import qr


def _paint(rectangles, size):
    grid = [[False] * size for _ in range(size)]
    for column, top, width, height in rectangles:
        for row in range(top, top + height):
            for col in range(column, column + width):
                assert not grid[row][col], "rectangles overlap"
                grid[row][col] = True
    return grid


SLIP_PAYLOAD = "TG20261130-000001 反诈专线96110"  # what the slip's code says


@pytest.mark.parametrize("text", ["TG-20261130-000123", "A", "x" * 120, "编号-风险提示单", SLIP_PAYLOAD])
def test_rectangles_cover_exactly_the_dark_modules(text):
    matrix = qr.qr_matrix(text)
    rectangles = qr.qr_rectangles(matrix)
    assert _paint(rectangles, len(matrix)) == [list(row) for row in matrix]
    dark_runs = sum(len(qr._row_runs(row)) for row in matrix)
    assert len(rectangles) < dark_runs  # vertical merging pays off


def test_matrix_is_segnos_and_cached():
    text = "TG-20260101-000001"
    expected = segno.make_qr(text, error="m", boost_error=False).matrix
    assert qr.qr_matrix(text) == tuple(tuple(bool(m) for m in row) for row in expected)
    assert qr.qr_operators(text) is qr.qr_operators(text)


def test_empty_text_still_draws_something():
    assert qr.qr_matrix("")


def test_slip_payload_is_utf8_and_small_enough_to_scan_from_paper():
    """The Chinese hotline text is stored as UTF-8 bytes (what phone scanners read), and the
    symbol stays small: modules of at least 0.5 mm on every paper."""
    from teller_guard.printing.slip import PAPER_SIZES

    code = segno.make_qr(SLIP_PAYLOAD, error="m", boost_error=False)
    assert code.mode == "byte"
    assert code.version <= 3
    modules = len(qr.qr_matrix(SLIP_PAYLOAD)) + 2 * qr.QUIET_ZONE
    for paper in PAPER_SIZES.values():
        assert paper.qr_size / modules >= 0.5 * 72 / 25.4, paper


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) not installed")
@pytest.mark.parametrize("text", ["TG-20261130-000123", SLIP_PAYLOAD])
def test_drawn_code_matches_the_matrix_pixel_for_pixel(tmp_path, text):
    """Render the flowable and sample each module centre: catches flipped or shifted output."""
    pil_image = pytest.importorskip("PIL.Image")
    modules = len(qr.qr_matrix(text)) + 2 * qr.QUIET_ZONE
    module_pt = 10
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(modules * module_pt, modules * module_pt))
    flowable = qr.QrCode(text, modules * module_pt)
    flowable.wrapOn(canvas, 1000, 1000)
    flowable.drawOn(canvas, 0, 0)
    canvas.save()
    (tmp_path / "qr.pdf").write_bytes(buffer.getvalue())
    subprocess.run(
        ["pdftoppm", "-png", "-r", "72", "-singlefile", str(tmp_path / "qr.pdf"),
         str(tmp_path / "qr")],
        check=True,
    )
    image = pil_image.open(tmp_path / "qr.png").convert("L")
    matrix = qr.qr_matrix(text)
    for row_index, row in enumerate(matrix):
        for col_index, dark in enumerate(row):
            x = (col_index + qr.QUIET_ZONE + 0.5) * module_pt
            y = (row_index + qr.QUIET_ZONE + 0.5) * module_pt
            assert (image.getpixel((int(x), int(y))) < 128) == dark, (row_index, col_index)
    assert image.getpixel((2, 2)) > 128  # quiet zone stays white
