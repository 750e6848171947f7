"""TextBlob's pattern sentiment (polarity, subjectivity) without importing TextBlob.

``import textblob`` imports NLTK, which imports scikit-learn and SciPy: about 130 MB of
memory in every daemon process, for a sentiment that is plain Python — ``textblob/_text.py``
(standard library only) reading ``textblob/en/en-sentiment.xml``. This module finds the
installed package without running its ``__init__`` (:func:`importlib.util.find_spec`),
loads ``_text.py`` under a private module name and builds the analyzer exactly as
``textblob/en/__init__.py`` does, so :func:`pattern_sentiment` returns the very numbers of
``TextBlob(text).sentiment``. The tokenizer is ``Parser.find_tokens``, which never reads
the tagger's lexicon, so only the sentiment XML is loaded (about 12 MB, once per process,
on the first call; thread-safe; child processes load their own).

Checked against textblob 0.18.0 to 0.20.1 (``en/__init__.py`` and the XML are identical
there; ``_text.py`` differs only in code the sentiment does not run). With another version
or layout this module does not guess: it logs a warning naming the version and falls back to
``TextBlob`` itself. The numbers then stay right and only the memory saving is lost — a
daemon that refused to start after a dependency upgrade would be the worse failure, and the
import test in tests/test_pattern_sentiment.py notices the fallback (NLTK gets loaded).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

VERIFIED = ((0, 18), (0, 21))  # textblob versions checked: >= first, < second
_MODULE_NAME = "responders._textblob_text"  # private: never registered in sys.modules

Analyzer = Callable[[str], tuple[float, float]]


@dataclass(frozen=True, slots=True)
class _Loaded:
    analyze: Analyzer
    standalone: bool  # False: TextBlob itself was imported (the fallback)


_lock = threading.Lock()
_loaded: _Loaded | None = None  # one per process, like TextBlob's own module-level analyzer


class LayoutError(Exception):
    """The installed textblob is not the one this module knows how to read."""


def pattern_sentiment(text: str) -> tuple[float, float]:
    """(polarity -1..1, subjectivity 0..1), equal to ``TextBlob(text).sentiment``."""
    return (_loaded or _load()).analyze(text)


def is_standalone() -> bool:
    """False when the numbers come from an imported TextBlob (for tests and diagnostics)."""
    return (_loaded or _load()).standalone


def _load() -> _Loaded:
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _build()
        return _loaded


def _build() -> _Loaded:
    version = _installed_version()
    try:
        return _Loaded(_standalone(version), standalone=True)
    except LayoutError as exc:
        log.warning(
            "textblob %s: %s; importing TextBlob instead (same sentiment, ~130 MB more memory)",
            version,
            exc,
        )
    return _Loaded(_fallback(), standalone=False)


def _installed_version() -> str:
    try:
        return metadata.version("textblob")
    except metadata.PackageNotFoundError:
        return "(no distribution metadata)"


def _release(version: str) -> tuple[int, ...]:
    """(0, 18, 0) from "0.18.0.post0"; () when the version does not start with numbers."""
    parts: list[int] = []
    for part in version.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def _standalone(version: str) -> Analyzer:
    low, high = VERIFIED
    if not low <= _release(version) < high:
        raise LayoutError(f"only versions >= {low} and < {high} were checked")
    spec = importlib.util.find_spec("textblob")
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        raise LayoutError("the textblob package is not installed")
    package = Path(next(iter(locations)))
    xml = package / "en" / "en-sentiment.xml"
    text = _load_text_module(package / "_text.py")
    for name in ("Sentiment", "Parser", "find_tokens"):
        if not hasattr(text, name):
            raise LayoutError(f"textblob/_text.py has no {name}")
    if not xml.is_file():
        raise LayoutError(f"{xml} is missing")
    return _english(text, xml)


def _load_text_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise LayoutError(f"{path} is missing")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # e.g. it now imports more than the standard library
        raise LayoutError(f"{path} cannot be loaded alone: {exc}") from exc
    return module


def _english(text: ModuleType, xml: Path) -> Analyzer:
    """The analyzer of ``textblob/en/__init__.py``: its ``Sentiment(...)`` arguments, its
    ``Parser(...)`` tokenizer and its ``Sentiment.load`` override (the "-ly" adverbs)."""
    parser = text.Parser(lexicon={}, default=("NN", "NNP", "CD"), language="en")
    sentiment: Any = text.Sentiment(
        path=str(xml),
        synset="wordnet_id",
        negations=("no", "not", "n't", "never"),
        modifiers=("RB",),
        modifier=lambda w: w.endswith("ly"),
        tokenizer=parser.find_tokens,
        language="en",
    )
    sentiment.load()
    if not dict.__len__(sentiment):
        raise LayoutError(f"{xml} holds no words")
    _add_ly_adverbs(sentiment)

    def analyze(s: str) -> tuple[float, float]:
        polarity, subjectivity = sentiment(s)
        return float(polarity), float(subjectivity)

    return analyze


def _add_ly_adverbs(sentiment: Any) -> None:
    """What ``textblob.en.Sentiment.load`` adds: "terrible" -> adverb "terribly"."""
    for w, pos in list(dict.items(sentiment)):
        if "JJ" in pos:
            if w.endswith("y"):
                w = w[:-1] + "i"
            if w.endswith("le"):
                w = w[:-2]
            p, s, i = pos["JJ"]
            sentiment.annotate(w + "ly", "RB", p, s, i)


def _fallback() -> Analyzer:
    from textblob import TextBlob

    def analyze(s: str) -> tuple[float, float]:
        polarity, subjectivity = TextBlob(s).sentiment
        return float(polarity), float(subjectivity)

    return analyze
