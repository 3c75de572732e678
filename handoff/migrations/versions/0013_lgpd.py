"""audit log entries about a customer; optional pre-chat per room;
attendances anonymised by the retention job

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "prechat_optional", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_log_customer_id"), ["customer_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_log_customer_id_customer"), "customer", ["customer_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_log_customer_id_customer"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_audit_log_customer_id"))
        batch_op.drop_column("customer_id")
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("prechat_optional")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
