"""record requests: the record of a demand on request (Decreto 11.034/2022
art. 12 §1-2)

Revision ID: 0018
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attendance_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("means", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attendance_id"],
            ["attendance.id"],
            name=op.f("fk_record_request_attendance_id_attendance"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_record_request_operator_id_operator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_request")),
    )
    with op.batch_alter_table("record_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_request_attendance_id"), ["attendance_id"], unique=False
        )
        batch_op.create_index("ix_record_request_status_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_request", schema=None) as batch_op:
        batch_op.drop_index("ix_record_request_status_due")
        batch_op.drop_index(batch_op.f("ix_record_request_attendance_id"))
    op.drop_table("record_request")
