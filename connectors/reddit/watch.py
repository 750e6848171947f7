"""Which subreddit items are new: per-listing high-water marks and the keyword filter.

Reddit ids are base-36 numbers handed out in creation order, so "newer than the cursor" is
a numeric comparison of fullnames. Without a stored cursor (first start) an item counts as
new when it is younger than ``first_start_lookback``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from connectors.base import CursorStore
from connectors.reddit.parse import keyword_pattern, thing_name
from connectors.reddit.settings import RedditSettings
from connectors.reddit.types import Thing


def id_number(fullname: str | None) -> int | None:
    """``t1_abc`` -> its base-36 number; None for a name that is not one."""
    if not fullname or "_" not in fullname:
        return None
    try:
        return int(fullname.partition("_")[2], 36)
    except ValueError:
        return None


class SubredditWatch:
    """The subreddit listings to poll and how far each has been read."""

    def __init__(self, settings: RedditSettings) -> None:
        self.keys: list[str] = []
        for sub in settings.subreddits:
            if settings.listen_comments:
                self.keys.append(f"r/{sub}/comments")
            if settings.listen_submissions:
                self.keys.append(f"r/{sub}/new")
        self._lookback = settings.first_start_lookback
        self._keywords = keyword_pattern(settings.keywords)
        self._high: dict[str, int] = {}
        self._since = 0.0

    async def load(self, channel: str, cursors: CursorStore) -> list[str]:
        """Read the stored cursors (kept if ours are further); returns unreadable keys."""
        self._since = self._since or time.time() - self._lookback
        bad = []
        for key in self.keys:
            value = await cursors.get_cursor(channel, key)
            stored = id_number(value)
            if value and stored is None:
                bad.append(key)
            elif stored is not None:
                self._high[key] = max(self._high.get(key, 0), stored)
        return bad

    def is_old(self, key: str, thing: Thing) -> bool:
        """Already read (at or below the cursor) or, without a cursor, older than lookback."""
        number = id_number(thing_name(thing))
        if number is None:
            return False
        high = self._high.get(key)
        if high is not None:
            return number <= high
        data = thing.get("data") if isinstance(thing, dict) else None
        created = data.get("created_utc") if isinstance(data, dict) else None
        return isinstance(created, int | float) and created < self._since

    def fresh(self, key: str, things: Iterable[Thing]) -> list[Thing]:
        """The unread things with a usable name, oldest first."""
        named = [t for t in things if id_number(thing_name(t)) is not None]
        return sorted(
            (t for t in named if not self.is_old(key, t)),
            key=lambda t: id_number(thing_name(t)) or 0,
        )

    def wanted(self, text: str) -> bool:
        return self._keywords is None or self._keywords.search(text) is not None

    def advance(self, key: str, thing: Thing) -> None:
        number = id_number(thing_name(thing))
        if number is not None:
            self._high[key] = max(self._high.get(key, 0), number)
