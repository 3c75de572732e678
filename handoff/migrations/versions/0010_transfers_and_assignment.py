"""operator holds of attendances (transfers), automatic assignment per room

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attendance_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attendance_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("transfer_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attendance_id"],
            ["attendance.id"],
            name=op.f("fk_attendance_hold_attendance_id_attendance"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_attendance_hold_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["room.id"], name=op.f("fk_attendance_hold_room_id_room")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_hold")),
    )
    with op.batch_alter_table("attendance_hold", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendance_hold_attendance_id"), ["attendance_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attendance_hold_operator_id"), ["operator_id"], unique=False
        )
    # The attendances active when this runs: their operator's hold so far.
    op.execute(
        "INSERT INTO attendance_hold (attendance_id, operator_id, room_id, started_at,"
        " first_response_at) SELECT id, operator_id, room_id, taken_at, first_response_at"
        " FROM attendance WHERE status = 'active' AND operator_id IS NOT NULL"
        " AND taken_at IS NOT NULL"
    )
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assignment", sa.String(length=16), server_default="manual", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("assignment")
    with op.batch_alter_table("attendance_hold", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_hold_operator_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_hold_attendance_id"))
    op.drop_table("attendance_hold")
