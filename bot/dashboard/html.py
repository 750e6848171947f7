"""HTML by hand, escaped by construction: every dynamic value passes through ``esc``.

No template engine is needed for a handful of read-only pages; what matters is that customer
text can never become markup, so the helpers take raw values and escape them themselves.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

from storage.report_response import format_duration


def esc(value: object) -> str:
    """Text for an element or a double-quoted attribute: &, <, >, " and ' are escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def polarity(value: float | None) -> str:
    """A coloured polarity cell (markup: the number is ours, not the customer's)."""
    if value is None:
        return '<span class="neu">-</span>'
    css = "neg" if value < 0 else "pos" if value > 0 else "neu"
    return f'<span class="{css}">{value:+.2f}</span>'


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def duration(seconds: float | None) -> str:
    return format_duration(seconds)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int] | None = None
) -> str:
    """Cells are markup already (callers escape); headers are ours and escaped here."""
    numeric = numeric or set()
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    if not body:
        body = f'<tr><td colspan="{len(headers)}" class="muted">nothing in this period</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def tile(label: str, value: str) -> str:
    return (
        f'<div class="tile"><div class="k">{esc(label)}</div>'
        f'<div class="v">{esc(value)}</div></div>'
    )


def href(path: str, params: dict[str, object]) -> str:
    """A link with query parameters (escaped for an attribute)."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return esc(f"{path}?{urlencode(clean)}" if clean else path)
