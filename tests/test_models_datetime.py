"""UTCDateTime on SQLite writes and reads exactly the text SQLAlchemy's DATETIME does.

Its one-call processors replace SQLAlchemy's chained ones for speed; stored text is compared
as text in SQL (``updated_at >= :since``), so the format must not drift by a character.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import UTCDateTime

DIALECT = sqlite.dialect()
REFERENCE_BIND = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
REFERENCE_RESULT = DateTime().dialect_impl(DIALECT).result_processor(DIALECT, None)
BIND = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
RESULT = UTCDateTime().dialect_impl(DIALECT).result_processor(DIALECT, None)

MOMENTS = [
    datetime(2026, 12, 7, 5, 9, 44, 247398, tzinfo=UTC),
    datetime(2026, 12, 7, 5, 9, 44, tzinfo=UTC),  # no microseconds: still written out
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),  # converted to UTC
    datetime(2026, 1, 1, 0, 0, 1, 5, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_written_as_sqlalchemy_writes_the_utc_time(moment: datetime) -> None:
    assert BIND is not None and REFERENCE_BIND is not None
    assert BIND(moment) == REFERENCE_BIND(moment.astimezone(UTC))


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_read_back_aware_and_equal(moment: datetime) -> None:
    assert BIND is not None and RESULT is not None and REFERENCE_RESULT is not None
    stored = BIND(moment)
    read = RESULT(stored)
    assert read == moment and read.tzinfo is UTC
    assert read == REFERENCE_RESULT(stored).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2026-12-07 05:09:44", "2026-12-07 05:09:44.5", "2026-12-07"],
)
def test_reads_the_shorter_forms_sqlite_functions_write(text: str) -> None:
    assert RESULT is not None and REFERENCE_RESULT is not None
    assert RESULT(text) == REFERENCE_RESULT(text).replace(tzinfo=UTC)


def test_text_with_its_own_offset_is_read_as_that_instant() -> None:
    assert RESULT is not None
    assert RESULT("2026-12-07 05:09:44+02:00") == datetime(2026, 12, 7, 3, 9, 44, tzinfo=UTC)


def test_none_both_ways_and_naive_refused() -> None:
    assert BIND is not None and RESULT is not None
    assert BIND(None) is None and RESULT(None) is None
    with pytest.raises(ValueError, match="naive"):
        BIND(datetime(2026, 12, 7, 5, 9))


def test_other_databases_keep_sqlalchemys_processing() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    bind = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    moment = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    converted = (
        bind(moment) if bind is not None else UTCDateTime().process_bind_param(moment, dialect)
    )
    assert converted == moment and converted.tzinfo is UTC  # type: ignore[union-attr]
