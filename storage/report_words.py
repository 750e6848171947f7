"""The words that drive negative sentiment, from a bounded sample of the period's messages.

Tokenising in SQL is not portable (SQLite has no regex split) and a full scan of every text
would cost as much as the rest of the report. So the report reads at most ``SAMPLE`` of the
period's newest negative messages and as many newest neutral/positive ones (both through the
created_at index, LIMITed in SQL), and compares in Python how often each word appears in
each group. The cost is bounded whatever the size of the log; the price is that the words
describe the newest messages of a very busy period, which is what marketing reads first.

Score: smoothed log-odds of a message containing the word being negative rather than not,
log((n_neg + 1) / (N_neg + 2)) - log((n_other + 1) / (N_other + 2)). Words must appear in
at least ``max(2, 1 %)`` of the negative messages, so that a single rant cannot top the list.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Interaction
from storage.report_types import ReportQuery, WordRow, WordSample

SAMPLE = 2000

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"[@#]\w+")
_WORD = re.compile(r"[a-z][a-z']*[a-z]")

_STOP_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each even
    ever every few for from further get got had has have having he her here hers herself him
    himself his how i if in into is it its itself just let like me more most my myself no nor
    not now of off on once only or other our ours ourselves out over own please same she
    should so some still such than that the their theirs them themselves then there these they
    this those through to too under until up us very was we were what when where which while
    who whom why will with would you your yours yourself yourselves im ive dont didnt doesnt
    cant wont isnt wasnt arent youre thats theres hi hello hey thanks thank one two really
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def tokens(text: str) -> set[str]:
    """Distinct content words of one message (lowercase, no links, handles or stop words)."""
    text = _HANDLE.sub(" ", _URL.sub(" ", text.lower())).replace("’", "'")
    found = {w.replace("'", "") for w in _WORD.findall(text)}
    return {w for w in found if len(w) >= 3 and w not in STOP_WORDS}


def document_frequency(texts: Iterable[str]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    total = 0
    for text in texts:
        total += 1
        counts.update(tokens(text))
    return counts, total


def rank_words(
    negative: Counter[str], n_negative: int, other: Counter[str], n_other: int, top: int
) -> list[WordRow]:
    minimum = max(2, math.ceil(0.01 * n_negative))
    rows: list[WordRow] = []
    for word, count in negative.items():
        if count < minimum:
            continue
        score = math.log((count + 1) / (n_negative + 2)) - math.log(
            (other[word] + 1) / (n_other + 2)
        )
        if score > 0:
            rows.append(WordRow(word, count, other[word], round(score, 4)))
    rows.sort(key=lambda r: (-r.score, -r.negative, r.word))
    return rows[:top]


def _sample(query: ReportQuery, negative: bool, limit: int) -> Select[str]:
    stmt = select(Interaction.text).where(
        Interaction.created_at >= query.start,
        Interaction.created_at < query.end,
        Interaction.direction == "in",
        (Interaction.polarity < 0) if negative else (Interaction.polarity >= 0),
    )
    if query.channel:
        stmt = stmt.where(Interaction.channel == query.channel)
    return stmt.order_by(Interaction.created_at.desc()).limit(limit)


async def negative_words(
    session: AsyncSession, query: ReportQuery, sample: int = SAMPLE
) -> WordSample:
    neg_texts = (await session.scalars(_sample(query, True, sample))).all()
    other_texts = (await session.scalars(_sample(query, False, sample))).all()
    negative, n_negative = document_frequency(neg_texts)
    other, n_other = document_frequency(other_texts)
    return WordSample(
        negative_messages=n_negative,
        other_messages=n_other,
        words=rank_words(negative, n_negative, other, n_other, query.top),
    )
