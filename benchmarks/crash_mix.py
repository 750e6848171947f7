"""The crash test's traffic: a realistic mix of what a support account receives on X.

Complaints, questions, praise and small talk from customers (each new conversation from a
new customer, so the expected acknowledgements do not depend on the join window), follow-ups
in a customer's own thread, DMs (some customers write twice), other brands' bots, our own
posts and spam. The daemon labels them itself; the check reads the labels it stored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BOTS = ("parcelbot", "statusbot", "autoreply_bot")

# (kind, weight): how often each kind of message appears in the stream.
WEIGHTS = {
    "complaint": 30,
    "question": 12,
    "praise": 12,
    "chat": 8,
    "followup": 10,
    "dm": 12,
    "dm_again": 3,
    "bot": 6,
    "own": 4,
    "spam": 3,
}

COMPLAINTS = (
    "my order #{n} never arrived and nobody answers, this is terrible",
    "the app crashes every time I open my account, really bad experience",
    "I was charged twice for order {n}, awful service",
    "still waiting for my refund after {d} days, worst support ever",
    "the delivery driver left my parcel in the rain, it is ruined and useless",
    "your website is broken again, I cannot log in at all. Horrible.",
    "wrong size sent for order {n} and the return label is missing, disappointed",
)
QUESTIONS = (
    "do you ship to Norway?",
    "how do I change the address on order {n}?",
    "can I return a gift without the receipt?",
    "when does the winter sale start?",
    "is there a student discount?",
    "what are your opening hours on Sunday?",
)
PRAISE = (
    "love the new app, great job!",
    "thanks for the quick delivery, excellent service",
    "best customer support I have had, wonderful people",
    "order {n} arrived early and it is perfect, thank you!",
    "amazing quality, happy customer here",
)
CHAT = (
    "just saw your ad on the bus",
    "ordering lunch for the office today",
    "my cat sits in every box from you",
    "watching the match tonight",
)
FOLLOWUPS = (
    "any news on this? still nothing",
    "hello? it has been {d} days",
    "ok thanks, it works now",
    "this is getting ridiculous, please reply",
)
DMS = (
    "hi, my parcel {n} is lost, can you refund me please?",
    "I need to change my payment card, it keeps failing and I am annoyed",
    "where is my order {n}? the tracking page is broken",
    "thank you for sorting out my order, great help",
    "can you tell me if order {n} has shipped?",
)
BOT_TEXTS = (
    "Automated notice: shipment {n} status changed to IN TRANSIT",
    "Auto-reply: we received your message and will answer within 2 days",
    "[bot] price alert for item {n}",
)
SPAM = (
    "crypto giveaway!!! invest now for 10x profit {n}",
    "follow me back for promo https://spam.example/{n}",
    "dm me for promo and collab deals {n}",
)


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to put on the simulated platform, in stream order."""

    index: int
    endpoint: str  # mentions | tweets | dms
    author: str  # handle, or our own user id for our own posts
    text: str
    kind: str  # a key of WEIGHTS
    parent: int | None = None  # index of the tweet this one replies to


class MixGenerator:
    """Deterministic for a seed: the same run can be replayed."""

    def __init__(self, seed: int, our_id: str) -> None:
        self.rng = random.Random(seed)
        self.our_id = our_id
        self.customers = 0
        self.threads: list[tuple[int, str]] = []  # (index of a customer's tweet, author)
        self.dm_senders: list[str] = []

    def plan(self, count: int) -> list[Planned]:
        kinds = list(WEIGHTS)
        weights = list(WEIGHTS.values())
        return [self._one(i, self.rng.choices(kinds, weights)[0]) for i in range(count)]

    def _text(self, choices: tuple[str, ...]) -> str:
        template = self.rng.choice(choices)
        return template.format(n=self.rng.randint(10_000, 99_999), d=self.rng.randint(2, 30))

    def _customer(self) -> str:
        self.customers += 1
        return f"cust{self.customers:05d}"

    def _one(self, index: int, kind: str) -> Planned:
        if kind == "followup" and self.threads:
            parent, author = self.rng.choice(self.threads[-200:])
            text = f"@AcmeCare {self._text(FOLLOWUPS)}"
            return Planned(index, "tweets", author, text, kind, parent)
        if kind == "dm_again" and self.dm_senders:
            return Planned(index, "dms", self.rng.choice(self.dm_senders), self._text(DMS), kind)
        if kind in ("dm", "dm_again", "followup"):
            sender = self._customer()
            self.dm_senders.append(sender)
            return Planned(index, "dms", sender, self._text(DMS), "dm")
        if kind == "bot":
            return Planned(index, "mentions", self.rng.choice(BOTS), self._text(BOT_TEXTS), kind)
        if kind == "own":
            text = f"@AcmeCare team note {index}: new FAQ page is live"
            return Planned(index, "tweets", self.our_id, text, kind)
        texts = {"complaint": COMPLAINTS, "question": QUESTIONS, "praise": PRAISE}
        author = self._customer()
        planned = Planned(index, "mentions", author, self._text(texts.get(kind, CHAT)), kind)
        if kind != "spam":
            self.threads.append((index, author))
        return planned


def batches(plan: list[Planned], size: int) -> list[list[Planned]]:
    """Consecutive runs of one endpoint, never holding a reply together with its parent
    (the parent's id is only known once it has been posted)."""
    out: list[list[Planned]] = []
    current: list[Planned] = []
    members: set[int] = set()
    for item in plan:
        same = current and current[0].endpoint == item.endpoint
        if current and (not same or len(current) >= size or item.parent in members):
            out.append(current)
            current, members = [], set()
        current.append(item)
        members.add(item.index)
    if current:
        out.append(current)
    return out
