"""closing sent at

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closing_sent_at", sa.DateTime(timezone=True), nullable=True))
    # Attendances that ended before this column existed were closed already.
    op.execute("UPDATE attendance SET closing_sent_at = ended_at WHERE ended_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_column("closing_sent_at")
