"""Fetch everything new since a stored position, oldest first.

X pages newest-first. Yielding in that order would let a crash after the first stored item
move the cursor past older, unstored ones; so a source reads every page back to its
position, then hands the items over oldest-first, each carrying its own id as cursor.
A page that fails (after retries) discards the whole batch: the position does not move and
the next poll starts again from it, so nothing is lost and the daemon's UNIQUE key absorbs
any repeat.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Inbound
from connectors.x import parse
from connectors.x.parse import MalformedItem
from connectors.x.types import DmEventPayload, TweetPayload, UserPayload

log = logging.getLogger(__name__)

MAX_PAGES = 100  # 10,000 items per poll: beyond that something else is wrong

Fetch = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class Batch:
    """New items, oldest first, and the newest id seen (malformed items included)."""

    items: list[Inbound] = field(default_factory=list)
    newest: int | None = None


def search_key(query: str) -> str:
    """One cursor per query, stable across restarts and reordering of the config list."""
    return "search:" + hashlib.sha256(query.encode()).hexdigest()[:16]


def _safe_id(raw: object) -> int | None:
    try:
        return int(parse.item_id(raw))  # type: ignore[arg-type]
    except (MalformedItem, TypeError):
        return None


def _page_items(payload: dict[str, Any], what: str) -> list[Any]:
    data = payload.get("data") or []
    if not isinstance(data, list):
        log.warning("X %s: 'data' is not a list; page skipped", what)
        return []
    return data


async def pages(
    fetch: Fetch, what: str, params: dict[str, Any], token_param: str
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield each page's payload, following ``meta.next_token``."""
    token: str | None = None
    for page in range(MAX_PAGES):
        payload = await fetch(**({**params, token_param: token} if token else params))
        yield payload
        meta = payload.get("meta") or {}
        token = meta.get("next_token") if isinstance(meta, dict) else None
        if not token:
            return
        if page == MAX_PAGES - 1:
            log.warning("X %s: stopped after %d pages; older items are skipped", what, MAX_PAGES)


def _newest(current: int | None, candidate: int | None) -> int | None:
    if candidate is None:
        return current
    return candidate if current is None else max(current, candidate)


async def fetch_tweets(
    fetch: Fetch,
    *,
    what: str,
    params: dict[str, Any],
    token_param: str,
    convert: Callable[[TweetPayload, dict[str, UserPayload]], Inbound],
) -> Batch:
    """Mentions or one search query: ``params`` already hold since_id or start_time."""
    raw: list[Any] = []
    users: dict[str, UserPayload] = {}
    async for payload in pages(fetch, what, params, token_param):
        raw.extend(_page_items(payload, what))
        users.update(parse.users_by_id(payload.get("includes")))
    return _convert(raw, lambda item: convert(item, users), what)


async def fetch_dms(
    fetch: Fetch,
    *,
    params: dict[str, Any],
    since: int | None,
    not_before: datetime | None,
    convert: Callable[[DmEventPayload, dict[str, UserPayload]], Inbound],
) -> Batch:
    """GET /2/dm_events has no since_id: read newest-first until we reach what we had."""
    raw: list[Any] = []
    users: dict[str, UserPayload] = {}
    newest: int | None = None
    async for payload in pages(fetch, "dm_events", params, "pagination_token"):
        users.update(parse.users_by_id(payload.get("includes")))
        reached = False
        for item in _page_items(payload, "dm_events"):
            ident = _safe_id(item)
            newest = _newest(newest, ident)
            if _already_seen(ident, since, not_before):
                reached = True
            else:
                raw.append(item)
        if reached:
            break
    wanted = [
        i
        for i in raw
        if not isinstance(i, dict)
        or i.get("event_type", parse.MESSAGE_CREATE) == parse.MESSAGE_CREATE
    ]
    batch = _convert(wanted, lambda item: convert(item, users), "dm_events")
    batch.newest = _newest(batch.newest, newest)
    return batch


def _already_seen(ident: int | None, since: int | None, not_before: datetime | None) -> bool:
    """At or before the stored position, or older than the first-start lookback."""
    if ident is None:
        return False
    if since is not None:
        return ident <= since
    return not_before is not None and parse.snowflake_time(str(ident)) < not_before


def _convert(raw: list[Any], convert: Callable[[Any], Inbound], what: str) -> Batch:
    """Oldest first; a malformed item is logged (id only, never text) and skipped."""
    batch = Batch()
    keyed = []
    for item in raw:
        ident = _safe_id(item)
        if ident is None:
            log.warning("X %s: skipped an item without a valid id", what)
            continue
        keyed.append((ident, item))
        batch.newest = _newest(batch.newest, ident)
    for ident, item in sorted(keyed, key=lambda pair: pair[0]):
        try:
            batch.items.append(convert(item))
        except (MalformedItem, TypeError, AttributeError) as exc:
            log.warning("X %s: skipped malformed item %s: %s", what, ident, exc)
    return batch


def search_horizon() -> datetime:
    """Recent search covers seven days; X refuses a since_id or start_time before that."""
    return datetime.now(UTC) - timedelta(days=7) + timedelta(minutes=5)


def lookback_start(started_at: datetime, hours: float) -> datetime:
    """Where a source with no stored cursor starts (X refuses start_time in the future)."""
    return started_at - timedelta(hours=hours)
