"""`socialbot eval-triage` and `socialbot train-triage`: measure and improve the triage."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli.common import ConfigOption, console, errors, load, parse_since, run_async
from bot.config import Config, describe_error
from bot.errors import ConfigError
from responders.triage.evaluate import CLASSES, Evaluation, Figures, evaluate, read_labelled_csv
from responders.triage.settings import TriageSettings, build_scorer

PROGRESS_FROM = 500  # rows: below this the run is over before a bar is worth drawing
DEFAULT_MODEL = Path("triage-model.joblib")


def triage_settings(config: Config) -> TriageSettings:
    """The `[triage]` section, validated; errors name the file and the key."""
    try:
        return TriageSettings.model_validate(config.triage)
    except ValidationError as exc:
        raise ConfigError(describe_error(config.source, exc, prefix="triage.")) from None


@contextmanager
def progress_bar(total: int, out: Console) -> Iterator[Any]:
    """A progress callback: a rich bar on a terminal for big files, nothing otherwise."""
    if total < PROGRESS_FROM or not out.is_terminal:
        yield None
        return
    columns = (
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task("scoring", total=total)
        yield lambda n: bar.advance(task, n)


def figures_table(result: Evaluation) -> Table:
    triage, base = result.triage, result.baseline
    table = Table(title="complaint triage", title_justify="left")
    table.add_column("")
    table.add_column(f"triage ({triage.scorer_version})", justify="right")
    table.add_column(f"baseline ({base.scorer_version})", justify="right")
    rows = [
        ("complaint precision", f"{triage.precision:.3f}", f"{base.precision:.3f}"),
        ("complaint recall", f"{triage.recall:.3f}", f"{base.recall:.3f}"),
        ("complaint F1", f"{triage.f1:.3f}", f"{base.f1:.3f}"),
        ("3-class accuracy", f"{triage.accuracy:.3f}", f"{base.accuracy:.3f}"),
        ("messages / second", f"{triage.rate:,.0f}", f"{base.rate:,.0f}"),
        (
            "unsupported language",
            f"{triage.unsupported_language:,}",
            f"{base.unsupported_language:,}",
        ),
        ("messages", f"{triage.rows:,}", f"{base.rows:,}"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def confusion_table(figures: Figures, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("true \\ predicted")
    for predicted in CLASSES:
        table.add_column(predicted, justify="right")
    for true in CLASSES:
        table.add_row(true, *(f"{figures.confusion[true][p]:,}" for p in CLASSES))
    return table


def eval_triage(data: Path, as_json: bool, config_path: Path | None) -> None:
    config = load(config_path)
    scorer = build_scorer(triage_settings(config))
    rows = read_labelled_csv(data)
    with progress_bar(2 * len(rows), errors) as advance:
        result = evaluate(rows, scorer, config.routing, progress=advance)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    console.print(figures_table(result))
    console.print(confusion_table(result.triage, f"confusion: {result.triage.scorer_version}"))
    console.print(confusion_table(result.baseline, f"confusion: {result.baseline.scorer_version}"))


def _history(config: Config, from_csv: Path | None, since: str | None) -> list[tuple[str, bool]]:
    if from_csv is not None:
        return [(row.text, row.is_complaint) for row in read_labelled_csv(from_csv)]
    from bot.cli.common import with_database
    from storage.labels import labelled_history

    start = parse_since(since)
    return run_async(with_database(config, lambda db: labelled_history(db, start)))


def train_triage(
    from_csv: Path | None,
    out: Path | None,
    since: str | None,
    force: bool,
    as_json: bool,
    config_path: Path | None,
    embeddings: bool = False,
) -> None:
    from responders.triage.train import require_embeddings, train  # sklearn loads only here

    if embeddings:
        require_embeddings()  # before reading history: fail fast, with the install line
    config = load(config_path)
    settings = triage_settings(config)
    target = out or settings.model_path or DEFAULT_MODEL
    rows = _history(config, from_csv, since)
    model, cv = train(
        rows, current=build_scorer(settings), routing=config.routing, embeddings=embeddings
    )
    saved = cv.better or force
    if saved:
        model.save(target)
    if as_json:
        payload = {
            **cv.as_dict(),
            "version": model.version,
            "features": list(model.features),
            "saved": saved,
            "path": str(target),
        }
        typer.echo(json.dumps(payload))
        return
    table = Table(
        title=f"cross-validated on {cv.rows:,} labelled messages ({cv.positives:,} "
        f"complaints, {cv.folds} folds)",
        title_justify="left",
    )
    for column in ("", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if not column else "right")
    for name, prf in (
        (f"new {model.version}", cv.model),
        (f"current {cv.current_version}", cv.current),
    ):
        table.add_row(name, f"{prf.precision:.3f}", f"{prf.recall:.3f}", f"{prf.f1:.3f}")
    console.print(table)
    if saved:
        console.print(f"saved {model.version} to {target}" + ("" if cv.better else " (--force)"))
        if settings.scorer != "model" or settings.model_path != target:
            console.print(
                f'to use it: [triage] scorer = "model", model_path = "{target}"', markup=False
            )
    else:
        console.print("kept the current triage: the new model is not better")


def register(app: typer.Typer) -> None:
    @app.command("eval-triage")
    def _eval(
        data: Annotated[
            Path, typer.Argument(help="CSV with columns text,label (negative|neutral|positive).")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Measure the configured triage and the TextBlob baseline on labelled messages."""
        eval_triage(data, as_json, config)

    @app.command("train-triage")
    def _train(
        from_csv: Annotated[
            Path | None,
            typer.Option("--from-csv", help="Train on a CSV (text,label) instead of the database."),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Model file (default: [triage] model_path, else ./triage-model.joblib).",
            ),
        ] = None,
        since: Annotated[
            str | None, typer.Option("--since", help="Only history since (7d, 2026-01-01).")
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="Save even when not better.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        config: ConfigOption = None,
        embeddings: Annotated[
            bool,
            typer.Option(
                "--embeddings",
                help="Add sentence embeddings to the features (needs the 'embeddings' extra).",
            ),
        ] = False,
    ) -> None:
        """Train a model on labelled history; save it only when it beats the current triage."""
        train_triage(from_csv, out, since, force, as_json, config, embeddings)


__all__: Sequence[str] = ("register",)
