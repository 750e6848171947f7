"""report indexes: ranges per channel and kind, complaints by label, tickets by opening

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The reports (storage/reports.py) read a period of interactions as one range per (channel,
kind, day) and the complaints by label; with every column they read inside the index, SQLite
and PostgreSQL answer from the index alone, without touching the wide rows holding texts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANGE = ["channel", "kind", "created_at", "direction", "status", "polarity"]
COMPLAINTS = ["label", "created_at", "direction", "agent_label", "topic", "polarity", "channel"]
RELABELLED = ["agent_label", "created_at", "direction", "label", "topic", "polarity", "channel"]


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
        batch_op.create_index("ix_tickets_opened", ["opened_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_opened")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_report_relabelled")
        batch_op.drop_index("ix_interactions_report_complaints")
        batch_op.drop_index("ix_interactions_report_range")
