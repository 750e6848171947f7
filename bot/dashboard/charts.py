"""Charts as inline SVG strings: no JavaScript, no CDN, they render offline and under a strict CSP.

Only presentation attributes (fill, stroke) are used, never style attributes, so the
dashboard's Content-Security-Policy can forbid inline styles. Hovering a point or a bar shows
its value through SVG <title> elements. Every label passes through ``esc``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bot.dashboard.html import esc

PALETTE = ("#2f6fed", "#e8833a", "#2e9e5b", "#8e44ad", "#d64545", "#17a2b8", "#b7950b", "#5d6d7e")
SENTIMENT_COLOURS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#2e9e5b"}
W, H = 720, 270
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 34, 42
GRID = "#e4e7eb"
AXIS = "#616e7c"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_step(top: float, ticks: int = 4) -> float:
    """1, 2 or 5 times a power of ten, so that about ``ticks`` steps reach ``top``."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _svg(label: str, body: str, height: int = H) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" '
        f'width="{W}" height="{height}" role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>{body}</svg>"
    )


def _legend(names: Sequence[str], colours: Sequence[str]) -> str:
    parts, x = [], LEFT
    for name, fill in zip(names, colours, strict=True):
        parts.append(
            f'<rect x="{x}" y="10" width="10" height="10" rx="2" fill="{fill}"/>'
            f'<text x="{x + 14}" y="19" font-size="12" fill="{AXIS}">{esc(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return "".join(parts)


def _x_labels(labels: Sequence[str], x_of: Callable[[int], float]) -> str:
    """At most ~10 labels under the axis, as MM-DD when they are dates."""
    step = max(1, math.ceil(len(labels) / 10))
    parts = []
    for i in range(0, len(labels), step):
        text = labels[i][5:] if len(labels[i]) == 10 and labels[i][4] == "-" else labels[i]
        parts.append(
            f'<text x="{x_of(i):.1f}" y="{H - BOTTOM + 16}" font-size="11" fill="{AXIS}" '
            f'text-anchor="middle">{esc(text)}</text>'
        )
    return "".join(parts)


def _y_grid(lo: float, hi: float, step: float, y_of: Callable[[float], float], fmt: str) -> str:
    parts = []
    value = lo
    while value <= hi + 1e-9:
        y = y_of(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" fill="{AXIS}" '
            f'text-anchor="end">{format(value, fmt)}</text>'
        )
        value += step
    return "".join(parts)


def empty(label: str) -> str:
    body = (
        f'<text x="{W / 2}" y="{H / 2}" font-size="13" fill="{AXIS}" text-anchor="middle">'
        "no data in this period</text>"
    )
    return _svg(label, body)


def line_chart(
    label: str,
    x_labels: Sequence[str],
    series: dict[str, list[float | None]],
    lo: float = -1.0,
    hi: float = 1.0,
) -> str:
    """One line per series (e.g. mean polarity per channel per day); gaps where None."""
    if not x_labels or not series:
        return empty(label)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(x_labels)

    def x_of(i: int) -> float:
        return LEFT + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y_of(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * plot_h

    parts = [_y_grid(lo, hi, nice_step(hi - lo), y_of, "+.1f" if lo < 0 else "g")]
    if lo < 0 < hi:
        y0 = y_of(0)
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y0:.1f}" y2="{y0:.1f}" stroke="{AXIS}"/>'
        )
    names = list(series)
    for index, name in enumerate(names):
        fill = colour(index)
        segment: list[str] = []
        for i, value in enumerate(series[name]):
            if value is None:
                parts.append(_polyline(segment, fill))
                segment = []
                continue
            x, y = x_of(i), y_of(max(lo, min(hi, value)))
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}">'
                f"<title>{esc(name)} {esc(x_labels[i])}: {value:+.3f}</title></circle>"
            )
        parts.append(_polyline(segment, fill))
    parts.append(_x_labels(x_labels, x_of))
    parts.append(_legend(names, [colour(i) for i in range(len(names))]))
    return _svg(label, "".join(parts))


def _polyline(points: list[str], stroke: str) -> str:
    if len(points) < 2:
        return ""
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{stroke}" stroke-width="2"/>'


def stacked_bars(label: str, x_labels: Sequence[str], series: dict[str, list[int]]) -> str:
    """Columns per bucket, stacked by series (e.g. messages per day by channel)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(x_labels))]
    if not x_labels or not any(totals):
        return empty(label)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = nice_step(max(totals))
    top = step * math.ceil(max(totals) / step)
    slot = plot_w / len(x_labels)

    def x_of(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y_of(v: float) -> float:
        return TOP + (top - v) / top * plot_h

    parts = [_y_grid(0, top, step, y_of, ",.0f")]
    names = list(series)
    for i, bucket in enumerate(x_labels):
        base = 0
        for index, name in enumerate(names):
            value = series[name][i]
            if not value:
                continue
            y_hi, y_lo = y_of(base + value), y_of(base)
            parts.append(
                f'<rect x="{x_of(i) - slot * 0.35:.1f}" y="{y_hi:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{y_lo - y_hi:.1f}" fill="{colour(index)}">'
                f"<title>{esc(name)} {esc(bucket)}: {value:,}</title></rect>"
            )
            base += value
    parts.append(_x_labels(x_labels, x_of))
    parts.append(_legend(names, [colour(i) for i in range(len(names))]))
    return _svg(label, "".join(parts))


def share_bars(label: str, rows: Sequence[tuple[str, int, int, int]]) -> str:
    """One 100 % bar per row: negative / neutral / positive shares (e.g. per channel)."""
    rows = [r for r in rows if sum(r[1:]) > 0]
    if not rows:
        return empty(label)
    height = TOP + 30 * len(rows) + 16
    left, plot_w = 110, W - 110 - RIGHT - 60
    parts = []
    for n, (name, *counts) in enumerate(rows):
        y, x, total = TOP + 30 * n, float(left), sum(counts)
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" font-size="12" fill="{AXIS}" '
            f'text-anchor="end">{esc(name)}</text>'
        )
        for (kind, fill), count in zip(SENTIMENT_COLOURS.items(), counts, strict=True):
            width = plot_w * count / total
            if width > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="20" fill="{fill}">'
                    f"<title>{esc(name)} {kind}: {count:,} ({100 * count / total:.1f} %)</title>"
                    "</rect>"
                )
            x += width
        parts.append(
            f'<text x="{left + plot_w + 6}" y="{y + 15}" font-size="12" fill="{AXIS}">'
            f"{total:,}</text>"
        )
    parts.append(_legend(list(SENTIMENT_COLOURS), list(SENTIMENT_COLOURS.values())))
    return _svg(label, "".join(parts), height)


def grouped_hbars(
    label: str,
    groups: Sequence[tuple[str, Sequence[tuple[str, float | None]]]],
    shown: Callable[[float | None], str],
) -> str:
    """Horizontal bars in groups (e.g. per clock: median and p90, wall clock and business).

    Bars are relative to the largest value; ``shown`` writes each value beside its bar.
    """
    values = [v for _, bars in groups for _, v in bars if v is not None]
    if not values or max(values) <= 0:
        return empty(label)
    per_group = max(len(bars) for _, bars in groups)
    height = TOP + len(groups) * (per_group * 16 + 18) + 24
    left, plot_w = 130, W - 130 - RIGHT - 70
    top = max(values)
    parts, y = [], float(TOP)
    names = [name for name, _ in groups[0][1]]
    for group, bars in groups:
        parts.append(
            f'<text x="{left - 8}" y="{y + per_group * 8 + 4:.1f}" font-size="12" '
            f'fill="{AXIS}" text-anchor="end">{esc(group)}</text>'
        )
        for index, (name, value) in enumerate(bars):
            width = 0.0 if value is None else plot_w * value / top
            text = shown(value)
            parts.append(
                f'<rect x="{left}" y="{y:.1f}" width="{width:.1f}" height="13" '
                f'fill="{colour(index)}"><title>{esc(group)}, {esc(name)}: {esc(text)}</title>'
                f'</rect><text x="{left + width + 4:.1f}" y="{y + 11:.1f}" font-size="11" '
                f'fill="{AXIS}">{esc(text)}</text>'
            )
            y += 16
        y += 18
    parts.append(_legend(names, [colour(i) for i in range(len(names))]))
    return _svg(label, "".join(parts), height)
