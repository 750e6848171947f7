"""Measure a triage on labelled messages, next to the TextBlob baseline, in one run.

Labels are people's: ``negative`` is a complaint that needs a human, ``neutral`` and
``positive`` are not. The triage is a scorer followed by :func:`responders.routing.classify`
(what the daemon does); its label maps to three classes for accuracy: complaint ->
negative, praise -> positive, question and other -> neutral.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.errors import UserInputError
from responders.routing import Label, RoutingSettings, classify
from responders.scoring import Scorer, TextBlobScorer

CLASSES = ("negative", "neutral", "positive")
_BY_LABEL = {Label.COMPLAINT: "negative", Label.PRAISE: "positive"}


@dataclass(frozen=True, slots=True)
class LabelledRow:
    text: str
    label: str  # one of CLASSES

    @property
    def is_complaint(self) -> bool:
        return self.label == "negative"


@dataclass(frozen=True)
class Figures:
    """Complaint precision/recall/F1, 3-class accuracy, confusion (true -> predicted), speed."""

    scorer_version: str
    rows: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    rate: float  # messages per second, scoring only
    confusion: dict[str, dict[str, int]]
    unsupported_language: int  # messages the scorer declined to judge

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    triage: Figures
    baseline: Figures

    def as_dict(self) -> dict[str, Any]:
        """The `eval-triage --json` object: the triage's keys plus ``baseline``."""
        return {**self.triage.as_dict(), "baseline": self.baseline.as_dict()}


def predicted_class(label: Label) -> str:
    return _BY_LABEL.get(label, "neutral")


def read_labelled_csv(path: Path) -> list[LabelledRow]:
    """Rows of a CSV with ``text`` and ``label`` columns; errors say which line is wrong."""
    if not path.is_file():
        raise UserInputError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"text", "label"} - set(reader.fieldnames or ())
            if missing:
                found = ", ".join(reader.fieldnames or ()) or "none"
                raise UserInputError(
                    f"{path}: missing column(s) {', '.join(sorted(missing))} (found: {found})"
                )
            return _rows(path, reader)
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise UserInputError(f"{path}: not a readable CSV file ({exc})") from exc


def _rows(path: Path, reader: csv.DictReader[str]) -> list[LabelledRow]:
    rows: list[LabelledRow] = []
    bad: list[str] = []
    for row in reader:
        label = (row.get("label") or "").strip().lower()
        if label not in CLASSES:
            bad.append(f"line {reader.line_num}: {label or '(empty)'!r}")
            continue
        rows.append(LabelledRow(text=row.get("text") or "", label=label))
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise UserInputError(f"{path}: unknown label(s), expected {'|'.join(CLASSES)}: {shown}")
    if not rows:
        raise UserInputError(f"{path}: no labelled rows")
    return rows


def measure(
    rows: Sequence[LabelledRow],
    scorer: Scorer,
    routing: RoutingSettings,
    progress: Callable[[int], None] | None = None,
) -> Figures:
    """Score every row one at a time, as the daemon does, and count."""
    confusion = {true: dict.fromkeys(CLASSES, 0) for true in CLASSES}
    unsupported = 0
    elapsed = 0.0
    if rows:
        scorer.score(rows[0].text)  # untimed: the first call may load lazy resources
    for row in rows:
        started = time.perf_counter()
        scores = scorer.score(row.text)
        elapsed += time.perf_counter() - started
        label, _reason = classify(scores, routing)
        confusion[row.label][predicted_class(label)] += 1
        unsupported += not scores.language_supported
        if progress is not None:
            progress(1)
    return _figures(scorer.version, len(rows), confusion, elapsed, unsupported)


def _figures(
    version: str, n: int, confusion: dict[str, dict[str, int]], elapsed: float, unsupported: int
) -> Figures:
    tp = confusion["negative"]["negative"]
    predicted = sum(confusion[true]["negative"] for true in CLASSES)
    actual = sum(confusion["negative"].values())
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    correct = sum(confusion[c][c] for c in CLASSES)
    return Figures(
        scorer_version=version,
        rows=n,
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        accuracy=round(correct / n, 4) if n else 0.0,
        rate=round(n / elapsed, 1) if elapsed > 0 else 0.0,
        confusion=confusion,
        unsupported_language=unsupported,
    )


def evaluate(
    rows: Sequence[LabelledRow],
    scorer: Scorer,
    routing: RoutingSettings | None = None,
    baseline: Scorer | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """The configured triage and the TextBlob-only baseline on the same rows."""
    routing = routing or RoutingSettings()
    triage = measure(rows, scorer, routing, progress)
    base = measure(rows, baseline or TextBlobScorer(), routing, progress)
    return Evaluation(triage=triage, baseline=base)
