"""The report as ONE self-contained HTML file: inline CSS and SVG, no script, no network.

It can be mailed to marketing and opened offline; a restrictive CSP meta tag makes sure a
browser fetches nothing for it, whatever ends up inside.
"""

from __future__ import annotations

from bot.dashboard.html import esc
from bot.dashboard.report_view import charts_section, period_line, tables_section, tiles
from bot.dashboard.style import CSS
from storage.report_types import Report

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_report_html(report: Report, title: str = "socialbot — sentiment report") -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><span class="brand">{esc(title)}</span></header><main>'
        f'<h1>Sentiment report</h1><p class="sub">{esc(period_line(report))}</p>'
        f"{tiles(report)}{charts_section(report)}{tables_section(report)}"
        "<footer>Sentiment: TextBlob polarity of inbound messages — negative &lt; 0, "
        "neutral = 0, positive &gt; 0. Business hours follow the configured calendar.</footer>"
        "</main></body></html>\n"
    )
