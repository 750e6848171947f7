"""Texts the desk sends on a person's or the policy's behalf: canned replies, nudges, CSAT.

They share the reply templates' placeholders plus ``{agent}``, are checked when the config
is loaded (an unknown placeholder is a config error, not a crash at 3 a.m.), and are fitted
to the channel's length limit like every other reply.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from responders.templates import fit

FIELDS = frozenset({"name", "handle", "ticket", "channel", "company", "agent"})

DEFAULT_TEXTS = {
    "nudge": (
        "Hi {name}, we are still here to help with ticket #{ticket}. Could you let us know "
        "if you need anything else? If we do not hear back, we will close it in a few days."
    ),
    "close_notice": (
        "Hi {name}, we have not heard back, so we have closed ticket #{ticket}. Just reply "
        "here if you still need help and we will pick it up again."
    ),
    "csat": (
        "Hi {name}, ticket #{ticket} is resolved. How satisfied are you with our help, "
        'from 1 (poor) to 5 (excellent)? Reply "stop" to never get this question.'
    ),
}


def check_placeholders(name: str, text: str) -> None:
    """Raise ValueError naming the text and the unknown placeholder."""
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ValueError(f"text {name!r}: {exc}") from exc
    unknown = used - FIELDS
    if "" in used:
        raise ValueError(f"text {name!r}: empty placeholder {{}}; use a name like {{ticket}}")
    if unknown:
        raise ValueError(
            f"text {name!r} uses unknown placeholder(s) {sorted(unknown)}; known: {sorted(FIELDS)}"
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a desk text is for, as the ticket's first message knows them."""

    handle: str
    kind: str  # mention | dm | comment | email
    channel: str


def values_for(
    recipient: Recipient, *, ticket: int, company: str, agent: str = ""
) -> dict[str, object]:
    """Placeholder values; no @-mention in private conversations (as acknowledgements do)."""
    handle = recipient.handle or "there"
    private = recipient.kind in ("dm", "email")
    name = handle if private or handle.startswith("@") else f"@{handle}"
    return {
        "name": name,
        "handle": handle,
        "ticket": ticket,
        "channel": recipient.channel,
        "company": company,
        "agent": agent,
    }


def render(text: str, values: Mapping[str, object], limit: int) -> str:
    """Fill in a checked text and fit it to ``limit`` characters."""
    return fit(text.format_map(dict(values)).strip(), limit)
