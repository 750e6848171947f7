"""The complaint cue lexicon: hand-written phrases that see flatly worded complaints.

Polarity scorers miss "still waiting for my bag" because no word in it is negative. The cues
(responders/data/triage_cues.toml) name what goes wrong for customers — delays,
cancellations, lost parcels, refunds, hold times, "again", "why ...?" — and what does not
(thanks, praise, plain information requests). Each group counts once per message; a negator
just before a negatable cue ("no delays") turns it into mild praise, an intensifier ("so
late") makes it stronger.

Matching walks the message's tokens once with dictionary look-ups instead of running dozens
of regular expressions with long alternations, which keeps the scorer fast enough to sit in
front of every inbound message. The phrase syntax is documented in the TOML file.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

INTENSIFIER_FACTOR = 1.3  # "so late" counts a third more than "late"
NEGATED_FACTOR = -0.5  # "no delays": half the cue's weight, the other way

_STRIP = re.compile(r"@\w+|https?://\S+|&\w+;")
_TOKEN = re.compile(r"#?[a-z0-9]+(?:'[a-z]+)*|\$\d+|[?!]+|[.,;:]")
_CAPS_WORD = re.compile(r"\b[A-Z]{4,}\b")
_EXCLAIM = re.compile(r"!{2,}|\?{2,}|\?!|!\?")
_FILLERS = frozenset({"more", "any", "major", "real", "big", "been", "be", "further", "long"})

Spec = tuple[str, bool]  # (text, is_prefix)


@dataclass(frozen=True, slots=True)
class CueHit:
    """One group that matched; ``weight`` already includes negation and intensifiers."""

    name: str
    weight: float
    topic: str | None
    negated: bool = False
    intensified: bool = False


@dataclass(frozen=True, slots=True)
class Style:
    """Emphasis that raises the temperature of a message: caps, "!!!", emoji."""

    caps_words: int
    exclaim_runs: int
    negative_emoji: int
    positive_emoji: int


@dataclass(frozen=True, slots=True)
class _WordSet:
    """'website|site|app*': exact words and prefixes, tested against a message's tokens."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def parse(cls, words: str) -> _WordSet:
        specs = [_spec(w) for w in words.lower().replace("'", "").split("|") if w]
        return cls(frozenset(t for t, p in specs if not p), tuple(t for t, p in specs if p))

    def found(self, present: frozenset[str]) -> bool:
        if not self.exact.isdisjoint(present):
            return True
        return bool(self.prefixes) and any(t.startswith(self.prefixes) for t in present)


@dataclass(slots=True)
class _Group:
    name: str
    weight: float
    topic: str | None
    negatable: bool
    regex: re.Pattern[str] | None
    together: list[tuple[_WordSet, _WordSet]] = field(default_factory=list)
    # each pair: (any of these tokens, any of those tokens) anywhere in the message


def tokens_of(text: str) -> list[str]:
    """Lower-case word, number, hashtag and punctuation tokens; apostrophes dropped."""
    cleaned = _STRIP.sub(" ", text.lower().replace("’", "'"))
    return [t.replace("'", "") for t in _TOKEN.findall(cleaned)]


def _spec(token: str) -> Spec:
    return (token[:-1], True) if token.endswith("*") and len(token) > 1 else (token, False)


_PART = re.compile(r"\([^)]*\)|\S+")


def expand(phrase: str) -> list[tuple[Spec, ...]]:
    """'no (reply|an answer|) yet' -> every token sequence it stands for ('' = optional)."""
    options: list[list[list[str]]] = []
    for part in _PART.findall(phrase.lower().replace("'", "").replace("’", "")):
        alternatives = part[1:-1].split("|") if part.startswith("(") else [part]
        options.append([alt.split() for alt in alternatives])
    out = []
    for combo in itertools.product(*options):
        specs = tuple(_spec(token) for words in combo for token in words)
        if specs:
            out.append(specs)
    return out


def _fits(spec: Spec, token: str) -> bool:
    text, prefix = spec
    return token.startswith(text) if prefix else token == text


class CueLexicon:
    """Compiled cue groups and style word lists; load once, share between scorers."""

    def __init__(self, data: dict[str, Any], origin: str = "triage_cues.toml") -> None:
        self._groups: list[_Group] = []
        # phrase index: by their first two tokens when both are exact words, else by the first
        self._pairs: dict[tuple[str, str], list[tuple[int, tuple[Spec, ...]]]] = {}
        self._exact: dict[str, list[tuple[int, tuple[Spec, ...]]]] = {}
        self._prefix: dict[str, list[tuple[int, tuple[Spec, ...]]]] = {}
        for entry in data.get("cue", []):
            self._add_group(entry, origin)
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        style = data.get("style", {})
        self.intensifiers = frozenset(style.get("intensifiers", ()))
        self.negators = frozenset(n.replace("'", "") for n in style.get("negators", ()))
        self.negative_emoji = frozenset(style.get("negative_emoji", ()))
        self.positive_emoji = frozenset(style.get("positive_emoji", ()))

    @classmethod
    def load(cls, path: Path | None = None) -> CueLexicon:
        """Read the TOML lexicon: the packaged one unless ``path`` names another."""
        try:
            if path is None:
                raw = resources.files("responders").joinpath("data/triage_cues.toml").read_text()
            else:
                raw = path.read_text(encoding="utf-8")
            data = tomllib.loads(raw)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            where = path or "(packaged)"
            raise ConfigError(f"cannot read the triage cue lexicon {where}: {exc}") from exc
        return cls(data, str(path or "triage_cues.toml"))

    @property
    def group_names(self) -> list[str]:
        return [g.name for g in self._groups]

    def _add_group(self, entry: dict[str, Any], origin: str) -> None:
        name = str(entry.get("name", "?"))
        try:
            patterns = list(entry.get("patterns", ()))
            joined = "|".join(f"(?:{p})" for p in patterns)
            regex = re.compile(joined, re.IGNORECASE) if patterns else None
            group = _Group(
                name=name,
                weight=float(entry["weight"]),
                topic=entry.get("topic"),
                negatable=bool(entry.get("negatable", False)),
                regex=regex,
            )
            for left, right in entry.get("together", ()):
                group.together.append((_WordSet.parse(left), _WordSet.parse(right)))
            index = len(self._groups)
            for phrase in entry.get("words", ()):
                for specs in expand(str(phrase)):
                    self._index(index, specs)
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise ConfigError(f"{origin}: cue {name!r} is invalid: {exc}") from exc
        self._groups.append(group)

    def _index(self, group: int, specs: tuple[Spec, ...]) -> None:
        (first, first_prefix) = specs[0]
        if len(specs) > 1 and not first_prefix and not specs[1][1]:
            self._pairs.setdefault((first, specs[1][0]), []).append((group, specs))
        else:
            table = self._prefix if first_prefix else self._exact
            table.setdefault(first, []).append((group, specs))

    def match(self, text: str) -> list[CueHit]:
        """Every group that matches ``text``, once each, in lexicon order."""
        toks = tokens_of(text)
        present = frozenset(toks)
        found: dict[int, CueHit] = {}
        for i, tok in enumerate(toks):
            following = toks[i + 1] if i + 1 < len(toks) else ""
            for index, specs in self._candidates(tok, following):
                previous = found.get(index)
                if previous is not None and not previous.negated:
                    continue
                if all(
                    i + k < len(toks) and _fits(s, toks[i + k]) for k, s in enumerate(specs[1:], 1)
                ):
                    found[index] = self._hit(self._groups[index], toks, i)
        for index, group in enumerate(self._groups):
            if index not in found and self._structural(group, text, present):
                found[index] = CueHit(group.name, group.weight, group.topic)
        return [found[i] for i in sorted(found)]

    def _candidates(self, tok: str, following: str) -> Iterable[tuple[int, tuple[Spec, ...]]]:
        yield from self._pairs.get((tok, following), ())
        yield from self._exact.get(tok, ())
        for length in self._prefix_lengths:
            if length > len(tok):
                break
            yield from self._prefix.get(tok[:length], ())

    def _structural(self, group: _Group, text: str, present: frozenset[str]) -> bool:
        """Regular expressions on the raw text, and word pairs anywhere in the message."""
        if group.regex is not None and group.regex.search(text):
            return True
        return any(a.found(present) and b.found(present) for a, b in group.together)

    def _hit(self, group: _Group, toks: list[str], i: int) -> CueHit:
        before = toks[max(0, i - 2) : i]
        if group.negatable and self._negated(before):
            return CueHit(group.name, group.weight * NEGATED_FACTOR, None, negated=True)
        if before and before[-1] in self.intensifiers and group.weight > 0:
            return CueHit(group.name, group.weight * INTENSIFIER_FACTOR, group.topic, False, True)
        return CueHit(group.name, group.weight, group.topic)

    def _negated(self, before: list[str]) -> bool:
        """A negator right before the cue, or before one filler word ("no more delays")."""
        if before and before[-1] in self.negators:
            return True
        return len(before) == 2 and before[0] in self.negators and before[1] in _FILLERS

    def style(self, text: str) -> Style:
        """Caps words (4+ letters, so airport codes do not count), "!!"/"??" runs, emoji."""
        return Style(
            caps_words=len(_CAPS_WORD.findall(text)),
            exclaim_runs=len(_EXCLAIM.findall(text)),
            negative_emoji=sum(1 for ch in text if ch in self.negative_emoji),
            positive_emoji=sum(1 for ch in text if ch in self.positive_emoji),
        )
