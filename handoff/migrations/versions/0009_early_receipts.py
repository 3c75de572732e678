"""delivery statuses that arrive before the channel's message id

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "early_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_message_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_receipt")),
    )
    with op.batch_alter_table("early_receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_early_receipt_channel_message_id"), ["channel_message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_early_receipt_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("early_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_early_receipt_received_at"))
        batch_op.drop_index(batch_op.f("ix_early_receipt_channel_message_id"))
    op.drop_table("early_receipt")
