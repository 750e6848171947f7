"""Small SQL pieces the reports share, for SQLite (>= 3.30) and PostgreSQL.

Periods and buckets are bounds computed in Python (storage/report_buckets.py) and passed as
parameters, so the same statements run everywhere and the indexes serve plain range
conditions. The one dialect-specific piece is turning a timestamp into epoch seconds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, SQLColumnExpression, extract, func
from sqlalchemy.sql.elements import ColumnElement

from bot.errors import UserInputError

SENTIMENTS = ("negative", "neutral", "positive")


def count_where(condition: SQLColumnExpression[bool]) -> ColumnElement[Any]:
    """COUNT(*) FILTER (WHERE ...): cheaper per row than SUM(CASE ...) on both databases."""
    return func.count().filter(condition)


def effective_label(
    label: SQLColumnExpression[Any], agent_label: SQLColumnExpression[Any]
) -> ColumnElement[Any]:
    """An agent's correction wins over the model's label."""
    return func.coalesce(agent_label, label)


def as_float(value: object) -> float | None:
    """AVG/SUM come back as Decimal on PostgreSQL and float on SQLite: one type for callers."""
    return None if value is None else float(value)  # type: ignore[arg-type]


def as_int(value: object) -> int:
    return 0 if value is None else int(value)  # type: ignore[call-overload]


def epoch_seconds(column: SQLColumnExpression[Any], dialect: str) -> ColumnElement[Any]:
    """Seconds since 1970 (UTC) as a float, NULL stays NULL.

    Durations of tens of thousands of tickets are read as numbers: parsing as many datetimes
    costs more than the rest of the response metrics. SQLite keeps our UTC text
    'YYYY-MM-DD HH:MM:SS.ffffff' (julianday reads it; its precision is about 10 µs);
    PostgreSQL's timestamptz has an exact epoch.
    """
    if dialect == "sqlite":
        return (func.julianday(column, type_=Float) - 2440587.5) * 86400.0
    if dialect == "postgresql":
        return extract("epoch", column)
    raise UserInputError(f"reports support SQLite and PostgreSQL, not {dialect}")
