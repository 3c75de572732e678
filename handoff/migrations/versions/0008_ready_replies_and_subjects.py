"""ready replies, closing subject and comment

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ready_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=True),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["room.id"], name=op.f("fk_ready_reply_room_id_room")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ready_reply")),
        sa.UniqueConstraint("key", name=op.f("uq_ready_reply_key")),
    )
    with op.batch_alter_table("ready_reply", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ready_reply_room_id"), ["room_id"], unique=False)
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("closing_comment", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_attendance_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_subject"))
        batch_op.drop_column("closing_comment")
        batch_op.drop_column("subject")
    with op.batch_alter_table("ready_reply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ready_reply_room_id"))
    op.drop_table("ready_reply")
