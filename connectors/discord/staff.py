"""The agent desk's staff channel on Discord: one card per ticket, edited in place, and
notices (SLA warning, breach with an escalation-role ping, reminders, low CSAT).

Cards and notices come from ``storage.staff`` through the platform-neutral
``bot.desk.board.StaffBoard``; this module only turns them into Discord messages. Every
post restricts its allowed mentions to exactly the person or role it means to ping:
customer text on a card can never ping anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import discord

from bot.desk.handlers import mention
from bot.desk.settings import StaffSettings
from connectors.discord.connector import DiscordConnector, nonce_for
from storage.staff import Notice, TicketCard

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
_COLOURS = {
    "breached": discord.Colour.red(),
    "warned": discord.Colour.orange(),
    "open": discord.Colour.blurple(),
    "waiting_customer": discord.Colour.light_grey(),
    "resolved": discord.Colour.green(),
    "closed": discord.Colour.dark_grey(),
}
_STATUS = {
    "open": "Waiting on us",
    "waiting_customer": "Waiting on the customer",
    "resolved": "Resolved",
    "closed": "Closed",
}

# (custom_id action, label, style, shown for statuses)
BUTTONS: tuple[tuple[str, str, discord.ButtonStyle, tuple[str, ...]], ...] = (
    ("claim", "Claim", discord.ButtonStyle.primary, ("open", "waiting_customer")),
    ("snooze", "Snooze 2h", discord.ButtonStyle.secondary, ("open", "waiting_customer")),
    ("resolve", "Resolve", discord.ButtonStyle.success, ("open", "waiting_customer")),
    ("reopen", "Reopen", discord.ButtonStyle.secondary, ("resolved", "closed")),
)


def custom_id(action: str, ticket: int) -> str:
    return f"desk:{action}:{ticket}"


def _ts(value: datetime, style: str = "f") -> str:
    """Discord renders <t:epoch:style> in each reader's own time zone."""
    return f"<t:{int(value.timestamp())}:{style}>"


def _sla_line(card: TicketCard) -> str:
    if card.first_response_at is not None:
        return f"answered {_ts(card.first_response_at)}"
    if card.due_at is None:
        return "no SLA"
    if card.sla_paused or card.status not in ("open",):
        return f"paused (was due {_ts(card.due_at)})"
    flag = " — **BREACHED**" if card.sla_breached else (" — 75% used" if card.sla_warned else "")
    return f"{_ts(card.due_at)} ({_ts(card.due_at, 'R')}){flag}"


def _earlier(card: TicketCard) -> str:
    if not card.earlier:
        return "none"
    return ", ".join(f"#{t.id} {t.label} ({t.status})" for t in card.earlier)


def card_embed(card: TicketCard, text_chars: int) -> discord.Embed:
    state = "breached" if card.sla_breached else "warned" if card.sla_warned else card.status
    colour = _COLOURS.get(state if card.status == "open" else card.status, discord.Colour.default())
    text = discord.utils.escape_markdown(card.text)
    if len(text) > text_chars:
        text = text[: text_chars - 1] + "…"
    embed = discord.Embed(
        title=f"Ticket #{card.id} · {card.label} · {card.priority}",
        description=f">>> {text}" if text else "(no text)",
        url=card.url,
        colour=colour,
        timestamp=card.opened_at,
    )
    who = discord.utils.escape_markdown(card.customer)
    embed.add_field(name="Customer", value=f"{who} on {card.channel} ({card.kind})")
    status = _STATUS.get(card.status, card.status)
    if card.resolution:
        status += f" ({card.resolution})"
    if card.snoozed_until is not None:
        status += f"\nsnoozed until {_ts(card.snoozed_until)}"
    embed.add_field(name="Status", value=status)
    embed.add_field(name="Assignee", value=mention(card.assignee))
    sentiment = f"{card.polarity:+.2f}" if card.polarity is not None else "—"
    embed.add_field(name="Sentiment", value=sentiment)
    embed.add_field(name="Topic", value=card.topic or "—")
    embed.add_field(name="First response due", value=_sla_line(card))
    embed.add_field(name="Customer's earlier tickets", value=_earlier(card), inline=False)
    if card.csat_score is not None:
        embed.add_field(name="CSAT", value=f"{card.csat_score}/5")
    embed.set_footer(text="Commands: /claim /reply /note /snooze /resolve with this number")
    return embed


ButtonFactory = Callable[[str, int], discord.ui.Item[Any]]


def card_view(card: TicketCard, make_button: ButtonFactory) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action, _label, _style, statuses in BUTTONS:
        if card.status in statuses:
            view.add_item(make_button(action, card.id))
    return view


def notice_mentions(notice: Notice) -> tuple[str, discord.AllowedMentions]:
    """The ping prefix and the allowed mentions that let exactly that ping through."""
    target = notice.mention or ""
    kind, _, ident = target.partition(":")
    if kind == "role" and ident.isdigit():
        return f"<@&{ident}> ", discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(int(ident))]
        )
    if kind == "user" and ident.isdigit():
        return f"<@{ident}> ", discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(int(ident))]
        )
    return "", NO_PINGS


class DiscordStaffPoster:
    """Posts the board's cards and notices in the staff channel through the connector's bot."""

    def __init__(
        self, connector: DiscordConnector, staff: StaffSettings, make_button: ButtonFactory
    ) -> None:
        if staff.channel_id is None:
            raise ValueError("the staff poster needs desk.staff.channel_id")
        self.connector = connector
        self.staff = staff
        self.channel_id = staff.channel_id
        self.make_button = make_button

    def _channel(self) -> discord.PartialMessageable:
        return self.connector.client.get_partial_messageable(self.channel_id)

    async def post_card(self, card: TicketCard) -> str:
        embed = card_embed(card, self.staff.show_text_chars)
        view = card_view(card, self.make_button)
        content = f"Ticket #{card.id} — {card.label}, {card.channel}"
        channel = self._channel()
        if card.message_id is not None:
            message = channel.get_partial_message(int(card.message_id))
            try:
                await message.edit(content=content, embed=embed, view=view)
                return card.message_id
            except discord.NotFound:
                log.warning("staff card for ticket=%s was deleted; posting it again", card.id)
        sent = await channel.send(
            content,
            embed=embed,
            view=view,
            allowed_mentions=NO_PINGS,
            nonce=nonce_for(f"staff-card-{card.id}"),
        )
        return str(sent.id)

    async def post_notice(self, notice: Notice, card: TicketCard | None) -> str:
        ping, allowed = notice_mentions(notice)
        reference: Any = None
        if card is not None and card.message_id is not None:
            reference = discord.MessageReference(
                message_id=int(card.message_id),
                channel_id=self.channel_id,
                fail_if_not_exists=False,
            )
        sent = await self._channel().send(
            ping + notice.text,
            reference=reference,
            allowed_mentions=allowed,
            nonce=nonce_for(f"staff-notice-{notice.id}"),
        )
        return str(sent.id)
