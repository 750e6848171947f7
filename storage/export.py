"""The raw interaction log for spreadsheets and BI tools, streamed with constant memory.

Rows come through a server-side cursor (``yield_per``): PostgreSQL keeps a named cursor
open and SQLite steps its statement, so a year of messages never sits in memory at once;
each batch is written out before the next is fetched.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TextIO, TypeVarTuple

from sqlalchemy import Select, func, select

from bot.errors import UserInputError
from storage.db import Database
from storage.models import Customer, Interaction, Ticket

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "jsonl")
BATCH = 1000
Ts = TypeVarTuple("Ts")

COLUMNS = (
    "id",
    "created_at",
    "direction",
    "channel",
    "kind",
    "external_id",
    "thread",
    "in_reply_to",
    "author",
    "customer_id",
    "text",
    "url",
    "status",
    "polarity",
    "subjectivity",
    "complaint_score",
    "label",
    "agent_label",
    "topic",
    "language",
    "decision",
    "ticket_id",
    "ticket_status",
    "ticket_priority",
)


@dataclass(frozen=True, slots=True)
class ExportFilter:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    channel: str | None = None


def _where(stmt: Select[*Ts], flt: ExportFilter) -> Select[*Ts]:
    if flt.start is not None:
        stmt = stmt.where(Interaction.created_at >= flt.start)
    if flt.end is not None:
        stmt = stmt.where(Interaction.created_at < flt.end)
    if flt.channel:
        stmt = stmt.where(Interaction.channel == flt.channel)
    return stmt


def _rows_query(flt: ExportFilter) -> Select[*tuple[Any, ...]]:
    i = Interaction
    stmt = (
        select(
            i.id,
            i.created_at,
            i.direction,
            i.channel,
            i.kind,
            i.external_id,
            i.thread,
            i.in_reply_to,
            Customer.handle,
            i.customer_id,
            i.text,
            i.url,
            i.status,
            i.polarity,
            i.subjectivity,
            i.complaint_score,
            i.label,
            i.agent_label,
            i.topic,
            i.language,
            i.decision,
            i.ticket_id,
            Ticket.status,
            Ticket.priority,
        )
        .join(Customer, Customer.id == i.customer_id, isouter=True)
        .join(Ticket, Ticket.id == i.ticket_id, isouter=True)
        .order_by(i.created_at, i.id)
    )
    return _where(stmt, flt)


async def count_interactions(db: Database, flt: ExportFilter) -> int:
    """How many rows the export will write (for the progress bar; new ones may arrive)."""
    stmt = _where(select(func.count()).select_from(Interaction), flt)
    async with db.session() as session:
        return int(await session.scalar(stmt) or 0)


async def stream_interactions(
    db: Database, flt: ExportFilter, batch: int = BATCH
) -> AsyncIterator[dict[str, Any]]:
    """One dict per interaction, oldest first, fetched ``batch`` rows at a time."""
    stmt = _rows_query(flt).execution_options(yield_per=batch)
    async with db.session() as session:
        result = await session.stream(stmt)
        async for partition in result.partitions():
            for row in partition:
                record = dict(zip(COLUMNS, row, strict=True))
                if record["direction"] == "out":
                    record["author"] = "(us)"
                yield record


def _csv_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a quote.

    Customer text is attacker-controlled: "=HYPERLINK(...)" must stay text in Excel.
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def safe_csv_row(values: tuple[object, ...] | list[object]) -> list[object]:
    return [_csv_cell(v) for v in values]


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


async def export_interactions(
    db: Database,
    flt: ExportFilter,
    fmt: ExportFormat,
    out: TextIO,
    on_row: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> int:
    """Write the filtered log to ``out`` as CSV (with a header) or JSON lines; rows written."""
    if fmt not in FORMATS:
        raise UserInputError(f"--format {fmt!r}: use csv or jsonl")
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    written = 0
    async for record in stream_interactions(db, flt, batch):
        if writer is not None:
            writer.writerow(safe_csv_row(list(record.values())))
        else:
            clean = {k: _json_value(v) for k, v in record.items()}
            out.write(json.dumps(clean, ensure_ascii=False) + "\n")
        written += 1
        if on_row is not None and written % batch == 0:
            on_row(written)
    if on_row is not None:
        on_row(written)
    log.info("exported %d interaction(s) as %s", written, fmt)
    return written
