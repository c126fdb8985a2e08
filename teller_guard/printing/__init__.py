"""PDF printing: the customer's warning slip and the police alert (pure, no Flask/DB).

    from teller_guard.printing import SlipContent, build_slip, setup_font
    setup_font(app.config.get("FONT_PATH"))   # once, at start-up (else on first use)
    pdf_bytes = build_slip(SlipContent(...), paper="a5")
"""

from .alert import build_police_alert
from .content import (
    FOUR_NOS,
    GENERAL_WARNING,
    HOTLINES,
    SLOGANS,
    WARNED_SENTENCE,
    AlertContent,
    SlipContent,
    format_amount,
    format_datetime,
    four_nos_text,
    hotlines_text,
    slogans_text,
)
from .fonts import FontStatus, font_status, setup_font
from .slip import PAPERS, build_slip

__all__ = [
    "FOUR_NOS",
    "GENERAL_WARNING",
    "HOTLINES",
    "PAPERS",
    "SLOGANS",
    "WARNED_SENTENCE",
    "AlertContent",
    "FontStatus",
    "SlipContent",
    "build_police_alert",
    "build_slip",
    "font_status",
    "format_amount",
    "format_datetime",
    "four_nos_text",
    "hotlines_text",
    "setup_font",
    "slogans_text",
]
