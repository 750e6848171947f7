"""The dashboard's pages as HTML strings (escaped by construction, see bot/dashboard/html.py)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.dashboard.html import esc, href, number, polarity, table, when
from bot.dashboard.report_view import charts_section, period_line, tables_section, tiles
from storage.report_log import (
    TICKET_FILTERS,
    LogEntry,
    LogPage,
    LogQuery,
    TicketHistory,
    event_details,
)
from storage.report_sql import SENTIMENTS
from storage.report_types import Report

TITLE = "socialbot dashboard"
SIGN_OUT = '<form method="post" action="/logout"><button class="link">Sign out</button></form>'
PERIODS = (7, 30, 90)


def layout(title: str, body: str, *, active: str = "", signed_in: bool = True) -> str:
    nav = ""
    if signed_in:
        links = (("/", "Overview", "overview"), ("/log", "Interaction log", "log"))
        nav = (
            "<nav>"
            + "".join(
                f'<a href="{path}"{" class=active" if key == active else ""}>{label}</a>'
                for path, label, key in links
            )
            + "</nav>"
            + SIGN_OUT
        )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)} · {TITLE}</title><link rel="stylesheet" href="/static/style.css">'
        f'</head><body><header class="top"><span class="brand">{TITLE}</span>{nav}</header>'
        f"<main>{body}</main></body></html>\n"
    )


def login_page(next_path: str, error: str | None = None) -> str:
    message = f'<p class="error">{esc(error)}</p>' if error else ""
    body = (
        '<section class="card login"><h1>Sign in</h1>'
        '<p class="muted">Enter the dashboard token (SOCIALBOT_DASHBOARD_TOKEN).</p>'
        f'{message}<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<label for="token">Token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" required>'
        "<button>Sign in</button></form></section>"
    )
    return layout("Sign in", body, signed_in=False)


def error_page(status: int, message: str) -> str:
    body = f'<section class="card"><h1>{status}</h1><p>{esc(message)}</p></section>'
    return layout(str(status), body)


def _choice(name: str, current: str | None, options: Sequence[tuple[str, str]]) -> str:
    opts = "".join(
        f'<option value="{esc(value)}"{" selected" if value == (current or "") else ""}>'
        f"{esc(label)}</option>"
        for value, label in options
    )
    return f'<select name="{name}" id="{name}">{opts}</select>'


def overview_page(report: Report, days: int, channels: Sequence[str]) -> str:
    q = report.query
    periods = sorted({*PERIODS, days})
    form = (
        '<form class="filters" method="get" action="/">'
        f"<label>Period{_choice('days', str(days), [(str(d), f'last {d} days') for d in periods])}"
        f"</label><label>Per{_choice('by', q.bucket, [('day', 'day'), ('week', 'week')])}</label>"
        f"<label>Channel{_choice('channel', q.channel, [('', 'all')] + [(c, c) for c in channels])}"
        "</label><button>Show</button></form>"
    )
    body = (
        f'<h1>Overview</h1><p class="sub">{esc(period_line(report))}</p>{form}'
        f"{tiles(report)}{charts_section(report)}{tables_section(report)}"
    )
    return layout("Overview", body, active="overview")


def _log_form(q: LogQuery, channels: Sequence[str], start: str, end: str) -> str:
    sentiments = [("", "any")] + [(s, s) for s in SENTIMENTS]
    tickets = [("", "any or none")] + [(t, t.replace("_", " ")) for t in TICKET_FILTERS]
    return (
        '<form class="filters" method="get" action="/log">'
        f"<label>Channel{_choice('channel', q.channel, [('', 'all')] + [(c, c) for c in channels])}"
        f"</label><label>Sentiment{_choice('sentiment', q.sentiment, sentiments)}</label>"
        f'<label>From<input type="date" name="from" value="{esc(start)}"></label>'
        f'<label>To<input type="date" name="to" value="{esc(end)}"></label>'
        f'<label>Text<input type="search" name="q" value="{esc(q.search or "")}" '
        'placeholder="words in the message"></label>'
        f"<label>Ticket{_choice('ticket', q.ticket, tickets)}</label>"
        "<button>Filter</button></form>"
    )


def _entry_row(e: LogEntry) -> list[str]:
    ticket = (
        f'<a href="/tickets/{e.ticket_id}">#{e.ticket_id}</a> '
        f'<span class="badge {esc(e.ticket_status)}">{esc(e.ticket_status)}</span>'
        if e.ticket_id
        else ""
    )
    return [
        esc(when(e.created_at)),
        esc(e.channel),
        esc(e.kind),
        esc(e.author),
        f'<span class="text">{esc(e.text)}</span>',
        polarity(e.polarity),
        esc(e.label or ""),
        esc(e.topic or ""),
        ticket,
    ]


LOG_HEADERS = ("when (UTC)", "channel", "kind", "author", "text", "polarity", "label", "topic")


def log_page(page: LogPage, q: LogQuery, channels: Sequence[str], start: str, end: str) -> str:
    rows = [_entry_row(e) for e in page.entries]
    params: dict[str, object] = {
        "channel": q.channel,
        "sentiment": q.sentiment,
        "from": start,
        "to": end,
        "q": q.search,
        "ticket": q.ticket,
    }
    pager = []
    if page.page > 1:
        pager.append(f'<a href="{href("/log", params | {"page": page.page - 1})}">← newer</a>')
    pager.append(f'<span class="muted">page {page.page}</span>')
    if page.has_next:
        pager.append(f'<a href="{href("/log", params | {"page": page.page + 1})}">older →</a>')
    body = (
        f'<h1>Interaction log</h1><p class="sub">Newest first, {page.page_size} per page.</p>'
        f'{_log_form(q, channels, start, end)}<section class="card">'
        f"{table((*LOG_HEADERS, 'ticket'), rows, numeric={5})}"
        f'<div class="pager">{"".join(pager)}</div></section>'
    )
    return layout("Interaction log", body, active="log")


def ticket_page(h: TicketHistory) -> str:
    t = h.ticket
    facts = [
        ("status", f'<span class="badge {esc(t.status)}">{esc(t.status)}</span>'),
        ("priority", esc(t.priority)),
        ("label / topic", esc(f"{t.label} / {t.topic or '-'}")),
        ("channel", esc(t.channel)),
        ("customer", esc(h.customer)),
        ("assignee", esc(t.assignee or "-")),
        ("opened", esc(when(t.opened_at))),
        ("acknowledged", esc(when(t.acknowledged_at))),
        ("first response due", esc(when(t.first_response_due_at))),
        ("first response", esc(when(t.first_response_at))),
        ("resolved", esc(f"{when(t.resolved_at)} {t.resolution or ''}")),
        ("CSAT", esc(f"{number(t.csat_score, 0)} (asked {when(t.csat_asked_at)})")),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    messages = table(
        ("when (UTC)", "dir", "author", "text", "polarity"),
        (
            [
                esc(when(m.created_at)),
                esc(m.direction),
                esc(m.author),
                f'<span class="text">{esc(m.text)}</span>',
                polarity(m.polarity),
            ]
            for m in h.messages
        ),
        numeric={4},
    )
    events = table(
        ("when (UTC)", "who", "what", "details"),
        (
            [esc(when(e.at)), esc(e.actor), esc(e.type), esc(event_details(e.data))]
            for e in h.events
        ),
    )
    body = (
        f'<h1>Ticket #{t.id}</h1><p class="sub"><a href="/log?ticket=any">← interaction log</a></p>'
        f'<div class="grid"><section class="card"><h2>Clock</h2><dl class="facts">{dl}</dl>'
        f'</section><section class="card"><h2>History</h2>{events}</section></div>'
        f'<section class="card"><h2>Messages</h2>{messages}</section>'
    )
    return layout(f"Ticket #{t.id}", body)
