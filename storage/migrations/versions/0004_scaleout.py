"""scale-out: indexes for the batched worker, a lease on replies being sent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

The worker looks up, per batch, the open tickets of the batch's customers and the recent
acknowledgements in the batch's threads; without these indexes both were table scans,
which made processing slower the more history there was (quadratic over a long run).

``outbox.lease_until``: a reply in ``sending`` belongs to the sender that claimed it until
then. Another process starting up only reconciles replies whose lease ran out, so two
worker processes never both post the same reply.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_customer", ["customer_id", "status"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outbox_thread", ["channel", "thread", "purpose"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_thread")
        batch_op.drop_column("lease_until")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_customer")
