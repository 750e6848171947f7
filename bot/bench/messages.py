"""Synthetic customer messages for the benchmark: varied, customer-like, reproducible.

Texts are assembled from hand-written fragments (openers, products, problems, feelings,
questions, praise, noise such as order numbers, emoji and handles) with a seeded random
generator, so two runs with the same seed see the same messages and a scorer's cost is
measured on realistic lengths and vocabulary. No real customer data is used.

Messages are produced lazily from their sequence number: a backlog of a million costs no
memory until the daemon actually reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PRODUCTS = (
    "blender",
    "drill",
    "order",
    "parcel",
    "subscription",
    "router",
    "phone case",
    "washing machine",
    "coffee maker",
    "laptop",
    "headphones",
    "vacuum",
    "mattress",
    "gift card",
    "account",
    "app",
    "kettle",
    "bike",
    "sofa",
    "printer",
    "flight",
    "booking",
)
PROBLEMS = (
    "arrived broken",
    "never arrived",
    "stopped working after two days",
    "is missing a part",
    "was charged twice",
    "came in the wrong colour",
    "keeps disconnecting",
    "still has not shipped",
    "was delivered to the wrong address",
    "smells like burning",
    "got cancelled without any notice",
    "is stuck at customs",
    "won't turn on",
    "leaks water everywhere",
    "was refunded only half",
    "shows an error on login",
)
FEELINGS = (
    "This is unacceptable.",
    "Really disappointed.",
    "Worst service ever!!",
    "I am so frustrated right now.",
    "Not impressed at all.",
    "Third time this happens.",
    "Absolutely ridiculous.",
    "I want my money back.",
    "Please sort this out.",
    "Nobody answers the phone.",
    "",
    "",
    "",
)
QUESTIONS = (
    "Can I change the delivery address for my {p}?",
    "How do I return a {p}?",
    "Is the {p} available in blue?",
    "When will the {p} be back in stock?",
    "Do you ship the {p} to Canada?",
    "What is the warranty on the {p}?",
    "Which charger works with the {p}?",
    "Where can I find the manual for my {p}?",
    "does the {p} come with batteries",
    "Are you open on Sunday?",
)
PRAISE = (
    "Love my new {p}, thank you!",
    "The {p} is brilliant, great job team",
    "Huge thanks to your support for fixing my {p} so fast",
    "Best {p} I ever bought",
    "Delivery of the {p} was super quick, impressed",
    "Really happy with the {p} :)",
    "Your team was so kind and helpful about my {p}",
    "Five stars for the {p}!",
)
NEUTRAL = (
    "Just ordered a {p}",
    "Watching the {p} review on youtube",
    "Anyone else got the {p}?",
    "Unboxing my {p} tonight",
    "Thinking about getting a {p}",
    "Same as yesterday",
    "ok",
    "Saw your ad for the {p}",
    "My neighbour has the {p}",
)
FOLLOW_UPS = (
    "Any update on this?",
    "Still waiting...",
    "Hello?? Anyone there?",
    "It has been three days now",
    "Ticket number please",
    "still broken",
)
SPAM = (
    "Follow me back for a crypto giveaway https://spam.example/{n}",
    "DM me for promo, huge forex profit, invest now",
)
EMOJI = ("", "", "", " 😡", " 🙏", " 😭", " 👍", " ❤️", " 🤔")
HANDLES = ("@brand", "@brand_support", "@BrandHelp", "")
NAMES = (
    "alex",
    "sam",
    "jo",
    "kim",
    "lee",
    "pat",
    "max",
    "ana",
    "noor",
    "li",
    "sofia",
    "omar",
    "ines",
    "tom",
    "mia",
    "ravi",
    "yuki",
    "lena",
    "ben",
    "zoe",
)


_MASK = (1 << 64) - 1


class Draw:
    """splitmix64: a counter-based generator, cheap to seed per message (not for secrets)."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self.next() >> 11) * (1.0 / (1 << 53))

    def randrange(self, start: int, stop: int | None = None) -> int:
        low, high = (0, start) if stop is None else (start, stop)
        return low + self.next() % (high - low)

    def choice(self, options: Sequence[str]) -> str:
        return options[self.next() % len(options)]


@dataclass(frozen=True, slots=True)
class Synthetic:
    """One generated message: who wrote it, where, what, and whether it is a follow-up."""

    seq: int
    author: str
    thread: str
    text: str
    kind: str  # "complaint" | "question" | "praise" | "neutral" | "followup" | "spam" | "bot"
    created_at: datetime


class MessageGenerator:
    """Deterministic: message ``seq`` is the same for a given seed, whatever was asked before.

    Roughly 35% complaints, 15% questions, 15% praise, 20% neutral chatter, 10% follow-ups in
    an earlier thread of the same customer, and a little spam and bot traffic.
    """

    def __init__(self, seed: int = 7, customers: int = 50_000) -> None:
        self.seed = seed
        self.customers = max(customers, 1)
        self.start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def author_of(self, seq: int) -> str:
        rng = Draw(self.seed * 1_000_003 + seq * 7919)
        who = rng.randrange(self.customers)
        return f"{NAMES[who % len(NAMES)]}{who}"

    def get(self, seq: int) -> Synthetic:
        rng = Draw(self.seed * 1_000_003 + seq * 7919)
        who = rng.randrange(self.customers)
        author = f"{NAMES[who % len(NAMES)]}{who}"
        roll = rng.random()
        thread = f"t{seq}"
        if roll < 0.35:
            kind, text = "complaint", self._complaint(rng)
        elif roll < 0.50:
            kind, text = "question", self._fill(rng, QUESTIONS)
        elif roll < 0.65:
            kind, text = "praise", self._fill(rng, PRAISE)
        elif roll < 0.85:
            kind, text = "neutral", self._fill(rng, NEUTRAL)
        elif roll < 0.95 and seq > 50:
            # a follow-up in the thread this customer probably opened a little earlier
            origin = seq - rng.randrange(1, 50)
            kind, text = "followup", rng.choice(FOLLOW_UPS) + rng.choice(EMOJI)
            thread, author = f"t{origin}", self.author_of(origin)
        elif roll < 0.98:
            kind, text = "spam", rng.choice(SPAM).format(n=seq)
        else:
            kind, text = "bot", f"Automated notice #{seq}: your parcel status changed."
        created = self.start + timedelta(seconds=seq * 0.05)
        return Synthetic(seq, author, thread, text, kind, created)

    def _complaint(self, rng: Draw) -> str:
        product = rng.choice(PRODUCTS)
        order = f" (order #{rng.randrange(10_000, 99_999)})" if rng.random() < 0.4 else ""
        handle = rng.choice(HANDLES)
        parts = [
            f"{handle} my {product}{order} {rng.choice(PROBLEMS)}.".strip(),
            rng.choice(FEELINGS),
        ]
        if rng.random() < 0.3:
            parts.append(f"Also the replacement {rng.choice(PROBLEMS)}.")
        if rng.random() < 0.2:
            parts.append(rng.choice(QUESTIONS).format(p=product))
        return " ".join(p for p in parts if p) + rng.choice(EMOJI)

    @staticmethod
    def _fill(rng: Draw, choices: tuple[str, ...]) -> str:
        text = rng.choice(choices).format(p=rng.choice(PRODUCTS))
        return f"{rng.choice(HANDLES)} {text}".strip() + rng.choice(EMOJI)
