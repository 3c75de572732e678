"""WhatsApp templates outside the 24-hour window (a message's template and
the channel's refusal code); pending demands with a due date (Decreto
11.034 art. 13)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("delivery_error", sa.String(length=32), nullable=True))
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("pending_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("concluded_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("conclusion", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_attendance_pending_until"), ["pending_until"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_attendance_concluded_by_id_operator"),
            "operator",
            ["concluded_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_attendance_concluded_by_id_operator"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_attendance_pending_until"))
        batch_op.drop_column("conclusion")
        batch_op.drop_column("concluded_by_id")
        batch_op.drop_column("concluded_at")
        batch_op.drop_column("pending_reason")
        batch_op.drop_column("pending_until")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("delivery_error")
        batch_op.drop_column("template")
