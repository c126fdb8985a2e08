"""Charts as inline SVG markup built on the server (no JavaScript, no inline style: the CSP
forbids both). Colours are SVG presentation attributes; every chart has a title, and the page
shows the same figures as a table for screen readers and printing."""

from __future__ import annotations

from itertools import count

from markupsafe import Markup, escape

BRAND = "#0b4f8a"
LEVEL_COLOURS = {"low": "#1e6b2f", "medium": "#8a5d00", "high": "#a33a00",
                 "critical": "#b00020", "": "#6b7280"}
TEXT = "#1a1a1a"
GRID = "#b8c0cc"
_ids = count(1)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _frame(width: int, height: int, title: str, body: list[str]) -> Markup:
    title_id = f"chart-title-{next(_ids)}"
    # Every piece of text in `body` and `title` went through escape().
    return Markup(  # noqa: S704
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{title_id}" '
        f'font-family="Microsoft YaHei, PingFang SC, WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif">'
        f'<title id="{title_id}">{escape(title)}</title>{"".join(body)}</svg>'
    )


def bar_chart(items: list[tuple[str, float]], title: str, colours: list[str] | None = None,
              value_text=None, width: int = 600) -> Markup:
    """Horizontal bars, one row per (label, value), the value written at the end of its bar."""
    value_text = value_text or (lambda value: f"{value:,}")
    row_height, label_width, value_width = 34, 210, 110
    height = max(1, len(items)) * row_height + 10
    largest = max((value for _, value in items), default=0) or 1
    plot = width - label_width - value_width
    body = []
    for index, (label, value) in enumerate(items):
        y = 5 + index * row_height
        length = plot * value / largest
        colour = colours[index] if colours else BRAND
        body.append(
            f'<text x="{label_width - 10}" y="{y + 22}" text-anchor="end" font-size="17" '
            f'fill="{TEXT}">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 5}" width="{_number(max(length, 1 if value else 0))}" '
            f'height="{row_height - 10}" fill="{colour}"/>'
            f'<text x="{_number(label_width + length + 8)}" y="{y + 22}" font-size="17" '
            f'fill="{TEXT}">{escape(value_text(value))}</text>'
        )
    if not items:
        body.append(f'<text x="10" y="30" font-size="17" fill="{TEXT}">无数据</text>')
    return _frame(width, height, title, body)


def column_chart(items: list[tuple[str, float]], title: str, width: int = 960,
                 height: int = 260) -> Markup:
    """Vertical columns over time (one per day); a few dates and the peak are labelled."""
    left, bottom, top = 60, 40, 20
    plot_width, plot_height = width - left - 10, height - bottom - top
    largest = max((value for _, value in items), default=0) or 1
    body = [
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 10}" y2="{top + plot_height}" '
        f'stroke="{GRID}" stroke-width="1"/>',
        f'<text x="{left - 8}" y="{top + 6}" text-anchor="end" font-size="15" fill="{TEXT}">'
        f'{largest:,}</text>',
        f'<text x="{left - 8}" y="{top + plot_height}" text-anchor="end" font-size="15" '
        f'fill="{TEXT}">0</text>',
    ]
    if items:
        step = plot_width / len(items)
        label_every = max(1, len(items) // 6)
        for index, (label, value) in enumerate(items):
            bar_height = plot_height * value / largest
            x = left + index * step
            body.append(
                f'<rect x="{_number(x + step * 0.1)}" y="{_number(top + plot_height - bar_height)}" '
                f'width="{_number(max(step * 0.8, 0.5))}" height="{_number(bar_height)}" '
                f'fill="{BRAND}"><title>{escape(label)}：{value:,}</title></rect>'
            )
            if index % label_every == 0:
                body.append(
                    f'<text x="{_number(x + step / 2)}" y="{height - 12}" text-anchor="middle" '
                    f'font-size="14" fill="{TEXT}">{escape(label[5:] if len(label) == 10 else label)}'
                    f'</text>'
                )
    else:
        body.append(f'<text x="{left + 10}" y="{top + 40}" font-size="17" fill="{TEXT}">无数据</text>')
    return _frame(width, height, title, body)
