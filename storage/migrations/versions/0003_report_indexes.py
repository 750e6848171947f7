"""report indexes: ranges per channel, kind and direction, complaints by topic, ticket clocks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The reports (storage/reports.py) read a period of interactions as one range per (channel,
kind, direction, day) and the complaints as one range per topic; with every column they read
inside the index, SQLite and PostgreSQL answer from the index alone, without touching the
wide rows that hold the texts, and without sorting for a GROUP BY.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANGE = ["channel", "kind", "direction", "created_at", "status", "polarity"]
COMPLAINTS = ["label", "topic", "created_at", "direction", "agent_label", "polarity", "channel"]
RELABELLED = ["agent_label", "created_at", "direction", "label", "topic", "polarity", "channel"]
# The period's tickets by opening time with every timestamp the response metrics read.
TICKETS = [
    "opened_at",
    "channel",
    "acknowledged_at",
    "first_response_at",
    "first_response_due_at",
    "resolved_at",
    "csat_score",
    "csat_asked_at",
    "topic",
]


def upgrade() -> None:
    """Upgrade schema."""
    relabelled = sa.text("agent_label IS NOT NULL")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index("ix_interactions_report_range", RANGE, unique=False)
        batch_op.create_index("ix_interactions_report_complaints", COMPLAINTS, unique=False)
        batch_op.create_index(
            "ix_interactions_report_relabelled",
            RELABELLED,
            unique=False,
            sqlite_where=relabelled,
            postgresql_where=relabelled,
        )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_report", TICKETS, unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_report")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_report_relabelled")
        batch_op.drop_index("ix_interactions_report_complaints")
        batch_op.drop_index("ix_interactions_report_range")
