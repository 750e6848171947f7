"""agent desk: staff-channel cards and notices, paused SLA clock, follow-ups, CSAT state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ticket_columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("staff_message_id", sa.String(length=64), nullable=True),
        sa.Column("staff_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_remaining_seconds", sa.Float(), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("csat_status", sa.String(length=16), nullable=True),
        sa.Column("csat_note", sa.String(length=255), nullable=True),
        sa.Column("csat_answered_at", sa.DateTime(timezone=True), nullable=True),
    )


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for column in _ticket_columns():
            batch_op.add_column(column)
    op.create_table(
        "staff_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mention", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "kind", "dedupe_key", name="uq_staff_notice"),
    )
    with op.batch_alter_table("staff_notices", schema=None) as batch_op:
        batch_op.create_index("ix_staff_notices_status", ["status"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("staff_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_notices_status")
    op.drop_table("staff_notices")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for column in reversed(_ticket_columns()):
            batch_op.drop_column(column.name)
