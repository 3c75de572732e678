"""opening hours per room, the holidays added in Supervisão, attendances
queued outside hours

Revision ID: 0017
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opening_hours", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("outside_hours", sa.String(length=16), nullable=True))
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "queued_outside_hours",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
    op.create_table(
        "holiday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday")),
        sa.UniqueConstraint("day", name=op.f("uq_holiday_day")),
    )


def downgrade() -> None:
    op.drop_table("holiday")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_column("queued_outside_hours")
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("outside_hours")
        batch_op.drop_column("opening_hours")
