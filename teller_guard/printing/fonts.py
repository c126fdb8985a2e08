"""Find and register one Chinese font for all PDFs of this process.

reportlab can embed TrueType (glyf) fonts only, so we look for a ``.ttf``/``.ttc`` with
CJK glyphs: the configured path first, then the usual Windows fonts, then the Debian
packages. When none is found we fall back to reportlab's built-in ``STSong-Light``,
which needs no file but is NOT embedded: a PC without Chinese fonts prints boxes.
``font_status()`` tells the admin page which case we are in.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError

from .subsets import ReusableSubsetFont

log = logging.getLogger(__name__)

#: Environment variable read when no path is passed to ``setup_font``.
FONT_PATH_ENV = "TELLER_GUARD_PDF_FONT"

#: Prefix of the names under which embedded fonts are registered with reportlab.
EMBEDDED_FONT_NAME = "TellerGuardCJK"
FALLBACK_FONT_NAME = "STSong-Light"

#: Drawn instead of a character the font has no glyph for (emoji, rare CJK extension B).
REPLACEMENT_CHAR = "□"

NOT_EMBEDDED_WARNING_ZH = (
    "未找到可嵌入的中文字体，提示单在部分电脑上可能无法显示中文。"
    "请安装 fonts-wqy-microhei（Debian）或配置微软雅黑等 TrueType 字体文件路径。"
)


def _windows_fonts_dir() -> str:
    return os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts")


def default_search_paths() -> tuple[str, ...]:
    """Font files tried after the configured path, best first."""
    windows = _windows_fonts_dir()
    return (
        os.path.join(windows, "msyh.ttc"),
        os.path.join(windows, "msyh.ttf"),
        os.path.join(windows, "simhei.ttf"),
        os.path.join(windows, "simsun.ttc"),
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/arphic/uming.ttc",
    )


@dataclass(frozen=True)
class FontStatus:
    """Which font the PDFs use, for the PDF code and for the admin banner."""

    name: str  # reportlab font name to use in styles
    path: str | None  # font file, None for the built-in fallback
    embedded: bool
    warning_zh: str | None  # shown to admins when the PDFs are not self-contained
    problems: tuple[str, ...] = ()  # why candidates were rejected (English, for logs)


class FontFileError(ValueError):
    """A font file that reportlab cannot embed."""


def check_font_file(path: str) -> None:
    """Raise FontFileError unless ``path`` is a TrueType (glyf) font or collection.

    reportlab's own message for CFF fonts ("postscript outlines are not supported") does
    not tell an admin what to do, so we look at the header ourselves.
    """
    try:
        with open(path, "rb") as font_file:
            tag = font_file.read(4)
            if tag == b"ttcf":  # collection: look at the first font in it
                font_file.seek(12)
                first_offset = int.from_bytes(font_file.read(4), "big")
                font_file.seek(first_offset)
                tag = font_file.read(4)
    except OSError as error:
        raise FontFileError(f"cannot read font file {path}: {error.strerror}") from error
    if tag == b"OTTO":
        raise FontFileError(
            f"{path} is an OpenType font with PostScript (CFF) outlines; reportlab can embed "
            "only TrueType (glyf) fonts. Use a .ttf/.ttc such as wqy-microhei.ttc or msyh.ttc."
        )
    if tag not in (b"\x00\x01\x00\x00", b"true"):
        raise FontFileError(f"{path} is not a TrueType font file")


#: Characters every slip needs; fonts-droid-fallback, for one, has no digits.
REQUIRED_CHARACTERS = "风险提示单警情通报转账金额0123456789¥"


def _font_name_for(path: str) -> str:
    # One name per file, so trying another file never replaces a font already in use.
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"{EMBEDDED_FONT_NAME}-{re.sub(r'[^A-Za-z0-9]+', '-', stem)}"


def _register_truetype(path: str) -> str:
    """Register ``path`` with reportlab and return the font name to use in styles."""
    check_font_file(path)
    name = _font_name_for(path)
    try:
        # subfontIndex is ignored for plain .ttf files and picks the first face of a .ttc.
        font = ReusableSubsetFont(name, path, subfontIndex=0)
    except TTFError as error:
        raise FontFileError(f"reportlab cannot use {path}: {error}") from error
    missing = [ch for ch in REQUIRED_CHARACTERS if ord(ch) not in font.face.charToGlyph]
    if missing:
        raise FontFileError(f"{path} lacks characters the PDFs need: {''.join(missing)}")
    pdfmetrics.registerFont(font)
    # One weight only: map bold/italic to the same face so markup like <b> never fails.
    pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
    return name


def find_font(
    configured_path: str | None = None, search_paths: tuple[str, ...] | None = None
) -> FontStatus:
    """Register the first usable font and describe it (no caching: see ``setup_font``)."""
    problems: list[str] = []
    candidates: list[str] = []
    if configured_path:
        if os.path.isfile(configured_path):
            candidates.append(configured_path)
        else:
            problems.append(f"configured font {configured_path} does not exist")
    candidates.extend(default_search_paths() if search_paths is None else search_paths)

    for path in candidates:
        if not os.path.isfile(path):
            continue
        try:
            name = _register_truetype(path)
        except FontFileError as error:
            problems.append(str(error))
            continue
        return FontStatus(name, path, True, None, tuple(problems))

    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT_NAME))
    problems.append("no TrueType CJK font found; using the non-embedded STSong-Light")
    return FontStatus(FALLBACK_FONT_NAME, None, False, NOT_EMBEDDED_WARNING_ZH, tuple(problems))


_lock = threading.Lock()
_active: FontStatus | None = None


def setup_font(configured_path: str | None = None) -> FontStatus:
    """Register the PDF font once per process and return its status.

    Call it at application start with the configured path (or leave the path to the
    ``TELLER_GUARD_PDF_FONT`` environment variable). The first call wins: registering a TTC
    costs about 60 ms, and the PDFs of one process should all look the same.
    """
    global _active
    with _lock:
        if _active is None:
            _active = find_font(configured_path or os.environ.get(FONT_PATH_ENV))
            for problem in _active.problems:
                log.warning("PDF font: %s", problem)
            log.info("PDF font: %s (%s)", _active.name, _active.path or "built-in")
        elif configured_path and configured_path != _active.path:
            log.warning(
                "PDF font already set to %s; ignoring %s", _active.path, configured_path
            )
        return _active


def font_status() -> FontStatus:
    """The font the PDFs use (registers it on first use)."""
    return _active or setup_font()


# C0 controls other than tab/newline, DEL, and lone surrogates (which cannot be encoded).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def printable(text: object, font: FontStatus | None = None) -> str:
    """``text`` as a string the PDF font can draw: missing glyphs become ``□``.

    Without this, reportlab draws nothing for a missing glyph in a TrueType font, and the
    built-in CID font garbles everything after a character outside the BMP.
    """
    if text is None:
        return ""
    text = _UNPRINTABLE.sub("", str(text).replace("\r\n", "\n").replace("\r", "\n"))
    font = font or font_status()
    if font.embedded:
        glyphs = pdfmetrics.getFont(font.name).face.charToGlyph
        if all(ord(ch) in glyphs or ch in "\n\t" for ch in text):
            return text  # the usual case: no copy
        replacement = REPLACEMENT_CHAR if ord(REPLACEMENT_CHAR) in glyphs else "?"
        return "".join(ch if ord(ch) in glyphs or ch in "\n\t" else replacement for ch in text)
    return "".join(ch if ord(ch) <= 0xFFFF else REPLACEMENT_CHAR for ch in text)
