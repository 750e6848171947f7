"""Inbound messages: stored exactly once, with their cursor, before anything else happens."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Author, Inbound
from storage.bulk import chunks, insert_for, insert_for_dialect, table_of
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
        return (await self.record_many([item]))[0]

    async def record_many(self, items: Sequence[Inbound]) -> list[int | None]:
        """Store a batch and the newest cursor of each stream in ONE transaction.

        Returns the new interaction id of each item, or None for a duplicate (already stored,
        or earlier in the same batch). Set-based (ON CONFLICT DO NOTHING ... RETURNING), so a
        batch costs a handful of round trips whatever its size.
        """
        if not items:
            return []
        async with self.db.transaction() as session:
            customers = await _customer_ids(session, self.db, items)
            stored = await _insert_interactions(session, self.db, items, customers)
            await _save_cursors(session, self.db, items)
        found: list[int | None] = []
        seen: set[tuple[str, str]] = set()
        for item in items:
            key = (item.channel, item.external_id)
            new_id = stored.get(key) if key not in seen else None
            seen.add(key)
            if new_id is None:
                log.info(
                    "duplicate inbound skipped channel=%s external_id=%s",
                    item.channel,
                    item.external_id,
                )
            found.append(new_id)
        return found

    async def unprocessed(self, after: int = 0, limit: int | None = None) -> list[int]:
        """Stored but never processed: queued again on start so nothing is lost.

        Paged by id (``after``, ``limit``) so a backlog of millions is never one list.
        """
        async with self.db.session() as session:
            query = (
                select(Interaction.id)
                .where(
                    Interaction.direction == "in",
                    Interaction.status == "pending",
                    Interaction.id > after,
                )
                .order_by(Interaction.id)
            )
            if limit is not None:
                query = query.limit(limit)
            rows = await session.scalars(query)
            return list(rows)

    async def load_many(self, interaction_ids: Sequence[int]) -> list[StoredInbound]:
        """The inbound messages among these ids, in id order (one query per chunk)."""
        table = table_of(Interaction)
        columns = [table.c[name] for name in _LOAD_COLUMNS]
        found: list[StoredInbound] = []
        async with self.db.session() as session:
            for part in chunks(sorted(set(interaction_ids))):
                result = await session.execute(
                    select(*columns).where(table.c.id.in_(part), table.c.direction == "in")
                )
                found += [_stored(row._mapping) for row in result]
        return found

    async def mark_ignored_many(self, reasons: dict[int, str]) -> list[int]:
        """Mark still-pending messages ignored; returns the ids this call changed."""
        if not reasons:
            return []
        table = table_of(Interaction)
        async with self.db.transaction() as session:
            claimed = await session.scalars(
                update(table)
                .where(table.c.id.in_(list(reasons)), table.c.status == "pending")
                .values(status="ignored", label="ignored", processed_at=now_utc())
                .returning(table.c.id)
            )
            changed = list(claimed)
            if changed:
                await session.execute(
                    update(table)
                    .where(table.c.id == bindparam("b_id"))
                    .values(decision=bindparam("b_reason")),
                    [{"b_id": i, "b_reason": reasons[i][:255]} for i in changed],
                )
        return changed

    async def load(self, interaction_id: int) -> StoredInbound | None:
        found = await self.load_many([interaction_id])
        return found[0] if found else None

    async def mark_ignored(self, interaction_id: int, reason: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(Interaction)
                .where(Interaction.id == interaction_id)
                .values(status="ignored", label="ignored", decision=reason, processed_at=now_utc())
            )


_LOAD_COLUMNS = (
    "id", "channel", "kind", "external_id", "thread", "text", "created_at", "status",
    "customer_id", "meta",
)  # fmt: skip


def _stored(row: Any) -> StoredInbound:
    meta = {str(k): str(v) for k, v in (row["meta"] or {}).items()}
    return StoredInbound(
        id=row["id"],
        channel=row["channel"],
        kind=row["kind"],
        external_id=row["external_id"] or "",
        thread=row["thread"],
        text=row["text"],
        created_at=row["created_at"],
        status=row["status"],
        customer_id=row["customer_id"],
        author_id=meta.get("author_id", ""),
        author_handle=meta.get("author_handle", ""),
        author_is_bot=meta.get("author_is_bot") == "1",
        author_is_self=meta.get("author_is_self") == "1",
        meta=meta,
    )


def _inbound_meta(item: Inbound) -> dict[str, str]:
    author = item.author
    meta = dict(item.meta)
    meta.update(author_id=author.id, author_handle=author.handle)
    if author.is_bot:
        meta["author_is_bot"] = "1"
    if author.is_self:
        meta["author_is_self"] = "1"
    return meta


async def _find_customers(
    session: AsyncSession, channel: str, external_ids: list[str]
) -> dict[str, Any]:
    table = table_of(Customer)
    found: dict[str, Any] = {}
    for part in chunks(external_ids):
        result = await session.execute(
            select(table.c.id, table.c.external_id, table.c.handle, table.c.erased_at).where(
                table.c.channel == channel, table.c.external_id.in_(part)
            )
        )
        found.update({row.external_id: row for row in result})
    return found


async def _customer_ids(
    session: AsyncSession, db: Database, items: Sequence[Inbound]
) -> dict[tuple[str, str], int]:
    """Customer id per (channel, author id): found, created (race-safe), handle refreshed."""
    wanted: dict[str, dict[str, Author]] = {}
    for item in items:
        wanted.setdefault(item.channel, {})[item.author.id] = item.author  # newest handle wins
    table = table_of(Customer)
    ids: dict[tuple[str, str], int] = {}
    renamed: list[dict[str, Any]] = []
    for channel, authors in wanted.items():
        found = await _find_customers(session, channel, list(authors))
        missing: list[dict[str, Any]] = [
            {
                "channel": channel,
                "external_id": author.id,
                "handle": author.handle,
                "display_name": author.display_name,
                "is_bot": author.is_bot or author.is_self,
            }
            for author_id, author in authors.items()
            if author_id not in found
        ]
        if missing:
            # Another ingest may create the same customer at the same moment: DO NOTHING,
            # then read back whatever won.
            await session.execute(insert_for(db, table).on_conflict_do_nothing(), missing)
            found.update(
                await _find_customers(session, channel, [m["external_id"] for m in missing])
            )
        for author_id, author in authors.items():
            row = found[author_id]
            ids[(channel, author_id)] = row.id
            if author.handle and row.handle != author.handle and row.erased_at is None:
                renamed.append({"b_id": row.id, "b_handle": author.handle})
    if renamed:
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(handle=bindparam("b_handle")),
            renamed,
        )
    return ids


async def _insert_interactions(
    session: AsyncSession,
    db: Database,
    items: Sequence[Inbound],
    customers: dict[tuple[str, str], int],
) -> dict[tuple[str, str], int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the ids of the rows that were new."""
    table = table_of(Interaction)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        key = (item.channel, item.external_id)
        if key in rows:
            continue  # the platform repeated itself within one batch
        rows[key] = {
            "direction": "in",
            "channel": item.channel,
            "kind": str(item.kind),
            "external_id": item.external_id,
            "thread": item.thread,
            "customer_id": customers[(item.channel, item.author.id)],
            "text": clean_text(item.text),
            "url": item.url,
            "meta": _inbound_meta(item),
            "created_at": item.created_at,
        }
    statement = (
        insert_for(db, table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.channel, table.c.external_id)
    )
    result = await session.execute(statement, list(rows.values()))
    return {(row.channel, row.external_id): row.id for row in result}


async def _save_cursors(session: AsyncSession, db: Database, items: Sequence[Inbound]) -> None:
    """The newest position of each (channel, key) in the batch, upserted."""
    newest: dict[tuple[str, str], str] = {}
    for item in items:
        if item.cursor is not None:
            newest[(item.channel, item.cursor.key)] = item.cursor.value
    if not newest:
        return
    now = now_utc()
    await session.execute(
        _cursor_upsert(db.is_sqlite),
        [{"channel": c, "key": k, "value": v, "updated_at": now} for (c, k), v in newest.items()],
    )


@functools.cache
def _cursor_upsert(is_sqlite: bool) -> Any:
    """The cursor upsert, built once per dialect (building ``excluded`` copies the table)."""
    table = table_of(ConnectorCursor)
    statement = insert_for_dialect(is_sqlite, table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.channel, table.c.key],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
    )
