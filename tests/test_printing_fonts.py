"""Font discovery, embedding, and the non-embedded fallback."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess

import pypdf
import pytest

from teller_guard.printing import build_police_alert, build_slip, fonts
from teller_guard.printing.samples import sample_alert, sample_slip

WQY = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture
def embedded_font():
    """The process's font; it must be embeddable when CI says so."""
    status = fonts.font_status()
    if not status.embedded:
        if os.environ.get("TELLER_GUARD_REQUIRE_FONT") == "1":
            pytest.fail(f"no embeddable CJK font found: {status.problems}")
        pytest.skip(
            "no embeddable CJK font on this machine (install fonts-wqy-microhei, "
            "or set TELLER_GUARD_PDF_FONT); CI sets TELLER_GUARD_REQUIRE_FONT=1 to fail instead"
        )
    return status


def _fonts_in(pdf: bytes) -> list:
    found = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if font["/Subtype"] == "/Type0":
                font = font["/DescendantFonts"][0].get_object()
            found.append(font)
    return found


@pytest.mark.parametrize("build", ["a5", "a4", "roll80", "alert"])
def test_every_font_is_embedded(embedded_font, build, tmp_path):
    if build == "alert":
        pdf = build_police_alert(sample_alert())
    else:
        pdf = build_slip(sample_slip(), paper=build)
    pdf_fonts = _fonts_in(pdf)
    assert pdf_fonts
    for font in pdf_fonts:
        assert "/FontFile2" in font["/FontDescriptor"], font["/BaseFont"]
    if shutil.which("pdffonts"):
        path = tmp_path / "doc.pdf"
        path.write_bytes(pdf)
        listing = subprocess.run(
            ["pdffonts", str(path)], capture_output=True, text=True, check=True
        ).stdout
        rows = listing.splitlines()[2:]
        assert rows
        for row in rows:  # columns: name type encoding emb sub uni object ID
            assert re.search(r"\s(yes)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", row), row


def test_status_of_the_embedded_font(embedded_font):
    assert embedded_font.path and os.path.isfile(embedded_font.path)
    assert embedded_font.warning_zh is None
    assert fonts.setup_font() is embedded_font  # registered once per process


def test_cff_opentype_is_rejected_with_a_clear_message(tmp_path):
    otf = tmp_path / "NotoSansCJK.otf"
    otf.write_bytes(b"OTTO" + b"\0" * 64)
    with pytest.raises(fonts.FontFileError, match=r"PostScript \(CFF\) outlines"):
        fonts.check_font_file(str(otf))
    collection = tmp_path / "NotoSansCJK.ttc"  # a collection whose first face is CFF
    collection.write_bytes(b"ttcf" + b"\0\1\0\0" + b"\0\0\0\1" + (16).to_bytes(4, "big") + b"OTTO")
    with pytest.raises(fonts.FontFileError, match="CFF"):
        fonts.check_font_file(str(collection))
    status = fonts.find_font(str(otf), search_paths=())
    assert not status.embedded
    assert any("CFF" in problem for problem in status.problems)


def test_not_a_font_and_missing_file(tmp_path):
    junk = tmp_path / "font.ttf"
    junk.write_bytes(b"hello world")
    with pytest.raises(fonts.FontFileError, match="not a TrueType"):
        fonts.check_font_file(str(junk))
    status = fonts.find_font(str(tmp_path / "nope.ttf"), search_paths=())
    assert "does not exist" in status.problems[0]


@pytest.mark.skipif(not os.path.isfile(DEJAVU), reason="fonts-dejavu-core not installed")
def test_font_without_chinese_is_skipped():
    status = fonts.find_font(DEJAVU, search_paths=())
    assert not status.embedded
    assert "lacks characters" in status.problems[0]


@pytest.mark.skipif(not os.path.isfile(WQY), reason="fonts-wqy-microhei not installed")
def test_configured_path_comes_first_then_the_search_list(tmp_path):
    status = fonts.find_font(WQY, search_paths=("/nonexistent.ttf",))
    assert (status.path, status.embedded, status.problems) == (WQY, True, ())
    otf = tmp_path / "bad.otf"
    otf.write_bytes(b"OTTO")
    status = fonts.find_font(str(otf), search_paths=("/nonexistent.ttf", WQY))
    assert status.path == WQY and len(status.problems) == 1


def test_default_search_paths_cover_windows_and_debian():
    paths = [os.path.basename(p) for p in fonts.default_search_paths()]
    assert paths == [
        "msyh.ttc", "msyh.ttf", "simhei.ttf", "simsun.ttc",
        "wqy-microhei.ttc", "wqy-zenhei.ttc", "uming.ttc",
    ]


@pytest.fixture
def fallback_font(monkeypatch):
    status = fonts.find_font(None, search_paths=())
    monkeypatch.setattr(fonts, "_active", status)
    return status


def test_fallback_font_is_reported_and_still_prints(fallback_font):
    assert fallback_font.name == "STSong-Light"
    assert not fallback_font.embedded
    assert fallback_font.warning_zh.startswith("未找到可嵌入的中文字体，提示单在部分电脑上可能无法显示中文")
    assert fonts.font_status() is fallback_font
    odd = "王𠀀龘彧😀<&>"
    for pdf in (
        build_slip(sample_slip(customer_name_masked=odd, warnings=[(odd, odd)])),
        build_slip(sample_slip(), paper="roll80"),
        build_police_alert(sample_alert(customer_name=odd, customer_statement=odd)),
    ):
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
        assert "风险提示单" in text or "警情通报单" in text
        assert all("/FontFile2" not in font.get("/FontDescriptor", {}) for font in _fonts_in(pdf))


def test_printable_replaces_what_the_font_cannot_draw(embedded_font, fallback_font):
    assert fonts.printable("a\x00b\x07c\r\nd\ud800", embedded_font) == "abc\nd"
    assert fonts.printable(None) == ""
    assert fonts.printable(12.5) == "12.5"
    glyphs = fonts.pdfmetrics.getFont(embedded_font.name).face.charToGlyph
    expected = "".join(ch if ord(ch) in glyphs else "□" for ch in "王𠀀龘彧😀")
    assert fonts.printable("王𠀀龘彧😀", embedded_font) == expected
    assert expected.endswith("□")  # no CJK font has emoji
    assert fonts.printable("王𠀀龘彧😀", fallback_font) == "王□龘彧□"
