"""entry points and pause reasons

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pause_reason = op.create_table(
        "pause_reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pause_reason")),
        sa.UniqueConstraint("label", name=op.f("uq_pause_reason_label")),
    )
    op.create_table(
        "entry_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["room.id"], name=op.f("fk_entry_point_room_id_room")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_point")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_entry_point_kind")),
    )
    # The usual reasons; supervisors change the list in the console.
    op.bulk_insert(
        pause_reason,
        [
            {"label": label, "active": True}
            for label in ("Almoço", "Intervalo", "Reunião", "Treinamento", "Outro")
        ],
    )


def downgrade() -> None:
    op.drop_table("entry_point")
    op.drop_table("pause_reason")
