"""WhatsApp as Brazilians use it: a customer message's attachment; the
business-scoped user id and username of a citizen (Meta, 2026)

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_user_id", sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column("contact_username", sa.String(length=64), nullable=True))
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attachment", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("attachment")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_column("contact_username")
        batch_op.drop_column("contact_user_id")
