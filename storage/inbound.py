"""Inbound messages: stored exactly once, with their cursor, before anything else happens."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Author, Inbound
from storage.db import Database
from storage.models import ConnectorCursor, Customer, Interaction, now_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredInbound:
    """A stored inbound message as the worker needs it (a snapshot, not an ORM object)."""

    id: int
    channel: str
    kind: str
    external_id: str
    thread: str
    text: str
    created_at: datetime
    status: str
    customer_id: int | None
    author_id: str
    author_handle: str
    author_is_bot: bool
    author_is_self: bool
    meta: dict[str, str]


def clean_text(text: str) -> str:
    """Text every database accepts: NUL (refused by PostgreSQL) and lone surrogates replaced."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


async def upsert_customer(session: AsyncSession, channel: str, author: Author) -> Customer:
    found = await session.scalar(
        select(Customer).where(Customer.channel == channel, Customer.external_id == author.id)
    )
    if found is not None:
        if author.handle and found.handle != author.handle and found.erased_at is None:
            found.handle = author.handle
        return found
    customer = Customer(
        channel=channel,
        external_id=author.id,
        handle=author.handle,
        display_name=author.display_name,
        is_bot=author.is_bot or author.is_self,
    )
    session.add(customer)
    await session.flush()
    return customer


async def save_cursor(session: AsyncSession, channel: str, key: str, value: str) -> None:
    row = await session.get(ConnectorCursor, (channel, key))
    if row is None:
        session.add(ConnectorCursor(channel=channel, key=key, value=value))
    else:
        row.value = value
        row.updated_at = now_utc()


class InboundRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_cursor(self, channel: str, key: str) -> str | None:
        async with self.db.session() as session:
            row = await session.get(ConnectorCursor, (channel, key))
            return row.value if row else None

    async def record(self, item: Inbound) -> int | None:
        """Store ``item`` and its cursor in one transaction. Returns None for a duplicate.

        A duplicate still advances the cursor: the message is already safe in the database.
        """
        author = item.author
        meta = dict(item.meta)
        meta.update(author_id=author.id, author_handle=author.handle)
        if author.is_bot:
            meta["author_is_bot"] = "1"
        if author.is_self:
            meta["author_is_self"] = "1"
        try:
            async with self.db.transaction() as session:
                customer = await upsert_customer(session, item.channel, author)
                row = Interaction(
                    direction="in",
                    channel=item.channel,
                    kind=str(item.kind),
                    external_id=item.external_id,
                    thread=item.thread,
                    customer_id=customer.id,
                    text=clean_text(item.text),
                    url=item.url,
                    meta=meta,
                    created_at=item.created_at,
                )
                session.add(row)
                if item.cursor is not None:
                    await save_cursor(session, item.channel, item.cursor.key, item.cursor.value)
                await session.flush()
                return row.id
        except IntegrityError:
            log.info(
                "duplicate inbound skipped channel=%s external_id=%s",
                item.channel,
                item.external_id,
            )
            if item.cursor is not None:
                async with self.db.transaction() as session:
                    await save_cursor(session, item.channel, item.cursor.key, item.cursor.value)
            return None

    async def unprocessed(self) -> list[int]:
        """Stored but never processed: queued again on start so nothing is lost."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Interaction.id)
                .where(Interaction.direction == "in", Interaction.status == "pending")
                .order_by(Interaction.id)
            )
            return list(rows)

    async def load(self, interaction_id: int) -> StoredInbound | None:
        async with self.db.session() as session:
            row = await session.get(Interaction, interaction_id)
            if row is None or row.direction != "in":
                return None
            meta = {str(k): str(v) for k, v in (row.meta or {}).items()}
            return StoredInbound(
                id=row.id,
                channel=row.channel,
                kind=row.kind,
                external_id=row.external_id or "",
                thread=row.thread,
                text=row.text,
                created_at=row.created_at,
                status=row.status,
                customer_id=row.customer_id,
                author_id=meta.get("author_id", ""),
                author_handle=meta.get("author_handle", ""),
                author_is_bot=meta.get("author_is_bot") == "1",
                author_is_self=meta.get("author_is_self") == "1",
                meta=meta,
            )

    async def mark_ignored(self, interaction_id: int, reason: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(Interaction)
                .where(Interaction.id == interaction_id)
                .values(status="ignored", label="ignored", decision=reason, processed_at=now_utc())
            )
